# Copyright 2026 The seld_jax Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

r"""Pre-extracts visual embeddings: video frames -> an embedding store.

  python -m seld_jax.extract_visual --config C --out PATH \
      [--split S ...] [--batch N] [--weights FILE] [--dtype float16] \
      [--overwrite]

Builds the visual front end the config names
(`config.model_kwargs.visual_frontend`, `seld_jax.models.visual`),
optionally loads published weights into its encoder (`--weights`: a
torchvision ResNet-50 `state_dict` for 'resnet50', a pytorch-i3d checkpoint
for 'i3d'; without it the front end keeps its seeded initialisation, recorded
as such), and writes, for every recording of the splits (default: the
config's train, eval and test splits), one row per label frame of the
decoded video frames (the frames `visual='frames'` batches) through the
front end in inference mode, in chunks of `--batch` frames under one jit
compilation. The store layout, its meta.json and the checks the input
pipeline makes are in `seld_jax.input_pipeline` ('Visual embedding store');
train with `config.visual='embeddings'` and `config.visual_embeddings=PATH`.

Files are written atomically, meta.json before any row file and again
after each recording, so an interrupted command leaves a valid store; run
the same command again to finish it (recordings already listed are kept).
Extracting another split into the same store adds to it when the front end,
weights and dtype are the same; anything else is an error unless
`--overwrite`. The command runs in one process, on its local devices.

Size: one row of D values per label frame; float16 at 10 label frames/s is
D * 72 kB per hour of video (the DCASE 7x7 map, D = 49: 3.5 MB/h; a
2048-channel average: 147 MB/h). meta.json records the measured
`bytes_per_hour`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import hashlib
import os
import time
from typing import Any

from absl import app
from absl import flags
from absl import logging
from flax import nnx
from ml_collections import config_flags
import numpy as np

from seld_jax import datasets
from seld_jax import input_pipeline
from seld_jax.models import visual as visual_lib

DTYPES = ('float16', 'float32')
# The header fields two extractions into one store must share.
HEADER_KEYS = (
    'format',
    'version',
    'dataset',
    'label_rate',
    'frame_shape',
    'frontend',
    'weights',
    'init_seed',
    'shape',
    'dtype',
    'batch_size',
)


def sha256(path: str | os.PathLike) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def build_frontend(
    frontend: Mapping[str, Any],
    *,
    seed: int,
    weights: str | os.PathLike | None = None,
) -> visual_lib.VisualFrontend:
  """The front end `frontend` (name, pooling, kwargs), weights loaded.

  Args:
    frontend: `config.model_kwargs.visual_frontend` as a mapping.
    seed: initialisation seed (what the rows depend on without weights).
    weights: a torchvision ResNet-50 `state_dict` ('resnet50') or a
      pytorch-i3d checkpoint ('i3d'), loaded into the encoder.

  Returns:
    The front end.
  """
  kwargs = dict(frontend)
  if 'name' not in kwargs:
    raise ValueError(f'visual_frontend needs a name, got {kwargs}.')
  name = kwargs.pop('name')
  module = visual_lib.create_frontend(name, rngs=nnx.Rngs(seed), **kwargs)
  if weights is not None:
    # Imported here: the importers are only needed with published weights.
    if name == 'resnet50':
      from seld_jax.convert import torch_resnet  # pylint: disable=g-import-not-at-top

      torch_resnet.load_into(module.encoder, os.fspath(weights))
    elif name == 'i3d':
      from seld_jax.convert import torch_i3d  # pylint: disable=g-import-not-at-top

      torch_i3d.load_into(module.encoder, os.fspath(weights))
    else:
      raise ValueError(
          f'No weights importer for the {name!r} front end (resnet50: '
          'torchvision ResNet-50 state_dict; i3d: pytorch-i3d checkpoint).'
      )
  return module


def embed_recording(
    frontend: visual_lib.VisualFrontend,
    read_frames: Callable[[int, int], np.ndarray],
    num_frames: int,
    *,
    batch_size: int,
    dtype: str = 'float16',
) -> np.ndarray:
  """One recording's rows [num_frames, D] in `dtype`.

  Frames are read and embedded `batch_size` at a time (the last chunk is
  zero-padded to the same size, so one compilation serves every chunk).

  Args:
    frontend: the front end.
    read_frames: (start, count) -> uint8 [count, H, W, 3] frames, zero after
      the end of the video.
    num_frames: label frames of the recording.
    batch_size: frames per chunk.
    dtype: the stored dtype.

  Returns:
    [num_frames, D] rows.
  """
  parts = []
  for start in range(0, num_frames, batch_size):
    frames = read_frames(start, batch_size)
    rows = visual_lib.embed_frames(frontend, frames, batch_size=batch_size)
    parts.append(rows[: min(batch_size, num_frames - start)])
  return np.concatenate(parts).astype(dtype)


def _header(config, shard, frontend, weights, dtype, frontend_config, batch):
  video_shape = shard.video_shape
  dim = frontend.output_dim(*video_shape[:2])
  return {
      'format': input_pipeline.STORE_FORMAT,
      'version': input_pipeline.STORE_VERSION,
      'dataset': config.dataset,
      'label_rate': float(shard.label_rate),
      'frame_shape': list(video_shape),
      'frontend': frontend_config,
      'weights': (
          None
          if weights is None
          else {
              'file': os.path.abspath(os.fspath(weights)),
              'sha256': sha256(weights),
          }
      ),
      # The rows depend on the initialisation only without weights.
      'init_seed': int(config.get('seed', 0)) if weights is None else None,
      'shape': [int(dim)],
      'dtype': dtype,
      # Frames per chunk: the rows of a temporal encoder (I3D) depend on it.
      'batch_size': int(batch),
  }


def _same(key: str, value: Any) -> Any:
  """What must agree: the weights by content (the file may have moved)."""
  if key == 'weights' and value:
    return value.get('sha256')
  return value


def _existing(out, header, overwrite: bool) -> dict[str, int]:
  """The recordings of a compatible store at `out` (none if overwritten)."""
  path = os.path.join(os.fspath(out), input_pipeline.STORE_META)
  if overwrite or not os.path.exists(path):
    return {}
  meta = input_pipeline.read_store_meta(out)
  differ = [
      k for k in HEADER_KEYS if _same(k, meta.get(k)) != _same(k, header[k])
  ]
  if differ:
    details = '; '.join(
        f'{k}: {meta.get(k)!r} there, {header[k]!r} now' for k in differ
    )
    raise input_pipeline.VisualStoreError(
        f'{path} holds another extraction ({details}); use another --out or '
        '--overwrite.'
    )
  return {k: int(v) for k, v in meta.get('recordings', {}).items()}


def _complete(out, recording, header) -> bool:
  """Whether the recording's row file is there, readable, of its shape."""
  try:
    rows = np.load(
        input_pipeline.store_file(out, recording.id),
        mmap_mode='r',
        allow_pickle=False,
    )
  except (OSError, ValueError, EOFError):
    return False
  want = (recording.num_frames, *header['shape'])
  return rows.shape == want and rows.dtype == np.dtype(header['dtype'])


def _meta(header, recordings: Mapping[str, int], out) -> dict[str, Any]:
  """The full meta.json: header, recordings, and the measured size."""
  size = 0
  for rid in recordings:
    size += os.path.getsize(input_pipeline.store_file(out, rid))
  seconds = sum(recordings.values()) / header['label_rate']
  return header | {
      'recordings': dict(sorted(recordings.items())),
      'num_recordings': len(recordings),
      'seconds': seconds,
      'bytes': size,
      'bytes_per_hour': size / seconds * 3600.0 if seconds else 0.0,
  }


def extract(
    config,
    out: str | os.PathLike,
    *,
    splits: Sequence[str] | None = None,
    batch_size: int = 64,
    weights: str | os.PathLike | None = None,
    dtype: str = 'float16',
    overwrite: bool = False,
) -> dict[str, Any]:
  """Writes (or completes) the embedding store of `config` at `out`.

  Args:
    config: the run config (dataset, data_dir, splits, seed and
      `model_kwargs.visual_frontend`).
    out: the store folder.
    splits: splits to extract (default: train, eval and test splits).
    batch_size: frames per jitted chunk (a multiple of 8 for 'i3d').
    weights: encoder weights (see `build_frontend`).
    dtype: 'float16' or 'float32'.
    overwrite: replace a store made with another front end, weights or
      dtype, and re-extract listed recordings.

  Returns:
    The written meta.json contents.
  """
  if dtype not in DTYPES:
    raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}.')
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  frontend_config = input_pipeline.visual_frontend_config(config)
  if not frontend_config:
    raise ValueError(
        'The config names no visual front end: set '
        'config.model_kwargs.visual_frontend = dict(name=..., pooling=...).'
    )
  if splits is None:
    splits = [
        config.get(k)
        for k in ('train_split', 'eval_split', 'test_split')
        if config.get(k)
    ]
  splits = list(dict.fromkeys(splits))
  datasets.ensure_built(config)
  shards = {
      split: input_pipeline.open_shard(
          config.dataset,
          split,
          config.get('data_dir'),
          process_index=0,
          process_count=1,
      )
      for split in splits
  }
  first = shards[splits[0]]
  if not first.has_video:
    raise ValueError(
        f'{config.dataset} has no video to embed (use a video config of the '
        "dataset, e.g. 'starss23/foa_video')."
    )
  frontend = build_frontend(
      frontend_config, seed=int(config.get('seed', 0)), weights=weights
  )
  header = _header(
      config, first, frontend, weights, dtype, frontend_config, batch_size
  )
  recordings = _existing(out, header, overwrite)
  # meta.json first: every row file in the folder is then this front end's.
  input_pipeline.write_store_meta(out, _meta(header, recordings, out))
  t0, done = time.perf_counter(), 0
  for split, shard in shards.items():
    if shard.video_shape != first.video_shape:
      raise ValueError(
          f'{config.dataset}[{split}] frames are {shard.video_shape}, '
          f'{splits[0]} frames {first.video_shape}.'
      )
    for r in shard.recordings:
      if recordings.get(r.id) == r.num_frames and _complete(out, r, header):
        continue
      encoded = shard.source[r.index]['video']

      def read(start, count, encoded=encoded):
        return input_pipeline.video_frames(encoded, start, count)

      rows = embed_recording(
          frontend, read, r.num_frames, batch_size=batch_size, dtype=dtype
      )
      input_pipeline.write_store_rows(out, r.id, rows)
      recordings[r.id] = r.num_frames
      input_pipeline.write_store_meta(out, _meta(header, recordings, out))
      done += r.num_frames
      logging.info('%s[%s] %s: %s', config.dataset, split, r.id, rows.shape)
  meta = _meta(header, recordings, out)
  input_pipeline.write_store_meta(out, meta)
  elapsed = time.perf_counter() - t0
  logging.info(
      'Embedded %d frames in %.1f s (%.0f frames/s); the store holds %d '
      'recordings, %.1f h of video, %.2f MB per hour.',
      done,
      elapsed,
      done / max(elapsed, 1e-9),
      len(recordings),
      meta['seconds'] / 3600.0,
      meta['bytes_per_hour'] / 1e6,
  )
  return meta


# Command line
# -----------------------------------------------------------------------------


def _define_flags():
  config_flags.DEFINE_config_file(
      'config', None, 'Training configuration file.', lock_config=True
  )
  flags.DEFINE_string('out', None, 'The embedding store folder.')
  flags.DEFINE_multi_string(
      'split', None, 'Split(s) to extract (default: train, eval, test).'
  )
  flags.DEFINE_integer('batch', 64, 'Frames per jitted chunk.')
  flags.DEFINE_string(
      'weights',
      None,
      'torchvision ResNet-50 state_dict (resnet50) or pytorch-i3d '
      'checkpoint (i3d) for the encoder.',
  )
  flags.DEFINE_enum('dtype', 'float16', DTYPES, 'Stored dtype.')
  flags.DEFINE_bool(
      'overwrite', False, 'Replace a store of another extraction.'
  )


def main(argv):
  del argv
  fl = flags.FLAGS
  meta = extract(
      fl.config,
      fl.out,
      splits=fl.split,
      batch_size=fl.batch,
      weights=fl.weights,
      dtype=fl.dtype,
      overwrite=fl.overwrite,
  )
  print(
      f'wrote {fl.out}: {meta["num_recordings"]} recordings, '
      f'{meta["seconds"] / 3600:.2f} h of video, rows {meta["shape"]} '
      f'{meta["dtype"]}, {meta["bytes"]} bytes '
      f'({meta["bytes_per_hour"] / 1e6:.2f} MB per hour of video)'
  )


if __name__ == '__main__':
  _define_flags()
  flags.mark_flags_as_required(['config', 'out'])
  app.run(main)

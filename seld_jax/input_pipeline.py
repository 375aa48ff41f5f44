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

"""grain over `tfds.data_source`: recordings -> windows -> global batches.

Every process reads its own shard of a split
(`tfds.split_for_jax_process`), cuts windows aligned to label frames, turns
each window's events into the dense target the loss needs (on the host, with
`seld_jax.targets`), batches `batch_size / process_count` windows and makes
global `jax.Array`s with `jax.make_array_from_process_local_data`.

Training (`create_train_dataset`): an endless stream of random windows.
Element i of process p is drawn from `np.random.default_rng([seed, p, i])`
alone, so the stream is a pure function of the index and the grain iterator
state (its position) is all a checkpoint needs: save it with
`grain.checkpoint.CheckpointSave(iterator)` in the same orbax step as the
model, and a restored run sees exactly the batches an uninterrupted run
would.

Evaluation (`create_eval_dataset`): every recording tiled into windows with
hop `eval_hop_seconds`, the last one padded; a per-frame `mask` marks real
frames; every process yields the same number of batches (padding windows are
fully masked, `record_index` -1). `stitch` averages per-window outputs back
into whole recordings.

A batch is a dict of arrays with a leading batch axis B:

  audio         float32 [B, C, N]  N = window frames * samples per frame
  target        the configured target, per window (T label frames):
                  multi_accdoa           [B, T, 6, 4, K]   (K classes)
                  multi_accdoa_distance  [B, T, 6, 5, K]
                  multi_accdoa_stereo    [B, T, 6, 4, K]
                  multi_accdoa_stereo_av [B, T, 6, 5, K]  (+ on-screen)
                  single_accdoa          [B, T, 3K]
                  sed_doa                {'sed': [B, T, K], 'doa': [B, T, 3K]}
  mask          float32 [B, T]     1 for label frames inside the recording
  record_index  int32 [B]          index of the recording in the whole split
                                   (-1 for padding windows)
  start_frame   int32 [B]          first label frame of the window
  visual        the window's visual input, aligned with 'target' and 'mask'
                (one row per label frame), only with `visual`:
                  'frames'      uint8 [B, T, H, W, 3], the decoded video
                                frames (zero after the end of the video)
                  'embeddings'  float32 [B, T, ...], rows of the visual
                                embedding store (zero after the recording)

Config fields read (an ml_collections ConfigDict or any object with
attributes; defaults in brackets):

  dataset            TFDS name with config, e.g. 'starss23/foa'
  data_dir           TFDS data dir [None: the TFDS default]
  train_split        ['train']
  eval_split         ['test']
  window_seconds     window length, a whole number of label frames [5.0]
  eval_hop_seconds   hop between evaluation windows [window_seconds]
  batch_size         global training batch size
  eval_batch_size    global evaluation batch size [batch_size]
  target             one of TARGETS ['multi_accdoa']
  num_classes        [13]
  seed               [0]
  sampling           'time' (each window start uniform over all training
                     audio: recordings weighted by their number of window
                     positions) or 'recording' (recording uniform, then start
                     uniform) ['time']
  windows_per_read   consecutive training windows cut from one record read
                     (>1 trades independence for less I/O) [1]
  cache_records      decoded records each reader (process or grain worker)
                     keeps in memory; -1 keeps the whole shard (its PCM size
                     per worker: STARSS23 dev-train FOA is about 4 GB). Reading
                     a record costs its zstd decompression (about 100 ms for
                     2 minutes of 4-channel audio), so without a cache the
                     training stream reads one record per window
                     [1 if windows_per_read > 1 else 0]
  num_workers        grain worker processes (mp_prefetch); 0 = in-process [0]
  read_threads       grain prefetch threads per worker; 0 builds each batch
                     on `next()` (fastest on few cores, and JAX's async
                     dispatch already overlaps it with the device step) [0]
  visual             '' (audio only), 'frames' or 'embeddings' (see
                     'visual' above) ['']
  visual_embeddings  the embedding store of `visual='embeddings'`, written
                     by `python -m seld_jax.extract_visual`
  model_kwargs.visual_frontend
                     the visual front end; an embedding store extracted with
                     another one is refused

Visual embedding store
----------------------
`seld_jax.extract_visual` writes, under one folder,

  meta.json              what the rows are: format and version, dataset,
                         label rate, decoded frame shape, the front end
                         (`visual_frontend`) and its weights file (name and
                         SHA-256), per-frame row shape, dtype, and every
                         recording id with its number of rows
  <recording id>.npy     [num_frames, ...] rows, one per label frame (ids
                         keep their folder: 'dev-test-sony/fold4_room23_mix001'
                         is dev-test-sony/fold4_room23_mix001.npy)

Every file is written to a temporary name and renamed, meta.json first (so
every row file on disk was made with the front end meta.json names) and again
after each recording (so it lists only complete files). The pipeline memory-maps the row files (no copy of the
store in memory per worker) and checks meta.json and each file it will read
when the dataset is created: a missing recording, another frame count, shape
or dtype, or an unreadable file is an error naming the file.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
import dataclasses
import io
import json
import math
import os
import re
import tempfile
from typing import Any

from absl import flags
import grain
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from seld_jax import events as events_lib
from seld_jax import features as features_lib
from seld_jax import records
from seld_jax import targets as targets_lib

TARGETS = (
    'multi_accdoa',
    'multi_accdoa_distance',
    'multi_accdoa_stereo',
    'multi_accdoa_stereo_av',
    'single_accdoa',
    'sed_doa',
)
SAMPLING = ('time', 'recording')


def _get(config, name: str, default: Any = None) -> Any:
  value = getattr(config, name, default)
  return default if value is None else value


# Sources and the recording index
# -----------------------------------------------------------------------------


class _Raw(tfds.decode.Decoder):
  """Keeps a feature's serialized value (numpy decoding skipped)."""

  def decode_example(self, serialized_example):
    return serialized_example

  def decode_example_np(self, serialized_example):
    return serialized_example

  def decode_batch_example_np(self, serialized_example):
    return serialized_example


@dataclasses.dataclass(frozen=True)
class RecordingInfo:
  """What the pipeline knows about one recording of a process's shard."""

  index: int  # in this process's data source
  global_index: int  # in the whole split
  id: str
  num_frames: int
  num_samples: int


@dataclasses.dataclass(frozen=True)
class Shard:
  """One process's part of a split and the facts shared by its records."""

  source: Any  # the tfds data source (video left encoded); None when empty
  info: tfds.core.DatasetInfo
  offset: int  # global index of the shard's first record
  recordings: tuple[RecordingInfo, ...]
  sample_rate: int
  label_rate: float
  num_channels: int
  has_video: bool
  class_names: tuple[str, ...] | None

  @property
  def video_shape(self) -> tuple[int, ...] | None:
    """(height, width, 3) of the stored video frames, or None."""
    if not self.has_video:
      return None
    return tuple(self.info.features['video'].shape[1:])

  @property
  def samples_per_frame(self) -> int:
    return _samples_per_frame(self.sample_rate, self.label_rate)


def _samples_per_frame(sample_rate: float, label_rate: float) -> int:
  hop = sample_rate / label_rate
  if abs(hop - round(hop)) > 1e-6:
    raise ValueError(
        f'{sample_rate} Hz is not a whole number of samples per label frame '
        f'at {label_rate} frames/s.'
    )
  return int(round(hop))


def _frames(seconds: float, label_rate: float, what: str) -> int:
  frames = seconds * label_rate
  if frames < 1 or abs(frames - round(frames)) > 1e-6:
    raise ValueError(
        f'{what}={seconds} s is not a positive whole number of label frames '
        f'at {label_rate} frames/s.'
    )
  return int(round(frames))


def open_shard(
    dataset: str,
    split: str,
    data_dir: str | None = None,
    *,
    process_index: int | None = None,
    process_count: int | None = None,
) -> Shard:
  """Opens this process's part of `split` and indexes its recordings.

  The shard is `tfds.split_for_jax_process(split)` (contiguous, sizes
  differing by at most one). Indexing reads every record of the shard once
  (video frames stay encoded).

  Args:
    dataset: TFDS name, e.g. 'starss23/foa'.
    split: split expression, e.g. 'train' or 'train+test[:50%]'.
    data_dir: TFDS data dir.
    process_index: defaults to `jax.process_index()`.
    process_count: defaults to `jax.process_count()`.

  Returns:
    The `Shard`.
  """
  if process_index is None:
    process_index = jax.process_index()
  if process_count is None:
    process_count = jax.process_count()
  parts = tfds.even_splits(split, n=process_count, drop_remainder=False)
  open_part = lambda part, **kw: tfds.data_source(
      dataset, split=part, data_dir=data_dir, **kw
  )
  # A part is empty when the split has fewer records than processes; TFDS
  # cannot open an empty part, so it is an empty shard (evaluation pads it).
  sizes = []
  for part in parts[: process_index + 1]:
    try:
      sizes.append(len(open_part(part)))
    except ValueError:
      if len(open_part(split)) >= process_count:
        raise
      sizes.append(0)
  offset = sum(sizes[:-1])
  info = open_part(split).dataset_info
  features = info.features
  source = None
  if sizes[-1]:
    decoders = {'video': _Raw()} if 'video' in features else None
    source = open_part(parts[process_index], decoders=decoders)
  recordings = []
  rates, label_rates = set(), set()
  for i in range(sizes[-1]):
    ex = source[i]
    rates.add(int(ex['sample_rate']))
    label_rates.add(float(ex['label_rate']))
    recordings.append(
        RecordingInfo(
            index=i,
            global_index=offset + i,
            id=records.as_text(ex['id']),
            num_frames=int(ex['num_frames']),
            num_samples=int(ex['audio'].shape[0]),
        )
    )
  if len(rates) > 1 or len(label_rates) > 1:
    raise ValueError(
        f'{dataset}[{split}]: mixed sample rates {rates} or label rates '
        f'{label_rates}.'
    )
  metadata = info.metadata or {}
  if not rates:  # An empty shard: the rates of the split's first record.
    first = open_part(parts[0])[0]
    rates.add(int(first['sample_rate']))
    label_rates.add(float(first['label_rate']))
  class_names = metadata.get('class_names')
  return Shard(
      source=source,
      info=info,
      offset=offset,
      recordings=tuple(recordings),
      sample_rate=rates.pop(),
      label_rate=label_rates.pop(),
      num_channels=int(features['audio'].shape[-1]),
      has_video='video' in features,
      class_names=tuple(class_names) if class_names else None,
  )


class _RecordReader:
  """Reads records by index, keeping the last few decoded (per worker).

  `cache_size` records are kept (least recently used dropped); -1 keeps all.
  """

  def __init__(self, source, cache_size: int):
    self._source = source
    self._cache_size = cache_size
    self._cache = collections.OrderedDict()

  def __getstate__(self):
    state = dict(self.__dict__)
    state['_cache'] = collections.OrderedDict()
    return state

  def __call__(self, index: int) -> Mapping[str, Any]:
    if index in self._cache:
      self._cache.move_to_end(index)
      return self._cache[index]
    example = self._source[index]
    if self._cache_size:
      self._cache[index] = example
      while 0 < self._cache_size < len(self._cache):
        self._cache.popitem(last=False)
    return example


# Windows and targets
# -----------------------------------------------------------------------------


def make_target(
    events: events_lib.EventTable,
    num_frames: int,
    target: str,
    num_classes: int,
):
  """The dense target of one window (see the module docstring)."""
  if target == 'multi_accdoa':
    return targets_lib.multi_accdoa(events, num_frames, num_classes)
  if target == 'multi_accdoa_distance':
    return targets_lib.multi_accdoa(
        events, num_frames, num_classes, distance=True
    )
  if target == 'multi_accdoa_stereo':
    return targets_lib.multi_accdoa_stereo(events, num_frames, num_classes)
  if target == 'multi_accdoa_stereo_av':
    return targets_lib.multi_accdoa_stereo(
        events, num_frames, num_classes, onscreen=True
    )
  if target == 'single_accdoa':
    return targets_lib.single_accdoa(events, num_frames, num_classes)
  if target == 'sed_doa':
    sed, doa = targets_lib.sed_doa(events, num_frames, num_classes)
    return {'sed': sed, 'doa': doa}
  raise ValueError(f'Unknown target {target!r}; known: {TARGETS}.')


def video_frames(
    encoded, start: int, num_frames: int, out: np.ndarray | None = None
) -> np.ndarray:
  """Stored (JPEG) frames [start, start + num_frames) as uint8 [T, H, W, 3].

  Args:
    encoded: the record's 'video' left encoded (the shard's data source).
    start: first label frame.
    num_frames: frames to produce; those after the end of the video are 0.
    out: the uint8 [num_frames, H, W, 3] array to write, or None.

  Returns:
    `out` (a new array when None).
  """
  import PIL.Image  # pylint: disable=g-import-not-at-top

  stop = min(start + num_frames, len(encoded))
  for k in range(start, stop):
    frame = np.asarray(PIL.Image.open(io.BytesIO(encoded[k])).convert('RGB'))
    if out is None:
      out = np.zeros((num_frames,) + frame.shape, np.uint8)
    out[k - start] = frame
  if out is None:
    raise ValueError('no video frames in the window')
  out[max(0, stop - start) :] = 0
  return out


# The visual embedding store
# -----------------------------------------------------------------------------

VISUAL_MODES = ('', 'frames', 'embeddings')
STORE_META = 'meta.json'
STORE_FORMAT = 'seld_jax.visual_embeddings'
STORE_VERSION = 1


class VisualStoreError(ValueError):
  """A visual embedding store that cannot serve the run."""


def store_file(root, recording_id: str) -> str:
  """The row file of a recording: `<root>/<recording id>.npy`."""
  parts = recording_id.split('/')
  if any(p in ('', '.', '..') for p in parts) or '\\' in recording_id:
    raise VisualStoreError(
        f'Recording id {recording_id!r} cannot name a file of the store.'
    )
  return os.path.join(os.fspath(root), *parts) + '.npy'


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
  """Writes `path` through a temporary file in its folder, then renames."""
  directory = os.path.dirname(path) or '.'
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix=f'.{os.path.basename(path)}.', suffix='.tmp'
  )
  try:
    with os.fdopen(fd, 'wb') as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp's files are private (0600)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_store_rows(root, recording_id: str, rows: np.ndarray) -> str:
  """Writes one recording's rows (atomically); returns the file."""
  path = store_file(root, recording_id)
  _atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(rows)))
  return path


def write_store_meta(root, meta: Mapping[str, Any]) -> None:
  """Writes `<root>/meta.json` (atomically)."""
  text = json.dumps(meta, indent=1, sort_keys=True) + '\n'
  _atomic_write(
      os.path.join(os.fspath(root), STORE_META),
      lambda f: f.write(text.encode()),
  )


def read_store_meta(root) -> dict[str, Any]:
  """`<root>/meta.json`, checked to be a store of this format."""
  path = os.path.join(os.fspath(root), STORE_META)
  try:
    with open(path) as f:
      meta = json.load(f)
  except FileNotFoundError:
    raise VisualStoreError(
        f'{path} not found: no visual embedding store at {root}; write one '
        'with `python -m seld_jax.extract_visual --config ... --out '
        f'{root}`.'
    ) from None
  except (OSError, ValueError) as e:
    raise VisualStoreError(f'{path}: unreadable ({e}).') from None
  if (
      not isinstance(meta, dict)
      or meta.get('format') != STORE_FORMAT
      or meta.get('version') != STORE_VERSION
  ):
    raise VisualStoreError(
        f'{path} is not a {STORE_FORMAT} version {STORE_VERSION} store.'
    )
  return meta


def plain_data(value: Any) -> Any:
  """A config value as plain JSON data (ConfigDicts and tuples included)."""
  if hasattr(value, 'to_dict'):
    value = value.to_dict()
  return json.loads(json.dumps(value, default=list))


def visual_frontend_config(config) -> dict[str, Any] | None:
  """`config.model_kwargs.visual_frontend` as plain data, or None."""
  kwargs = _get(config, 'model_kwargs', None)
  if kwargs is None:
    return None
  frontend = (
      kwargs.get('visual_frontend', None)
      if hasattr(kwargs, 'get')
      else getattr(kwargs, 'visual_frontend', None)
  )
  return None if frontend is None else plain_data(frontend)


class VisualStore:
  """Reads a visual embedding store (see the module docstring).

  Row files are memory-mapped on first use, per process and per grain
  worker (the open maps are not pickled).
  """

  def __init__(self, root, meta: Mapping[str, Any]):
    self.root = os.fspath(root)
    self.meta = dict(meta)
    self.shape = tuple(int(d) for d in meta['shape'])
    self.dtype = np.dtype(meta['dtype'])
    self._arrays = {}

  @classmethod
  def open(
      cls,
      root,
      *,
      dataset: str | None = None,
      label_rate: float | None = None,
      frontend: Mapping[str, Any] | None = None,
  ) -> VisualStore:
    """Opens a store, checked against the run's dataset and front end."""
    if not root:
      raise VisualStoreError(
          "visual='embeddings' needs config.visual_embeddings, the folder "
          'written by `python -m seld_jax.extract_visual`.'
      )
    meta = read_store_meta(root)
    path = os.path.join(os.fspath(root), STORE_META)
    problems = []
    if dataset is not None and meta.get('dataset') != dataset:
      problems.append(
          f'it holds {meta.get("dataset")!r}, the run reads {dataset!r}'
      )
    if label_rate is not None and not math.isclose(
        float(meta.get('label_rate', 0)), label_rate
    ):
      problems.append(
          f'its label rate is {meta.get("label_rate")}, the dataset\'s '
          f'{label_rate}'
      )
    if frontend is not None and plain_data(meta.get('frontend')) != plain_data(
        frontend
    ):
      problems.append(
          f'it was extracted with visual_frontend={meta.get("frontend")}, '
          f'the config names {plain_data(frontend)}'
      )
    if problems:
      raise VisualStoreError(
          f'{path} does not match the run: ' + '; '.join(problems) + '.'
      )
    return cls(root, meta)

  def __getstate__(self):
    state = dict(self.__dict__)
    state['_arrays'] = {}
    return state

  def num_frames(self, recording_id: str) -> int | None:
    frames = self.meta.get('recordings', {}).get(recording_id)
    return None if frames is None else int(frames)

  def _open(self, recording_id: str, num_frames: int) -> np.ndarray:
    path = store_file(self.root, recording_id)
    try:
      rows = np.load(path, mmap_mode='r', allow_pickle=False)
    except FileNotFoundError:
      raise VisualStoreError(
          f'{path} not found: the store at {self.root} lacks recording '
          f'{recording_id!r}; extract its split with seld_jax.extract_visual.'
      ) from None
    except (OSError, ValueError, EOFError) as e:
      raise VisualStoreError(
          f'{path}: unreadable embedding file ({e}); extract it again.'
      ) from None
    want = (num_frames,) + self.shape
    if rows.shape != want or rows.dtype != self.dtype:
      raise VisualStoreError(
          f'{path}: {rows.dtype} {rows.shape}, but the store and the '
          f'recording need {self.dtype} {want}.'
      )
    return rows

  def rows(self, recording_id: str, num_frames: int) -> np.ndarray:
    """The recording's rows [num_frames, ...] (memory-mapped, checked)."""
    rows = self._arrays.get(recording_id)
    if rows is None:
      rows = self._arrays[recording_id] = self._open(recording_id, num_frames)
    return rows

  def check(self, recordings) -> None:
    """Every recording is in meta.json and on disk with its frame count."""
    path = os.path.join(self.root, STORE_META)
    for r in recordings:
      frames = self.num_frames(r.id)
      if frames is None:
        raise VisualStoreError(
            f'{path} has no recording {r.id!r}: extract its split with '
            '`python -m seld_jax.extract_visual`.'
        )
      if frames != r.num_frames:
        raise VisualStoreError(
            f'{path}: recording {r.id!r} has {frames} rows, the dataset '
            f'{r.num_frames} label frames.'
        )
      self.rows(r.id, r.num_frames)

  def fill(
      self, recording_id: str, num_frames: int, start: int, out: np.ndarray
  ) -> None:
    """Writes rows [start, start + len(out)) into `out` (zero after)."""
    rows = self.rows(recording_id, num_frames)
    piece = rows[start : start + len(out)]
    out[: len(piece)] = piece
    out[len(piece) :] = 0


def open_visual_store(config, shard: Shard) -> VisualStore:
  """The run's store, checked for every recording of `shard`."""
  store = VisualStore.open(
      _get(config, 'visual_embeddings', ''),
      dataset=config.dataset,
      label_rate=shard.label_rate,
      frontend=visual_frontend_config(config),
  )
  store.check(shard.recordings)
  return store


@dataclasses.dataclass(frozen=True)
class _WindowMaker:
  """Writes windows cut from records into preallocated batch arrays.

  Filling one [B, ...] buffer per batch (instead of stacking B window arrays)
  saves a full copy of the batch's audio, which is most of the host work.
  """

  read: _RecordReader
  window_frames: int
  samples_per_frame: int
  num_channels: int
  target: str
  num_classes: int
  visual: str = ''
  visual_shape: tuple[int, ...] | None = None
  store: VisualStore | None = None

  def empty_batch(self, size: int) -> dict[str, Any]:
    t = self.window_frames
    zero_target = make_target(
        events_lib.EventTable.empty(), t, self.target, self.num_classes
    )
    batch = {
        'audio': np.empty(
            (size, self.num_channels, t * self.samples_per_frame), np.float32
        ),
        'target': jax.tree.map(
            lambda x: np.zeros((size,) + x.shape, x.dtype), zero_target
        ),
        'mask': np.zeros((size, t), np.float32),
        'record_index': np.full((size,), -1, np.int32),
        'start_frame': np.zeros((size,), np.int32),
    }
    if self.visual == 'frames':
      batch['visual'] = np.zeros((size, t) + self.visual_shape, np.uint8)
    elif self.visual == 'embeddings':
      batch['visual'] = np.zeros((size, t) + self.visual_shape, np.float32)
    return batch

  def fill(
      self,
      batch: dict[str, Any],
      b: int,
      record_index: int,
      start: int,
      global_index: int,
  ) -> None:
    """Writes window b of `batch` (fields of `empty_batch` are zero there)."""
    audio = batch['audio'][b]
    if record_index < 0:  # a padding window
      audio[:] = 0
      return
    t = self.window_frames
    ex = self.read(record_index)
    pcm = np.asarray(ex['audio'])
    s0 = start * self.samples_per_frame
    s1 = min(s0 + audio.shape[1], pcm.shape[0])
    scale = np.float32(ex['audio_scale'])
    np.multiply(pcm[s0:s1].T, scale, out=audio[:, : s1 - s0])
    audio[:, s1 - s0 :] = 0
    table = records.events_from_example(ex)
    rows = (table.frame >= start) & (table.frame < start + t)
    window = table.select(rows)
    window = window.replace(frame=window.frame - start, num_frames=t)
    target = make_target(window, t, self.target, self.num_classes)
    jax.tree.map(lambda out, x: out.__setitem__(b, x), batch['target'], target)
    batch['mask'][b, : max(0, min(t, int(ex['num_frames']) - start))] = 1.0
    batch['record_index'][b] = global_index
    batch['start_frame'][b] = start
    if self.visual == 'frames':
      video_frames(ex['video'], start, t, out=batch['visual'][b])
    elif self.visual == 'embeddings':
      self.store.fill(
          records.as_text(ex['id']),
          int(ex['num_frames']),
          start,
          batch['visual'][b],
      )


@dataclasses.dataclass(frozen=True)
class _BatchMaker:
  """Batch j: windows j*B ... (j+1)*B-1 of `windows`.

  `windows(i)` gives (local record, start frame, global record index); the
  batch is a pure function of j, so grain's checkpoint is its position.
  """

  windows: Callable[[int], tuple[int, int, int]]
  batch_size: int
  make: _WindowMaker

  def __call__(self, j: int, _=None) -> dict[str, Any]:
    batch = self.make.empty_batch(self.batch_size)
    for b in range(self.batch_size):
      self.make.fill(batch, b, *self.windows(j * self.batch_size + b))
    return batch


def _window_maker(config, shard: Shard, cache_size: int) -> _WindowMaker:
  target = _get(config, 'target', 'multi_accdoa')
  if target not in TARGETS:
    raise ValueError(f'Unknown target {target!r}; known: {TARGETS}.')
  visual = _get(config, 'visual', '')
  store, visual_shape = None, None
  if visual == 'frames':
    if not shard.has_video:
      raise ValueError(
          f"visual='frames' but {config.dataset} has no video (use a video "
          "config of the dataset, e.g. 'starss23/foa_video')."
      )
    visual_shape = shard.video_shape
  elif visual == 'embeddings':
    store = open_visual_store(config, shard)
    visual_shape = store.shape
  elif visual:
    raise ValueError(f'visual must be one of {VISUAL_MODES}, got {visual!r}.')
  return _WindowMaker(
      read=_RecordReader(shard.source, cache_size),
      window_frames=_frames(
          _get(config, 'window_seconds', 5.0), shard.label_rate, 'window'
      ),
      samples_per_frame=shard.samples_per_frame,
      num_channels=shard.num_channels,
      target=target,
      num_classes=int(_get(config, 'num_classes', 13)),
      visual=visual,
      visual_shape=visual_shape,
      store=store,
  )


# Batching and global arrays
# -----------------------------------------------------------------------------


def _local_batch_size(global_batch_size: int, sharding) -> int:
  count = jax.process_count()
  if global_batch_size % count:
    raise ValueError(
        f'Global batch size {global_batch_size} is not divisible by the '
        f'{count} processes.'
    )
  if sharding is not None:
    sharding.shard_shape((global_batch_size,))  # raises if not divisible
  return global_batch_size // count


def _to_global(sharding):
  def convert(batch):
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, x), batch
    )

  return convert


def _finish(ds: grain.MapDataset, config, sharding) -> grain.IterDataset:
  """Batches of a MapDataset -> (prefetched, global) IterDataset."""
  threads = int(_get(config, 'read_threads', 0))
  it = ds.to_iter_dataset(
      grain.ReadOptions(num_threads=threads, prefetch_buffer_size=threads)
  )
  workers = int(_get(config, 'num_workers', 0))
  if workers > 0:
    # grain's worker processes read its absl flags; outside an absl app
    # (tests, notebooks, benchmarks) use their defaults.
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
  if sharding is not None:
    it = it.map(_to_global(sharding))
  return it


def process_local_rows(x: jax.Array) -> np.ndarray:
  """The rows of a batch-sharded global array that this process provided."""
  if not isinstance(x, jax.Array) or x.is_fully_addressable:
    return np.asarray(x)
  shards = {}
  for shard in x.addressable_shards:
    start = shard.index[0].start or 0
    shards.setdefault(start, np.asarray(shard.data))
  return np.concatenate([shards[k] for k in sorted(shards)])


# Training
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _TrainSampler:
  """Window i -> (record, start, global index), from (seed, process, i)."""

  weights_cdf: np.ndarray
  records: np.ndarray  # local record indices
  global_indices: np.ndarray
  num_frames: np.ndarray
  window_frames: int
  windows_per_read: int
  seed: int
  process_index: int

  def __call__(self, i: int) -> tuple[int, int, int]:
    group = i // self.windows_per_read
    rng = np.random.default_rng([self.seed, self.process_index, group])
    k = min(
        int(np.searchsorted(self.weights_cdf, rng.random(), side='right')),
        len(self.records) - 1,
    )
    rng = np.random.default_rng([self.seed, self.process_index, group, i])
    positions = max(1, int(self.num_frames[k]) - self.window_frames + 1)
    start = int(rng.integers(positions))
    return int(self.records[k]), start, int(self.global_indices[k])


def create_train_dataset(
    config,
    sharding: jax.sharding.NamedSharding | None = None,
    *,
    shard: Shard | None = None,
) -> grain.IterDataset:
  """The endless training stream of (global) batches.

  Args:
    config: see the module docstring.
    sharding: the batch sharding (e.g. `NamedSharding(mesh, P('data'))`);
      None yields process-local numpy batches.
    shard: an already opened shard of `config.train_split`.

  Returns:
    A `grain.IterDataset`; `iter(...)` gives a checkpointable iterator.
  """
  if shard is None:
    shard = open_shard(
        config.dataset,
        _get(config, 'train_split', 'train'),
        _get(config, 'data_dir'),
    )
  if not shard.recordings:
    raise ValueError(
        f'{config.dataset}: process {jax.process_index()} has no training '
        'recordings (the split has fewer recordings than processes).'
    )
  local_batch = _local_batch_size(config.batch_size, sharding)
  per_read = int(_get(config, 'windows_per_read', 1))
  cache = int(_get(config, 'cache_records', 1 if per_read > 1 else 0))
  make = _window_maker(config, shard, cache_size=cache)
  t = make.window_frames
  num_frames = np.array([r.num_frames for r in shard.recordings], np.int64)
  sampling = _get(config, 'sampling', 'time')
  if sampling == 'time':
    weights = np.maximum(1, num_frames - t + 1).astype(np.float64)
  elif sampling == 'recording':
    weights = np.ones(len(num_frames))
  else:
    raise ValueError(f'sampling must be one of {SAMPLING}, got {sampling!r}.')
  sampler = _TrainSampler(
      weights_cdf=np.cumsum(weights) / weights.sum(),
      records=np.array([r.index for r in shard.recordings]),
      global_indices=np.array([r.global_index for r in shard.recordings]),
      num_frames=num_frames,
      window_frames=t,
      windows_per_read=per_read,
      seed=int(_get(config, 'seed', 0)),
      process_index=jax.process_index(),
  )
  # A nominal epoch: as many windows as tile the shard; `repeat` makes it
  # endless, and the batch maker only looks at the global batch index.
  epoch = max(1, math.ceil(np.sum(np.ceil(num_frames / t)) / local_batch))
  ds = grain.MapDataset.range(epoch).repeat()
  ds = ds.map_with_index(_BatchMaker(sampler, local_batch, make))
  return _finish(ds, config, sharding)


# Evaluation
# -----------------------------------------------------------------------------


def window_starts(num_frames: int, window_frames: int, hop_frames: int):
  """Window starts 0, hop, 2 hop, ... until a window reaches the end."""
  starts = [0]
  while starts[-1] + window_frames < num_frames:
    starts.append(starts[-1] + hop_frames)
  return starts


@dataclasses.dataclass
class EvalData:
  """The evaluation batches of one process, and how to stitch them back.

  Attributes:
    dataset: the `grain.IterDataset` of batches (iterate it for one pass).
    recordings: this process's recordings, by global index.
    windows: int [num_windows, 2] (global record index or -1, start frame)
      in batch order (padding included).
    num_batches: batches per pass (equal on every process).
    window_frames: label frames per window.
    label_rate: label frames per second.
  """

  dataset: grain.IterDataset
  recordings: dict[int, RecordingInfo]
  windows: np.ndarray
  num_batches: int
  window_frames: int
  label_rate: float

  def __iter__(self) -> Iterator[Any]:
    return iter(self.dataset)

  def num_frames(self) -> dict[int, int]:
    return {k: r.num_frames for k, r in self.recordings.items()}


@dataclasses.dataclass(frozen=True)
class _EvalWindows:
  windows: np.ndarray  # [n, 3]: local record index, start, global index

  def __call__(self, i: int) -> tuple[int, int, int]:
    r, start, g = (int(v) for v in self.windows[i])
    return r, start, g


def create_eval_dataset(
    config,
    sharding: jax.sharding.NamedSharding | None = None,
    *,
    shard: Shard | None = None,
) -> EvalData:
  """Every recording of `config.eval_split`, tiled into windows.

  Every process yields the same number of batches: the per-process window
  counts are all-gathered and the shorter processes pad with fully masked
  windows.

  Args:
    config: see the module docstring.
    sharding: the batch sharding, or None for numpy batches.
    shard: an already opened shard of `config.eval_split`.

  Returns:
    The `EvalData`.
  """
  if shard is None:
    shard = open_shard(
        config.dataset,
        _get(config, 'eval_split', 'test'),
        _get(config, 'data_dir'),
    )
  batch = int(_get(config, 'eval_batch_size', config.batch_size))
  local_batch = _local_batch_size(batch, sharding)
  cache = int(_get(config, 'cache_records', 1))
  make = _window_maker(config, shard, cache_size=cache if cache else 1)
  t = make.window_frames
  hop = _frames(
      _get(config, 'eval_hop_seconds', _get(config, 'window_seconds', 5.0)),
      shard.label_rate,
      'eval_hop',
  )
  rows = [
      (r.index, s, r.global_index)
      for r in shard.recordings
      for s in window_starts(r.num_frames, t, hop)
  ]
  counts = multihost_utils.process_allgather(np.int32(len(rows)))
  most = int(np.max(counts))
  num_batches = max(1, math.ceil(most / local_batch))
  rows += [(-1, 0, -1)] * (num_batches * local_batch - len(rows))
  windows = np.array(rows, np.int64).reshape(-1, 3)
  ds = grain.MapDataset.range(num_batches).map_with_index(
      _BatchMaker(_EvalWindows(windows), local_batch, make)
  )
  return EvalData(
      dataset=_finish(ds, config, sharding),
      recordings={r.global_index: r for r in shard.recordings},
      windows=windows[:, [2, 1]],
      num_batches=num_batches,
      window_frames=t,
      label_rate=shard.label_rate,
  )


def stitch(
    outputs: np.ndarray,
    record_index: np.ndarray,
    start_frame: np.ndarray,
    mask: np.ndarray,
    num_frames: Mapping[int, int],
) -> dict[int, np.ndarray]:
  """Per-window outputs -> whole-recording outputs (overlaps averaged).

  Args:
    outputs: [W, T, ...] per-window outputs at the label rate.
    record_index: [W] recording of each window (-1: padding, ignored).
    start_frame: [W] first label frame of each window.
    mask: [W, T] 1 for real frames.
    num_frames: recording index -> its label frames; recordings absent here
      are ignored (e.g. those of other processes).

  Returns:
    recording index -> float32 [num_frames, ...]: the mean over the windows
    covering each frame (0 where no window covers it).
  """
  outputs = np.asarray(outputs)
  record_index = np.asarray(record_index).reshape(-1)
  start_frame = np.asarray(start_frame).reshape(-1)
  mask = np.asarray(mask).reshape(outputs.shape[:2])
  t = outputs.shape[1]
  sums, counts = {}, {}
  for w, rec in enumerate(record_index):
    rec = int(rec)
    if rec < 0 or rec not in num_frames:
      continue
    n = int(num_frames[rec])
    if rec not in sums:
      sums[rec] = np.zeros((n,) + outputs.shape[2:], np.float64)
      counts[rec] = np.zeros((n,), np.float64)
    s = int(start_frame[w])
    stop = min(s + t, n)
    m = mask[w, : stop - s].astype(np.float64)
    m_b = m.reshape((-1,) + (1,) * (outputs.ndim - 2))
    sums[rec][s:stop] += m_b * outputs[w, : stop - s]
    counts[rec][s:stop] += m
  out = {}
  for rec, total in sums.items():
    c = counts[rec].reshape((-1,) + (1,) * (outputs.ndim - 2))
    out[rec] = np.where(c > 0, total / np.maximum(c, 1), 0).astype(np.float32)
  return out


# Feature normalisation statistics
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NormalizationStats:
  """Per feature channel and bin mean/std of the training features.

  `mean` and `std` are float32 [channels, bins]; normalise features
  [B, channels, frames, bins] with `(x - mean[:, None]) / std[:, None]`.
  """

  mean: np.ndarray
  std: np.ndarray
  count: int
  metadata: dict[str, Any]


def _split_names(split: str) -> set[str]:
  return {
      m for m in re.findall(r'[A-Za-z_][\w-]*', re.sub(r'\[.*?\]', '', split))
  }


def _merge(count_a, mean_a, m2_a, count_b, mean_b, m2_b):
  """Chan et al.'s parallel combination of (count, mean, M2), float64."""
  count = count_a + count_b
  if count == 0:
    return count, mean_a, m2_a
  delta = mean_b - mean_a
  mean = mean_a + delta * (count_b / count)
  m2 = m2_a + m2_b + delta**2 * (count_a * count_b / count)
  return count, mean, m2


def _allgather_float64(x: np.ndarray) -> np.ndarray:
  """[P, ...] float64 from every process, exactly (x64 may be disabled)."""
  x = np.ascontiguousarray(x, np.float64)
  ints = multihost_utils.process_allgather(x.view(np.int32))
  ints = np.asarray(ints, np.int32).reshape((-1,) + x.view(np.int32).shape)
  return ints.view(np.float64).reshape((-1,) + x.shape)


def compute_normalization_stats(
    config,
    feature: str,
    feature_params: Mapping[str, Any] | None = None,
    *,
    batch_size: int = 16,
    shard: Shard | None = None,
    max_windows: int | None = None,
) -> NormalizationStats:
  """Mean/std of `feature` over the TRAINING split only.

  The official baselines fit their scaler on every file of the feature
  folder, the test fold included; here only `config.train_split` is read, and
  a `train_split` that names a split of `eval_split` is refused. Each
  training recording is tiled into non-overlapping windows of
  `window_seconds` (the length the model sees, so per-window effects such
  as the log-mel `top_db` floor match training); feature frames computed
  from padding are excluded. Features and each window's mean and M2 over its
  valid frames are computed on the device in jitted batches (the host reads
  the next batch meanwhile); the windows are combined in float64 (Chan's
  parallel update) on each process and across processes exactly.

  Args:
    config: see the module docstring.
    feature: a `seld_jax.features` name, e.g. 'foa_logmel_iv'.
    feature_params: its keyword parameters (besides the sample rate).
    batch_size: windows per feature batch (per process).
    shard: an already opened shard of the training split.
    max_windows: use only the first windows (for quick checks).

  Returns:
    The statistics (count = feature frames used, all processes).
  """
  train_split = _get(config, 'train_split', 'train')
  eval_split = _get(config, 'eval_split', 'test')
  overlap = _split_names(train_split) & _split_names(eval_split)
  if overlap:
    raise ValueError(
        'Normalisation statistics must not see the evaluation data: '
        f'train_split={train_split!r} shares {sorted(overlap)} with '
        f'eval_split={eval_split!r}.'
    )
  params = dict(feature_params or {})
  if shard is None:
    shard = open_shard(config.dataset, train_split, _get(config, 'data_dir'))
  t = _frames(_get(config, 'window_seconds', 5.0), shard.label_rate, 'window')
  n = t * shard.samples_per_frame
  rows = []
  for r in shard.recordings:
    for s in window_starts(r.num_frames, t, t):
      valid = min(n, r.num_samples - s * shard.samples_per_frame)
      rows.append((r.index, s, valid))
  if max_windows is not None:
    rows = rows[:max_windows]
  shape = features_lib.output_shape(
      feature, n, shard.sample_rate, num_channels=shard.num_channels, **params
  )

  def window_moments(audio, valid):
    """Per window: (mean, M2) over its valid frames, [B, C, F] each."""
    feats = features_lib.compute(feature, audio, shard.sample_rate, **params)
    mask = (jnp.arange(feats.shape[2]) < valid[:, None]).astype(feats.dtype)
    mask = mask[:, None, :, None]
    num = jnp.maximum(valid, 1).astype(feats.dtype)[:, None, None]
    mean = jnp.sum(feats * mask, axis=2) / num
    m2 = jnp.sum(jnp.square(feats - mean[:, :, None]) * mask, axis=2)
    return mean, m2

  moments = jax.jit(window_moments)
  read = _RecordReader(shard.source, cache_size=1)

  def host_batch(chunk):
    audio = np.zeros((batch_size, shard.num_channels, n), np.float32)
    valid_frames = np.zeros((batch_size,), np.int32)
    for j, (r, s, valid) in enumerate(chunk):
      ex = read(r)
      s0 = s * shard.samples_per_frame
      audio[j, :, :valid] = records.audio_from_example(ex, s0, s0 + valid)
      valid_frames[j] = features_lib.output_shape(
          feature,
          valid,
          shard.sample_rate,
          num_channels=shard.num_channels,
          **params,
      )[1]
    return audio, valid_frames

  count = 0
  mean = np.zeros((shape[0], shape[2]), np.float64)
  m2 = np.zeros_like(mean)
  chunks = [rows[b : b + batch_size] for b in range(0, len(rows), batch_size)]
  pending = None
  # The device computes batch k while the host reads and decodes batch k+1;
  # per-window moments are combined exactly in float64 on the host.
  for k in range(len(chunks) + 1):
    dispatched = None
    if k < len(chunks):
      audio, valid_frames = host_batch(chunks[k])
      dispatched = (moments(audio, valid_frames), valid_frames)
    if pending is not None:
      (w_mean, w_m2), valid_frames = pending
      w_mean = np.asarray(w_mean, np.float64)
      w_m2 = np.asarray(w_m2, np.float64)
      for j, v in enumerate(valid_frames):
        if v:
          count, mean, m2 = _merge(count, mean, m2, int(v), w_mean[j], w_m2[j])
    pending = dispatched
  # Combine the processes' partial statistics.
  if jax.process_count() > 1:
    counts = _allgather_float64(np.array([count], np.float64)).reshape(-1)
    means = _allgather_float64(mean)
    m2s = _allgather_float64(m2)
    count, mean, m2 = 0, np.zeros_like(mean), np.zeros_like(m2)
    for c, mu, q in zip(counts, means, m2s):
      count, mean, m2 = _merge(count, mean, m2, int(c), mu, q)
  if count == 0:
    raise ValueError('No training feature frames to compute statistics on.')
  std = np.sqrt(m2 / count)
  return NormalizationStats(
      mean=mean.astype(np.float32),
      std=np.maximum(std, 1e-8).astype(np.float32),
      count=int(count),
      metadata={
          'dataset': config.dataset,
          'split': train_split,
          'feature': feature,
          'feature_params': params,
          'window_seconds': float(_get(config, 'window_seconds', 5.0)),
          'sample_rate': shard.sample_rate,
      },
  )


def save_normalization_stats(path, stats: NormalizationStats) -> None:
  """Writes the statistics as .npz (mean, std, count, metadata JSON)."""
  path = os.fspath(path)
  directory = os.path.dirname(path) or '.'
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, suffix='.npz')
  try:
    with os.fdopen(fd, 'wb') as f:
      np.savez(
          f,
          mean=stats.mean,
          std=stats.std,
          count=np.int64(stats.count),
          metadata=np.array(json.dumps(stats.metadata, sort_keys=True)),
      )
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def load_normalization_stats(path) -> NormalizationStats:
  with np.load(os.fspath(path)) as data:
    return NormalizationStats(
        mean=data['mean'],
        std=data['std'],
        count=int(data['count']),
        metadata=json.loads(str(data['metadata'])),
    )


def normalize(x, stats: NormalizationStats):
  """(x - mean) / std for features [..., channels, frames, bins]."""
  return (x - stats.mean[:, None, :]) / stats.std[:, None, :]

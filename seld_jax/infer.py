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

r"""Inference on any wav files: a DCASE CSV and a PNG plot per file.

  python -m seld_jax.infer --workdir runs/default audio/*.wav --out preds/ \
      [--ref metadata_dir_or_csv] [--step N] [--metric dcase2023] \
      [--video DIR] [--visual_weights FILE]

Files of any length with the channel count the model was trained on; another
sample rate is resampled (with a warning), another channel count is an error.
The model comes from the run directory (`config.json`, `norm_stats.npz`, the
best checkpoint, else the latest). Each file is cut into the training window
length with the configured evaluation hop, predicted in fixed-size batches
(one compilation), stitched back (overlaps averaged) and decoded.

Audio-visual runs (`config.visual`) need each file's video: `<stem>.mp4`
in `--video DIR` (searched recursively, so the STARSS23 `video_dev` folder
works), else next to the wav. It is decoded as the dataset builders decode
video (`builder_utils.decode_video`: the frame on screen at each label
frame's time, resized to the run's frame size). 'frames' models take the
frames; for 'embeddings' models the front end that wrote the run's store
(recorded in config.json, with the SHA-256 of its weights file, which must
still exist or be given again with `--visual_weights`) embeds them, rounded
to the store's dtype, so the model sees what it was trained on.
"""

from __future__ import annotations

if __name__ == '__main__':
  # First, before the imports below load JAX: this command may re-execute
  # itself with transparent huge pages on (seld_jax/huge_pages.py).
  from seld_jax import huge_pages

  huge_pages.reexec()

from collections.abc import Sequence
import os
import pathlib
import sys
import time
import warnings

from absl import app
from absl import flags
from absl import logging
from flax import nnx
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import soundfile

from seld_jax import builder_utils
from seld_jax import checkpointing
from seld_jax import decode
from seld_jax import evaluate as evaluate_lib
from seld_jax import extract_visual
from seld_jax import formats
from seld_jax import input_pipeline
from seld_jax import plot
from seld_jax import train
from seld_jax import train_step


class AudioError(ValueError):
  """An input file that cannot be used."""


class VideoError(AudioError):
  """A missing or unusable video for an audio-visual model."""


def read_audio(
    path: str | os.PathLike, sample_rate: int, num_channels: int
) -> np.ndarray:
  """float32 [C, N] at `sample_rate`; clear errors for unusable files."""
  try:
    audio, rate = soundfile.read(
        os.fspath(path), dtype='float32', always_2d=True
    )
  except (RuntimeError, soundfile.LibsndfileError) as e:
    raise AudioError(f'{path}: cannot read audio ({e})') from None
  if audio.shape[1] != num_channels:
    raise AudioError(
        f'{path}: {audio.shape[1]} channels, but the model was trained on '
        f'{num_channels}-channel audio.'
    )
  if not np.all(np.isfinite(audio)):
    raise AudioError(f'{path}: contains NaN or infinite samples.')
  audio = audio.T
  if rate != sample_rate:
    warnings.warn(
        f'{path}: {rate} Hz audio resampled to the model rate {sample_rate} '
        'Hz.',
        stacklevel=2,
    )
    audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
  return np.ascontiguousarray(audio, np.float32)


class Predictor:
  """A model that predicts whole recordings with sliding windows."""

  def __init__(
      self,
      config,
      model_def: train_step.ModelDef,
      state: train_step.TrainState,
      stats: dict[str, np.ndarray] | None,
      *,
      step: int | None = None,
      batch_size: int = 8,
      visual_weights: str | None = None,
  ):
    self.config = config
    self.step = step
    self.batch_size = batch_size
    self.features = train_step.feature_spec(config, stats)
    sr = config.sample_rate
    self.window_samples = int(round(config.window_seconds * sr))
    model = nnx.merge(model_def.eval_graph, state.params, state.rest)
    graph, params = nnx.split(model)
    features = self.features

    @jax.jit
    def forward(params, audio, visual=None):
      model = nnx.merge(graph, params)
      out = train_step.apply_model(model, features(audio), visual)
      return train_step.flatten_output(out)

    self._params = params
    self._forward = forward
    self.label_rate = float(config.get('label_rate', 10.0))
    self.samples_per_frame = int(round(sr / self.label_rate))
    self.window_frames = int(round(config.window_seconds * self.label_rate))
    self.hop_frames = int(
        round(
            config.get('eval_hop_seconds', config.window_seconds)
            * self.label_rate
        )
    )
    self.visual = config.get('visual', '') or ''
    self._frontend = None
    if self.visual:
      shape = config.get('visual_frame_shape', None)
      if not shape:
        raise ValueError(
            f'config.json of an audio-visual run (visual={self.visual!r}) '
            'lacks visual_frame_shape; retrain with this version.'
        )
      self.frame_shape = tuple(int(s) for s in shape)
    if self.visual == 'embeddings':
      self._store = input_pipeline.plain_data(config.visual_store)
      self._frontend = _store_frontend(self._store, visual_weights)

  @classmethod
  def load(cls, workdir: str, step: int | None = None, **kwargs):
    """The model of a run directory (default: best, else latest step)."""
    config = train.load_config(workdir)
    stats = train.normalization_stats(config, workdir)
    spec = train_step.feature_spec(config, stats)
    shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
    model_def, state, _ = train_step.create_train_state(config, shape)
    ckpt = checkpointing.Checkpointer(
        os.path.join(workdir, train.CHECKPOINT_DIR),
        best_metric=config.get('best_metric'),
        best_mode=config.get('best_mode', 'min'),
    )
    step = step or ckpt.best_step() or ckpt.latest_step()
    if step is None:
      raise FileNotFoundError(
          f'No checkpoint in {workdir}/{train.CHECKPOINT_DIR}.'
      )
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state
    )
    state = ckpt.restore(step, abstract)
    ckpt.close()
    return cls(config, model_def, state, stats, step=int(step), **kwargs)

  def read_visual(self, path: str | os.PathLike, num_frames: int) -> np.ndarray:
    """The model's visual input [num_frames, ...] from a video file.

    Args:
      path: the video (mp4 or anything FFmpeg reads).
      num_frames: label frames of the audio.

    Returns:
      uint8 frames [num_frames, H, W, 3] ('frames') or float32 embeddings
      [num_frames, D] ('embeddings').
    """
    if not self.visual:
      raise ValueError('The model is audio-only.')
    h, w = self.frame_shape[:2]
    try:
      frames = builder_utils.decode_video(
          path, num_frames, self.label_rate, h, w
      )
    except builder_utils.DataValidationError as e:
      raise VideoError(str(e)) from None
    if self.visual == 'frames':
      return frames

    def read(start, count):
      out = np.zeros((count,) + frames.shape[1:], np.uint8)
      piece = frames[start : start + count]
      out[: len(piece)] = piece
      return out

    rows = extract_visual.embed_recording(
        self._frontend,
        read,
        num_frames,
        batch_size=int(self._store['batch_size']),
        dtype=self._store['dtype'],
    )
    return rows.astype(np.float32)

  def predict(
      self, audio: np.ndarray, visual: np.ndarray | None = None
  ) -> np.ndarray:
    """float32 [C, N] (+ visual [frames, ...]) -> outputs [num_frames, D].

    Args:
      audio: the recording.
      visual: for audio-visual models, `read_visual`'s output (one row per
        label frame; missing rows are zero).

    Returns:
      The stitched outputs.
    """
    num_frames = audio.shape[1] // self.samples_per_frame
    if num_frames == 0:
      raise AudioError(
          f'Audio of {audio.shape[1]} samples is shorter than one label frame.'
      )
    if bool(self.visual) != (visual is not None):
      raise VideoError(
          f'The model (visual={self.visual!r}) needs its video input'
          if self.visual
          else 'The model is audio-only: it takes no visual input.'
      )
    starts = input_pipeline.window_starts(
        num_frames, self.window_frames, self.hop_frames
    )
    spf, t = self.samples_per_frame, self.window_frames
    windows = np.zeros(
        (len(starts), audio.shape[0], self.window_samples), np.float32
    )
    masks = np.zeros((len(starts), t), np.float32)
    visuals = None
    if visual is not None:
      visual = np.asarray(visual)
      visuals = np.zeros((len(starts), t) + visual.shape[1:], visual.dtype)
    for i, s in enumerate(starts):
      chunk = audio[:, s * spf : s * spf + self.window_samples]
      windows[i, :, : chunk.shape[1]] = chunk
      masks[i, : max(0, min(t, num_frames - s))] = 1.0
      if visuals is not None:
        piece = visual[s : min(s + t, num_frames)]
        visuals[i, : len(piece)] = piece
    outs = []
    b = self.batch_size
    for i in range(0, len(windows), b):
      batch = [windows[i : i + b]]
      if visuals is not None:
        batch.append(visuals[i : i + b])
      pad = b - len(batch[0])
      if pad:
        batch = [
            np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
            for x in batch
        ]
      out = np.asarray(self._forward(self._params, *map(jnp.asarray, batch)))
      outs.append(out[: b - pad])
    stitched = input_pipeline.stitch(
        np.concatenate(outs),
        np.zeros(len(starts), np.int64),
        np.asarray(starts),
        masks,
        {0: num_frames},
    )
    return stitched[0]


def _store_frontend(store: dict, weights: str | None):
  """The front end that wrote the run's embedding store, weights checked."""
  recorded = store.get('weights')
  if recorded and weights is None:
    weights = recorded['file']
  if recorded:
    if not os.path.exists(weights):
      raise FileNotFoundError(
          f"{weights}: the visual front end weights the run's embeddings "
          'were extracted with; give their path with --visual_weights.'
      )
    digest = extract_visual.sha256(weights)
    if digest != recorded['sha256']:
      raise VideoError(
          f"{weights} (SHA-256 {digest}) is not the weights file the run's "
          f'embeddings were extracted with ({recorded["sha256"]}).'
      )
  elif weights is not None:
    raise VideoError(
        "The run's embeddings were extracted without weights; "
        '--visual_weights does not apply.'
    )
  return extract_visual.build_frontend(
      store['frontend'],
      seed=int(store.get('init_seed') or 0),
      weights=weights if recorded else None,
  )


def find_video(
    wav: str | os.PathLike, video_dir: str | None
) -> pathlib.Path | None:
  """`<stem>.mp4` in `video_dir` (recursively), else next to the wav."""
  wav = pathlib.Path(wav)
  name = f'{wav.stem}.mp4'
  if video_dir:
    root = pathlib.Path(video_dir)
    if (root / name).exists():
      return root / name
    hits = sorted(root.rglob(name))
    return hits[0] if hits else None
  path = wav.with_suffix('.mp4')
  return path if path.exists() else None


def _find_reference(ref: str | None, stem: str) -> pathlib.Path | None:
  if not ref:
    return None
  ref = pathlib.Path(ref)
  if ref.is_file():
    return ref
  hits = sorted(ref.rglob(f'{stem}.csv'))
  return hits[0] if hits else None


def run(
    workdir: str,
    files: Sequence[str],
    out_dir: str,
    *,
    ref: str | None = None,
    step: int | None = None,
    metric: str | None = None,
    video_dir: str | None = None,
    visual_weights: str | None = None,
) -> list[dict]:
  """Predicts each file; writes `<out>/<stem>.csv` and `<out>/<stem>.png`.

  Audio-visual models read `<stem>.mp4` from `video_dir` or next to each
  file (see the module docstring).
  """
  predictor = Predictor.load(workdir, step, visual_weights=visual_weights)
  config = predictor.config
  metric = metric or config.get('metric', 'dcase2023')
  channels = int(config.num_channels)
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  report = []
  for path in files:
    path = pathlib.Path(path)
    t0 = time.perf_counter()
    audio = read_audio(path, config.sample_rate, channels)
    visual, video = None, None
    if predictor.visual:
      video = find_video(path, video_dir)
      if video is None:
        where = video_dir or str(path.parent)
        raise VideoError(
            f'{path}: the model is audio-visual (visual='
            f'{predictor.visual!r}) and needs the video {path.stem}.mp4, not '
            f'found in {where}; give its folder with --video DIR.'
        )
      visual = predictor.read_visual(
          video, audio.shape[1] // predictor.samples_per_frame
      )
    output = predictor.predict(audio, visual)
    events = evaluate_lib.decode_output(output, config)
    csv = out / f'{path.stem}.csv'
    decode.write_predictions(csv, events, metric)
    ref_path = _find_reference(ref, path.stem)
    reference = formats.read_metadata(ref_path) if ref_path else None
    plot.save_png(
        out / f'{path.stem}.png',
        events,
        reference,
        num_classes=config.num_classes,
        class_names=events.class_names,
        title=path.name,
        num_frames=len(output),
    )
    seconds = audio.shape[1] / config.sample_rate
    elapsed = time.perf_counter() - t0
    report.append({
        'file': str(path),
        'csv': str(csv),
        'events': len(events),
        'audio_seconds': seconds,
        'wall_seconds': elapsed,
        'reference': str(ref_path) if ref_path else None,
        'video': str(video) if video else None,
    })
    logging.info(
        '%s: %d event rows, %.1f s audio in %.2f s',
        path.name,
        len(events),
        seconds,
        elapsed,
    )
  return report


def _define_flags():
  flags.DEFINE_string('workdir', None, 'A trained run directory.')
  flags.DEFINE_string('out', None, 'Output folder for CSVs and PNGs.')
  flags.DEFINE_string(
      'ref',
      None,
      'Reference CSV, or a folder searched for '
      '<stem>.csv, drawn beside the prediction.',
  )
  flags.DEFINE_integer('step', None, 'Checkpoint step (default: best).')
  flags.DEFINE_string('metric', None, 'CSV format year (default: config).')
  flags.DEFINE_string(
      'video',
      None,
      'Audio-visual models: folder searched for <stem>.mp4 of each wav '
      '(default: next to the wav).',
  )
  flags.DEFINE_string(
      'visual_weights',
      None,
      "Audio-visual 'embeddings' models: the front end weights file, if "
      'it moved since the store was extracted.',
  )


def main(argv):
  files = argv[1:]
  if not files:
    raise app.UsageError('Give one or more wav files.')
  fl = flags.FLAGS
  try:
    report = run(
        fl.workdir,
        files,
        fl.out,
        ref=fl.ref,
        step=fl.step,
        metric=fl.metric,
        video_dir=fl.video,
        visual_weights=fl.visual_weights,
    )
  except (AudioError, FileNotFoundError, formats.FormatError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  for r in report:
    print(
        f"{r['file']}: {r['events']} event rows -> {r['csv']} "
        f"({r['audio_seconds']:.1f} s audio in {r['wall_seconds']:.2f} s)"
    )
  return 0


if __name__ == '__main__':
  _define_flags()
  flags.mark_flags_as_required(['workdir', 'out'])
  app.run(main)

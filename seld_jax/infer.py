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
      [--ref metadata_dir_or_csv] [--step N] [--metric dcase2023]

Files of any length with the channel count the model was trained on; another
sample rate is resampled (with a warning), another channel count is an error.
The model comes from the run directory (`config.json`, `norm_stats.npz`, the
best checkpoint, else the latest). Each file is cut into the training window
length with the configured evaluation hop, predicted in fixed-size batches
(one compilation), stitched back (overlaps averaged) and decoded.
"""

from __future__ import annotations

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

from seld_jax import checkpointing
from seld_jax import decode
from seld_jax import evaluate as evaluate_lib
from seld_jax import formats
from seld_jax import input_pipeline
from seld_jax import plot
from seld_jax import train
from seld_jax import train_step


class AudioError(ValueError):
  """An input file that cannot be used."""


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
    def forward(params, audio):
      out = nnx.merge(graph, params)(features(audio))
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

  def predict(self, audio: np.ndarray) -> np.ndarray:
    """float32 [C, N] -> stitched outputs [num_frames, outputs]."""
    num_frames = audio.shape[1] // self.samples_per_frame
    if num_frames == 0:
      raise AudioError(
          f'Audio of {audio.shape[1]} samples is shorter than one label frame.'
      )
    starts = input_pipeline.window_starts(
        num_frames, self.window_frames, self.hop_frames
    )
    spf, t = self.samples_per_frame, self.window_frames
    windows = np.zeros(
        (len(starts), audio.shape[0], self.window_samples), np.float32
    )
    masks = np.zeros((len(starts), t), np.float32)
    for i, s in enumerate(starts):
      chunk = audio[:, s * spf : s * spf + self.window_samples]
      windows[i, :, : chunk.shape[1]] = chunk
      masks[i, : max(0, min(t, num_frames - s))] = 1.0
    outs = []
    b = self.batch_size
    for i in range(0, len(windows), b):
      batch = windows[i : i + b]
      pad = b - len(batch)
      if pad:
        batch = np.concatenate(
            [batch, np.zeros((pad,) + batch.shape[1:], np.float32)]
        )
      out = np.asarray(self._forward(self._params, jnp.asarray(batch)))
      outs.append(out[: b - pad])
    stitched = input_pipeline.stitch(
        np.concatenate(outs),
        np.zeros(len(starts), np.int64),
        np.asarray(starts),
        masks,
        {0: num_frames},
    )
    return stitched[0]


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
) -> list[dict]:
  """Predicts each file; writes `<out>/<stem>.csv` and `<out>/<stem>.png`."""
  predictor = Predictor.load(workdir, step)
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
    output = predictor.predict(audio)
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


def main(argv):
  files = argv[1:]
  if not files:
    raise app.UsageError('Give one or more wav files.')
  fl = flags.FLAGS
  try:
    report = run(
        fl.workdir, files, fl.out, ref=fl.ref, step=fl.step, metric=fl.metric
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

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

r"""Checkpoint evaluation: whole recordings -> DCASE CSVs, scores, plots.

  python -m seld_jax.evaluate --config C --workdir W [--step N] [--split S] \
      [--metric M] [--allow_model_changes]

Restores the chosen checkpoint (default: the best; else the latest), predicts
every recording of the split with sliding windows (stitched back, overlaps
averaged), decodes the outputs, writes one CSV per recording in the format of
the metric's year, scores them with `seld_jax.metrics` and writes plots.
Output layout (stable):

  W/eval/<split>/pred/<recording>.csv
  W/eval/<split>/metrics.json        (the keys of `seld_jax.score --json`)
  W/eval/<split>/plots/<recording>.png

The model settings (`train.EVAL_FIXED_KEYS`: model, model_kwargs, target,
features, ...) must be those of the run's config.json: a config whose
defaults changed since the run was trained would otherwise restore its
weights into another network, silently where the shapes agree.
`--allow_model_changes` evaluates anyway (a deliberate probe, such as the
video zeroed at inference with `--config.model_kwargs.blind=True`).

Audio-visual runs (`config.visual`) read the split's video with the audio:
its decoded frames ('frames'), or its rows of the embedding store
('embeddings', which must hold the split: `seld_jax.extract_visual
--split S`), cut into the same windows.
"""

from __future__ import annotations

if __name__ == '__main__':
  # First, before the imports below load JAX: this command may re-execute
  # itself with transparent huge pages on (seld_jax/huge_pages.py).
  from seld_jax import huge_pages

  huge_pages.reexec()

from collections.abc import Mapping
import dataclasses
import json
import os
import pathlib
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax
from jax.experimental import multihost_utils
from ml_collections import config_flags
import numpy as np

from seld_jax import decode
from seld_jax import events as events_lib
from seld_jax import input_pipeline
from seld_jax import metrics as metrics_lib
from seld_jax import plot
from seld_jax import records
from seld_jax import score as score_lib
from seld_jax import sharding as sharding_lib

EventTable = events_lib.EventTable


@dataclasses.dataclass(frozen=True)
class Recording:
  """A recording of an evaluation split: id, length and reference events.

  `labeled` is False for audio without metadata (e.g. a DCASE evaluation
  set): its `reference` is empty and it can be predicted but not scored.
  """

  index: int
  id: str
  num_frames: int
  reference: EventTable
  labeled: bool = True


def load_recordings(config, split: str) -> list[Recording]:
  """Every recording of `split` with its reference (read by every process)."""
  full = input_pipeline.open_shard(
      config.dataset,
      split,
      config.get('data_dir'),
      process_index=0,
      process_count=1,
  )
  out = []
  for r in full.recordings:
    ex = full.source[r.index]
    out.append(
        Recording(
            index=r.global_index,
            id=r.id,
            num_frames=r.num_frames,
            reference=records.events_from_example(ex),
            labeled=bool(np.asarray(ex['provenance']['labeled'])),
        )
    )
  return out


def unlabeled(recordings: list[Recording]) -> list[str]:
  """Ids of the recordings that have no reference labels."""
  return [r.id for r in recordings if not r.labeled]


def file_names(recordings: list[Recording]) -> dict[int, str]:
  """CSV/PNG stems: the recording's own name, as the reference CSV's.

  Ids may carry their split folder ('dev-test-sony/fold4_room23_mix001');
  predictions are named like the reference files (`fold4_room23_mix001`) so
  `seld_jax.score --ref metadata_dev --pred pred/` pairs them, unless two
  recordings share a name, then the folder is kept ('dev-test-sony__...').
  """
  base = {r.index: r.id.rsplit('/', 1)[-1] for r in recordings}
  counts = {}
  for name in base.values():
    counts[name] = counts.get(name, 0) + 1
  return {
      r.index: (
          base[r.index]
          if counts[base[r.index]] == 1
          else r.id.replace('/', '__')
      )
      for r in recordings
  }


def decode_output(output: np.ndarray, config) -> EventTable:
  """One recording's stitched output [T, ...] -> events."""
  target = config.target
  kwargs = dict(
      threshold=config.get('threshold', 0.5),
      label_rate=config.get('label_rate', 10.0),
      class_names=events_lib.STARSS_CLASSES
      if config.num_classes == 13
      else None,
  )
  if target in ('multi_accdoa', 'multi_accdoa_distance'):
    return decode.multi_accdoa_to_events(
        output,
        config.num_classes,
        distance=target == 'multi_accdoa_distance',
        unify_degrees=config.get('unify_degrees', 15.0),
        **kwargs,
    )
  if target in ('multi_accdoa_stereo', 'multi_accdoa_stereo_av'):
    return decode.multi_accdoa_stereo_to_events(
        output,
        config.num_classes,
        onscreen=target == 'multi_accdoa_stereo_av',
        onscreen_threshold=config.get('onscreen_threshold'),
        unify_degrees=config.get('unify_degrees', 15.0),
        **kwargs,
    )
  if target == 'single_accdoa':
    return decode.single_accdoa_to_events(output, config.num_classes, **kwargs)
  if target == 'sed_doa':
    # `train_step.flatten_output`: [sigmoid(sed) | doa].
    c = config.num_classes
    return decode.sed_doa_to_events(
        output[:, :c],
        output[:, c:],
        threshold=kwargs['threshold'],
        doa_format='xyz' if output.shape[1] == 4 * c else 'azel',
        label_rate=kwargs['label_rate'],
        class_names=kwargs['class_names'],
    )
  raise ValueError(f'No decoder for target {target!r}.')


def predict(
    state, eval_step, eval_data: input_pipeline.EvalData, num_frames
) -> tuple[dict[int, np.ndarray], float]:
  """Runs the eval step over every window; returns stitched outputs and loss.

  Every process runs the same number of batches; the outputs of all
  processes are gathered, so every process returns every recording.

  Args:
    state: the train state (replicated).
    eval_step: the jitted eval step.
    eval_data: from `input_pipeline.create_eval_dataset`.
    num_frames: global recording index -> label frames.

  Returns:
    (recording index -> float32 [num_frames, outputs], mean eval loss).
  """
  outs, recs, starts, masks = [], [], [], []
  loss_sum, count = 0.0, 0.0
  for batch in eval_data:
    res = eval_step(state, batch)
    host = sharding_lib.fetch({
        'output': res['output'],
        'record_index': batch['record_index'],
        'start_frame': batch['start_frame'],
        'mask': batch['mask'],
    })
    outs.append(host['output'])
    recs.append(host['record_index'])
    starts.append(host['start_frame'])
    masks.append(host['mask'])
    loss_sum += float(res['loss_sum'])
    count += float(res['count'])
  stitched = input_pipeline.stitch(
      np.concatenate(outs),
      np.concatenate(recs),
      np.concatenate(starts),
      np.concatenate(masks),
      num_frames,
  )
  return stitched, loss_sum / max(count, 1.0)


def score_and_write(
    config,
    recordings: list[Recording],
    outputs: Mapping[int, np.ndarray],
    out_dir: str | os.PathLike | None,
    *,
    metric: str | None = None,
    plots: bool = True,
) -> dict[str, Any]:
  """Decodes, writes CSVs/plots/metrics.json (process 0) and scores.

  Args:
    config: the run config.
    recordings: the split's recordings.
    outputs: recording index -> stitched output.
    out_dir: `W/eval/<split>`, or None to only score.
    metric: the metric year (default `config.metric`).
    plots: write one PNG per recording.

  Returns:
    The `seld_jax.metrics.evaluate` result; for a split with unlabelled
    recordings (nothing to score against) only `{'metric', 'files',
    'scored': False, 'unlabeled'}`, and no metrics.json is written.
  """
  metric = metric or config.metric
  names = file_names(recordings)
  refs, preds = {}, {}
  for rec in recordings:
    pred = decode_output(outputs[rec.index], config)
    name = names[rec.index]
    refs[name], preds[name] = rec.reference, pred
  options = {}
  if metric == 'dcase2024' and config.target != 'multi_accdoa_distance':
    # A model without a distance output: score directions only, and write
    # distance 0 in the 7-column files (as the 2023 writer does).
    options['evaluate_distance'] = False
    preds = {k: v.replace(distance=np.zeros(len(v))) for k, v in preds.items()}
  missing = unlabeled(recordings)
  if missing:
    result = {
        'metric': metric,
        'files': len(recordings),
        'scored': False,
        'unlabeled': missing,
    }
  else:
    result = metrics_lib.evaluate(
        metric, refs, preds, num_classes=config.num_classes, **options
    )
  if out_dir is not None and jax.process_index() == 0:
    out_dir = pathlib.Path(out_dir)
    for rec in recordings:
      name = names[rec.index]
      decode.write_predictions(
          out_dir / 'pred' / f'{name}.csv', preds[name], metric
      )
      if plots:
        plot.save_png(
            out_dir / 'plots' / f'{name}.png',
            preds[name],
            rec.reference,
            num_classes=config.num_classes,
            class_names=preds[name].class_names,
            title=rec.id,
            num_frames=rec.num_frames,
        )
    if not missing:
      text = score_lib.to_json(result)
      tmp = out_dir / '.metrics.json.tmp'
      tmp.write_text(text + '\n')
      os.replace(tmp, out_dir / 'metrics.json')
  return result


def scalar_metrics(result: Mapping[str, Any]) -> dict[str, float]:
  """The global float scores of a metrics result (for logging)."""
  keys = metrics_lib.KEYS[result['metric']]
  return {k: float(result[k]) for k in keys}


# Command line
# -----------------------------------------------------------------------------


def _define_flags():
  """Flags of the command (defined only when run as a program: the library
  part of this module is imported by `train`, whose `main` has its own)."""
  config_flags.DEFINE_config_file(
      'config', None, 'Training configuration file.', lock_config=True
  )
  flags.DEFINE_string('workdir', None, 'The run directory.')
  flags.DEFINE_integer(
      'step', None, 'Checkpoint step (default: best, else latest).'
  )
  flags.DEFINE_string('split', None, 'Split (default: config.test_split).')
  flags.DEFINE_string('metric', None, 'Metric year (default: config.metric).')
  flags.DEFINE_bool(
      'allow_model_changes',
      False,
      "Evaluate even where the model settings differ from the run's "
      'config.json (a deliberate probe); by default that is an error.',
  )


def main(argv):
  del argv
  from seld_jax import train  # pylint: disable=g-import-not-at-top

  fl = flags.FLAGS
  config = fl.config
  split = fl.split or config.test_split
  result = train.evaluate_checkpoint(
      config,
      fl.workdir,
      step=fl.step,
      split=split,
      metric=fl.metric,
      allow_model_changes=fl.allow_model_changes,
  )
  out = pathlib.Path(fl.workdir) / 'eval' / split
  if not result.get('scored', True):
    if jax.process_index() == 0:
      print(
          f'{split} has {len(result["unlabeled"])} recording(s) without'
          f' labels (e.g. {result["unlabeled"][0]}): predictions written to'
          f' {out / "pred"} and {out / "plots"}, nothing scored.'
      )
    multihost_utils.sync_global_devices('evaluate_done')
    return
  if jax.process_index() == 0:
    print(score_lib.format_table(result))
    print(f'\nwrote {out / "metrics.json"}, {out / "pred"}, {out / "plots"}')
  multihost_utils.sync_global_devices('evaluate_done')
  logging.info('done: %s', json.dumps(scalar_metrics(result)))


if __name__ == '__main__':
  _define_flags()
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main)

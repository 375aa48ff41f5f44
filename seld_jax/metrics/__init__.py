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

"""The DCASE Task 3 SELD metrics of every year, as the official code scores.

One entry point, `evaluate`, and per-year accumulators (`make_accumulator`)
for scoring file by file:

  metric      module        keys                                   averages
  dcase2019   dcase2019     ER, F, DOA, FR, SELD                    micro
  dcase2020   dcase2020     ER, F, LE, LR, SELD                     micro
  dcase2021   dcase2021     ER, F, LE, LR, SELD                     micro
  dcase2022   segment       ER, F, LE, LR, SELD (+ class-wise)      macro/micro
  dcase2023   segment       ER, F, LE, LR, SELD (+ class-wise)      macro/micro
  dcase2024   frame         ER, F, DOAE, DistE, RDE, LR, SELD (+cw) macro/micro
  dcase2025   stereo        F, DOAE, DistE, RDE, onscreen_acc (+cw) macro/micro

Angles are in degrees, DistE in metres for 2024 and in centimetres for 2025
(as the official code reports them). Class-wise results exist only where the
official code has them (2022-2025, macro averaging).
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

import numpy as np

from seld_jax import events as events_lib
from seld_jax.metrics import _common
from seld_jax.metrics import dcase2019
from seld_jax.metrics import dcase2020
from seld_jax.metrics import dcase2021
from seld_jax.metrics import frame
from seld_jax.metrics import jackknife as jackknife_lib
from seld_jax.metrics import segment
from seld_jax.metrics import stereo

Accumulator = _common.Accumulator

METRICS = (
    'dcase2019',
    'dcase2020',
    'dcase2021',
    'dcase2022',
    'dcase2023',
    'dcase2024',
    'dcase2025',
)

# Official class counts (`parameters.py` / `parameter.py`).
NUM_CLASSES = {
    'dcase2019': 11,
    'dcase2020': 14,
    'dcase2021': 12,
    'dcase2022': 13,
    'dcase2023': 13,
    'dcase2024': 13,
    'dcase2025': 13,
}

CLASS_NAMES = {
    'dcase2019': events_lib.DCASE2019_CLASSES,
    'dcase2020': events_lib.TAU_NIGENS_2020_CLASSES,
    'dcase2021': events_lib.TAU_NIGENS_2021_CLASSES,
    'dcase2022': events_lib.STARSS_CLASSES,
    'dcase2023': events_lib.STARSS_CLASSES,
    'dcase2024': events_lib.STARSS_CLASSES,
    'dcase2025': events_lib.STARSS_CLASSES,
}

# The averaging each year supports; the first is the official default.
AVERAGES = {
    'dcase2019': ('micro',),
    'dcase2020': ('micro',),
    'dcase2021': ('micro',),
    'dcase2022': ('macro', 'micro'),
    'dcase2023': ('macro', 'micro'),
    'dcase2024': ('macro', 'micro'),
    'dcase2025': ('macro', 'micro'),
}

# Threshold / option keywords each metric accepts, with official defaults.
THRESHOLDS = {
    'dcase2019': {},
    'dcase2020': {'doa_threshold': 20.0},
    'dcase2021': {'doa_threshold': 20.0},
    'dcase2022': {'doa_threshold': 20.0},
    'dcase2023': {'doa_threshold': 20.0},
    'dcase2024': {
        'doa_threshold': 20.0,
        'dist_threshold': math.inf,
        'reldist_threshold': 1.0,
        'evaluate_distance': True,
    },
    'dcase2025': {
        'doa_threshold': 20.0,
        'dist_threshold': math.inf,
        'reldist_threshold': 1.0,
        'req_onscreen': False,
    },
}

KEYS = {
    'dcase2019': dcase2019.KEYS,
    'dcase2020': dcase2020.KEYS,
    'dcase2021': dcase2021.KEYS,
    'dcase2022': segment.KEYS,
    'dcase2023': segment.KEYS,
    'dcase2024': frame.KEYS,
    'dcase2025': stereo.KEYS,
}


def _check_metric(metric: str) -> None:
  if metric not in METRICS:
    raise ValueError(f'Unknown metric {metric!r}; known: {METRICS}.')


def resolve_average(metric: str, average: str | None) -> str:
  """The averaging to use: the official default when `average` is None."""
  _check_metric(metric)
  if average is None:
    return AVERAGES[metric][0]
  if average not in AVERAGES[metric]:
    raise ValueError(
        f'{metric} supports average {AVERAGES[metric]}, not {average!r} (the '
        'official code has no other).'
    )
  return average


def make_accumulator(
    metric: str,
    *,
    average: str | None = None,
    num_classes: int | None = None,
    **thresholds,
) -> Accumulator:
  """A per-year accumulator: call `update(ref, pred)` per file, `compute()`.

  Args:
    metric: one of `METRICS`.
    average: 'macro' or 'micro'; None for the year's official default.
    num_classes: defaults to the year's class count.
    **thresholds: the options of `THRESHOLDS[metric]`.

  Returns:
    The accumulator.
  """
  average = resolve_average(metric, average)
  unknown = set(thresholds) - set(THRESHOLDS[metric])
  if unknown:
    raise TypeError(
        f'{metric} does not take {sorted(unknown)}; it takes '
        f'{sorted(THRESHOLDS[metric])}.'
    )
  opts = {**THRESHOLDS[metric], **thresholds}
  c = NUM_CLASSES[metric] if num_classes is None else int(num_classes)
  if metric == 'dcase2019':
    return dcase2019.Dcase2019Metrics(num_classes=c)
  if metric == 'dcase2020':
    return dcase2020.Dcase2020Metrics(num_classes=c, **opts)
  if metric == 'dcase2021':
    return dcase2021.Dcase2021Metrics(num_classes=c, **opts)
  if metric in ('dcase2022', 'dcase2023'):
    return segment.SegmentMetrics(
        num_classes=c, average=average, metric=metric, **opts
    )
  if metric == 'dcase2024':
    return frame.FrameMetrics(num_classes=c, average=average, **opts)
  return stereo.StereoMetrics(num_classes=c, average=average, **opts)


def class_labels(metric: str, num_classes: int) -> list[str]:
  """Class-wise result keys: the class names when known, else indices."""
  names = CLASS_NAMES[metric]
  if len(names) == num_classes:
    return list(names)
  return [str(i) for i in range(num_classes)]


def _classwise_to_dict(classwise, labels, keys) -> dict[str, dict[str, Any]]:
  return {
      label: {k: float(np.asarray(classwise[k])[i]) for k in keys}
      for i, label in enumerate(labels)
  }


def _jackknife_to_dict(jk, labels, keys) -> dict[str, Any]:
  out = {k: v for k, v in jk.items() if k != 'classwise'}
  if 'classwise' in jk:
    cw = jk['classwise']
    out['classwise'] = {
        label: {
            k: {
                'interval': [float(x) for x in cw[k]['interval'][i]],
                'estimate': float(cw[k]['estimate'][i]),
                'bias': float(cw[k]['bias'][i]),
                'std_err': float(cw[k]['std_err'][i]),
            }
            for k in keys
        }
        for i, label in enumerate(labels)
    }
  return out


def result_dict(
    acc: Accumulator, metric: str, *, jackknife: bool = False
) -> dict[str, Any]:
  """The stable, JSON-able result of an accumulator (see `evaluate`)."""
  scores = acc.compute()
  labels = class_labels(metric, acc.num_classes)
  out: dict[str, Any] = {'metric': metric, 'average': acc.average}
  out['files'] = acc.num_files
  for k in KEYS[metric]:
    out[k] = float(scores[k])
  if 'classwise' in scores:
    out['classwise'] = _classwise_to_dict(
        scores['classwise'], labels, acc.classwise_keys
    )
  if jackknife:
    out['jackknife'] = _jackknife_to_dict(
        jackknife_lib.jackknife(acc), labels, acc.classwise_keys
    )
  return out


def evaluate(
    metric: str,
    references: Mapping[str, events_lib.EventTable],
    predictions: Mapping[str, events_lib.EventTable],
    *,
    average: str | None = None,
    jackknife: bool = False,
    num_classes: int | None = None,
    missing: str = 'empty',
    **thresholds,
) -> dict[str, Any]:
  """Scores a set of recordings as the official code of `metric` does.

  Args:
    metric: 'dcase2019' ... 'dcase2025'.
    references: recording name -> reference table.
    predictions: recording name -> predicted table. Every name must have a
      reference.
    average: 'macro' or 'micro'; None for the official default (macro for
      2022-2025; 2019-2021 only have micro).
    jackknife: add leave-one-file-out 95 % intervals (`jackknife.py`).
    num_classes: defaults to the year's class count.
    missing: references without a prediction: 'empty' scores them against an
      empty prediction, 'skip' ignores them (the official drivers' behaviour),
      'error' raises.
    **thresholds: per-year options (`THRESHOLDS`), e.g. doa_threshold=20,
      dist_threshold, reldist_threshold, evaluate_distance (2024),
      req_onscreen (2025).

  Returns:
    {'metric', 'average', 'files', <score keys of the year>, ['classwise':
    {class name: {score key: value}}], ['jackknife': {score key:
    {'interval': [low, high], 'estimate', 'bias', 'std_err'}, 'classwise':
    ...}]} with Python floats (NaN where the official code gives NaN).

  Raises:
    ValueError: unknown metric / average / missing mode, predictions without
      a reference, or missing predictions with missing='error'.
  """
  if missing not in ('empty', 'skip', 'error'):
    raise ValueError(f'missing must be empty, skip or error, got {missing!r}.')
  extra = sorted(set(predictions) - set(references))
  if extra:
    raise ValueError(f'Predictions without a reference: {extra}.')
  absent = sorted(set(references) - set(predictions))
  if absent and missing == 'error':
    raise ValueError(f'References without a prediction: {absent}.')
  acc = make_accumulator(
      metric, average=average, num_classes=num_classes, **thresholds
  )
  names = sorted(predictions)
  if missing == 'empty':
    names = sorted(set(names) | set(absent))
  for name in names:
    pred = predictions.get(name)
    if pred is None:
      pred = events_lib.EventTable.empty(label_rate=references[name].label_rate)
    acc.update(references[name], pred, name=name)
  return result_dict(acc, metric, jackknife=jackknife)

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

"""DCASE2021 SELD metrics (SPEC section 6.3).

Reproduces `metrics/SELD_evaluation_metrics.py:SELDMetrics` and
`cls_compute_seld_results.py` of sharathadavanne/seld-dcase2021 (f8e09db):
the 2022/2023 block logic of `segment.py` (multi-track Hungarian matching,
track = position in the frame's list, `Np` quirk) with

* a fixed recording length of 600 label frames (60 blocks; frames >= 600 of
  either file are ignored),
* micro averaging only, no class-wise results,
* spatially wrong matched tracks counted as plain FP (no FP_spatial):
  F = TP / (eps + TP + 0.5 (FP + FN)), LR = DE_TP / (eps + DE_TP + DE_FN),
  LE = total_DE / DE_TP (180 when DE_TP = 0), ER = (S + D + I) / Nref,
  SELD = mean(ER, 1 - F, LE / 180, 1 - LR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seld_jax.metrics import _common
from seld_jax.metrics import segment

KEYS = ('ER', 'F', 'LE', 'LR', 'SELD')
NUM_FRAMES = 600  # `get_nb_frames()`: 60 s at 100-ms label frames.


class Dcase2021Metrics(_common.Accumulator):
  """DCASE2021 accumulator: `update(ref, pred)` per file, `compute()`."""

  metric = 'dcase2021'
  keys = KEYS
  classwise_keys = ()

  def __init__(
      self,
      num_classes: int = 12,
      doa_threshold: float = 20.0,
      *,
      num_frames: int = NUM_FRAMES,
  ):
    super().__init__()
    self.num_classes = num_classes
    self.doa_threshold = doa_threshold
    self.num_frames = num_frames
    self.average = 'micro'

  def _file_stats(self, ref, pred):
    return segment.segment_stats(
        ref,
        pred,
        num_classes=self.num_classes,
        doa_threshold=self.doa_threshold,
        num_frames=self.num_frames,
    )

  def _zero_stats(self):
    return segment.zero_stats(self.num_classes)

  def _scores(self, stats) -> dict[str, Any]:
    eps = _common.EPS
    tp = float(stats['TP'].sum())
    fp = float(stats['FP'].sum() + stats['FP_spatial'].sum())
    fn = float(stats['FN'].sum())
    de_tp = float(stats['DE_TP'].sum())
    de_fn = float(stats['DE_FN'].sum())
    total_de = float(stats['total_DE'].sum())
    nref = float(stats['Nref'].sum())
    er = (stats['S'] + stats['D'] + stats['I']) / float(nref + eps)
    f = tp / (eps + tp + 0.5 * (fp + fn))
    le = total_de / float(de_tp + eps) if de_tp else 180
    lr = de_tp / (eps + de_tp + de_fn)
    seld = np.mean([er, 1 - f, le / 180, 1 - lr])
    return {
        'ER': _common.to_float(er),
        'F': _common.to_float(f),
        'LE': _common.to_float(le),
        'LR': _common.to_float(lr),
        'SELD': _common.to_float(seld),
    }

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

"""DCASE2020 SELD metrics (SPEC section 6.2).

Reproduces `metrics/SELD_evaluation_metrics.py:SELDMetrics.update_seld_scores`
(polar angles) and the driver `calculate_dev_results_from_dcase_output.py` of
sharathadavanne/seld-dcase2020 (384ad9b):

* a fixed recording length of 600 label frames, 1-s blocks of 10 frames;
* one "instance" per class and block: Nref / Nsys count the (block, class)
  pairs active in the reference / prediction;
* for a (block, class) active in both, each reference frame that also has
  predictions contributes the frame's distance: the great-circle distance for
  one DOA on each side, else the *sum* of the Hungarian-matched distances;
  their mean over those frames is the block distance (TP if <= 20 degrees,
  else FN); no common frame -> FN;
* ER from per-block FP/FN; F = 2PR/(P+R) with P = TP/Nsys, R = TP/Nref;
  LE = mean block distance (180 if none); LR = the F-score of DE_TP;
  SELD = mean(ER, 1 - F, LE / 180, 1 - LR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seld_jax.metrics import _common

KEYS = ('ER', 'F', 'LE', 'LR', 'SELD')
NUM_FRAMES = 600
BLOCK_SIZE = 10
_STAT_KEYS = ('TP', 'FP', 'FN', 'S', 'D', 'I', 'Nref', 'Nsys', 'DE_TP')


def dcase2020_stats(
    ref,
    pred,
    *,
    num_classes: int = 14,
    doa_threshold: float = 20.0,
    num_frames: int = NUM_FRAMES,
) -> dict[str, np.ndarray]:
  """The statistics `update_seld_scores` adds for one recording."""
  c = num_classes
  nb_blocks = int(np.ceil(num_frames / float(BLOCK_SIZE)))
  limit = nb_blocks * BLOCK_SIZE
  r = _common.prepare(ref, c, limit)
  p = _common.prepare(pred, c, limit)
  fc_r = r.frame * c + r.class_index
  fc_p = p.frame * c + p.class_index
  nbc = nb_blocks * c
  to_bc = lambda fc: (fc // c) // BLOCK_SIZE * c + fc % c
  present_r = np.zeros((nbc,), bool)
  present_r[to_bc(fc_r)] = True
  present_p = np.zeros((nbc,), bool)
  present_p[to_bc(fc_p)] = True

  m = _common.match_groups(
      fc_r,
      fc_p,
      lambda i, j: _common.spherical_distance(
          r.azimuth[i], r.elevation[i], p.azimuth[j], p.elevation[j]
      ),
  )
  bc_common = to_bc(m.common_keys)
  frame_sum = np.bincount(bc_common, weights=m.group_cost_sum, minlength=nbc)
  frame_cnt = np.bincount(bc_common, minlength=nbc)

  both = present_r & present_p
  has_common = both & (frame_cnt > 0)
  avg = np.where(has_common, frame_sum / np.maximum(frame_cnt, 1), 0.0)
  tp = has_common & (avg <= doa_threshold)
  fn = (both & ~tp) | (present_r & ~present_p)
  fp = present_p & ~present_r
  loc_fn = fn.reshape(nb_blocks, c).sum(1)
  loc_fp = fp.reshape(nb_blocks, c).sum(1)
  return {
      'TP': np.asarray(tp.sum()),
      'FP': np.asarray(fp.sum()),
      'FN': np.asarray(fn.sum()),
      'S': np.asarray(np.minimum(loc_fp, loc_fn).sum()),
      'D': np.asarray(np.maximum(0, loc_fn - loc_fp).sum()),
      'I': np.asarray(np.maximum(0, loc_fp - loc_fn).sum()),
      'Nref': np.asarray(present_r.sum()),
      'Nsys': np.asarray(present_p.sum()),
      'DE_TP': np.asarray(has_common.sum()),
      'total_DE': np.asarray(avg[has_common].sum()),
  }


class Dcase2020Metrics(_common.Accumulator):
  """DCASE2020 accumulator: `update(ref, pred)` per file, `compute()`."""

  metric = 'dcase2020'
  keys = KEYS
  classwise_keys = ()

  def __init__(self, num_classes: int = 14, doa_threshold: float = 20.0):
    super().__init__()
    self.num_classes = num_classes
    self.doa_threshold = doa_threshold
    self.average = 'micro'

  def _file_stats(self, ref, pred):
    return dcase2020_stats(
        ref,
        pred,
        num_classes=self.num_classes,
        doa_threshold=self.doa_threshold,
    )

  def _zero_stats(self):
    out = {k: np.asarray(0) for k in _STAT_KEYS}
    out['total_DE'] = np.asarray(0.0)
    return out

  def _scores(self, stats) -> dict[str, Any]:
    eps = _common.EPS
    s = {k: float(v) for k, v in stats.items()}
    er = (s['S'] + s['D'] + s['I']) / float(s['Nref'] + eps)
    prec = s['TP'] / float(s['Nsys'] + eps)
    recall = s['TP'] / float(s['Nref'] + eps)
    f = 2 * prec * recall / (prec + recall + eps)
    if s['DE_TP']:
      le = s['total_DE'] / float(s['DE_TP'] + eps)
    else:
      le = 180
    de_prec = s['DE_TP'] / float(s['Nsys'] + eps)
    de_recall = s['DE_TP'] / float(s['Nref'] + eps)
    lr = 2 * de_prec * de_recall / (de_prec + de_recall + eps)
    seld = np.mean([er, 1 - f, le / 180, 1 - lr])
    return {
        'ER': float(er),
        'F': float(f),
        'LE': float(le),
        'LR': float(lr),
        'SELD': float(seld),
    }

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

"""DCASE2022 / DCASE2023 segment-level SELD metrics (SPEC section 6.4).

Reproduces `SELD_evaluation_metrics.py:SELDMetrics` and the driver
`cls_compute_seld_results.py:ComputeSELDResults` of sharathadavanne/
seld-dcase2022 (c8adb1d) and seld-dcase2023 (24d14c9), which are identical,
quirks included:

* N_f = the largest frame index in the reference file (not +1); blocks of 10
  label frames, `ceil(N_f / 10)` of them, so frame N_f itself is dropped when
  N_f is a multiple of 10, and predictions beyond the last block are ignored.
* A "track" is the position of a DOA in its frame's list (file order), not
  its source id; per (block, class, position) the matched angular distances
  of all frames are averaged and thresholded at `doa_threshold` (<=).
* A (block, class) present in both without any frame in common adds
  `Np` (not `Ng`) false negatives.
* Angles: great-circle distance of the polar angles
  (`distance_between_spherical_coordinates_rad`); predictions are polar
  angles converted from the Cartesian files, as in the official driver.
* ER is global; macro F/LE/LR/SELD average over all classes (absent ones
  count as F = 0, LE = 180, LR = 0).

The same per-file statistics also drive the DCASE2021 metric (fixed 600
frames, see `dcase2021.py`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seld_jax import events as events_lib
from seld_jax.metrics import _common

KEYS = ('ER', 'F', 'LE', 'LR', 'SELD')

_COUNT_KEYS = (
    'TP',
    'FP',
    'FP_spatial',
    'FN',
    'Nref',
    'total_DE',
    'DE_TP',
    'DE_FP',
    'DE_FN',
)


def segment_stats(
    ref: events_lib.EventTable,
    pred: events_lib.EventTable,
    *,
    num_classes: int,
    doa_threshold: float = 20.0,
    num_frames: int | None = None,
    angle: str = 'spherical',
    block_size: int = 10,
) -> dict[str, np.ndarray]:
  """The official `update_seld_scores` statistics of one recording.

  Args:
    ref: reference events.
    pred: predicted events.
    num_classes: number of classes C.
    doa_threshold: `lad_doa_thresh` in degrees.
    num_frames: the `_max_frames` passed to `segment_labels`; None for the
      2022/2023 rule (largest reference frame index), 600 for 2021.
    angle: 'spherical' (2021-2023, polar angles) or 'cartesian' (the 2024
      code's `SELDMetricsSegmentLevel`, unit vectors with +1e-10 norms).
    block_size: label frames per segment (10).

  Returns:
    Per-class arrays TP, FP, FP_spatial, FN, Nref, total_DE, DE_TP, DE_FP,
    DE_FN and scalars S, D, I.
  """
  c = num_classes
  nf = _common.last_ref_frame(ref) if num_frames is None else num_frames
  nb_blocks = int(math.ceil(nf / float(block_size)))
  limit = nb_blocks * block_size
  r = _common.prepare(ref, c, limit)
  p = _common.prepare(pred, c, limit)
  fc_r = r.frame * c + r.class_index
  fc_p = p.frame * c + p.class_index

  # Tracks per (block, class): the most DOAs in any one frame of the block.
  nbc = nb_blocks * c

  def per_block_max(fc):
    keys, _, counts = _common.group_runs(fc)
    out = np.zeros((nbc,), np.int64)
    np.maximum.at(out, (keys // c) // block_size * c + keys % c, counts)
    return out

  ng = per_block_max(fc_r)
  npr = per_block_max(fc_p)

  if angle == 'spherical':
    cost_fn = lambda i, j: _common.spherical_distance(
        r.azimuth[i], r.elevation[i], p.azimuth[j], p.elevation[j]
    )
  elif angle == 'cartesian':
    rx, ry, rz = _common.polar_to_unit_xyz(r.azimuth, r.elevation)
    px, py, pz = _common.polar_to_unit_xyz(p.azimuth, p.elevation)
    cost_fn = lambda i, j: _common.cartesian_distance(
        rx[i], ry[i], rz[i], px[j], py[j], pz[j]
    )
  else:
    raise ValueError(f'angle must be "spherical" or "cartesian", got {angle!r}')
  m = _common.match_groups(fc_r, fc_p, cost_fn)

  # Average distance per (block, class, reference position) = matched track.
  bc_m = (m.key // c) // block_size * c + m.key % c
  max_pos = int(m.ref_pos.max()) + 1 if len(m.ref_pos) else 1
  track_key = bc_m * max_pos + m.ref_pos
  tracks, inv = np.unique(track_key, return_inverse=True)
  avg = np.bincount(inv, weights=m.cost) / np.bincount(inv)
  track_bc = tracks // max_pos
  n_tracks = np.bincount(track_bc, minlength=nbc)
  n_tp = np.bincount(
      track_bc, weights=(avg <= doa_threshold), minlength=nbc
  ).astype(np.int64)
  sum_avg = np.bincount(track_bc, weights=avg, minlength=nbc)

  both = (ng > 0) & (npr > 0)
  matched = both & (n_tracks > 0)
  unmatched = both & (n_tracks == 0)
  ref_only = (ng > 0) & (npr == 0)
  pred_only = (ng == 0) & (npr > 0)
  zero = np.zeros_like(ng)
  fn = (
      np.where(unmatched, npr, zero)  # Code quirk: Np, not Ng.
      + np.where(matched, np.maximum(ng - npr, 0), zero)
      + np.where(ref_only, ng, zero)
  )
  fp = np.where(matched, np.maximum(npr - ng, 0), zero) + np.where(
      pred_only, npr, zero
  )
  tp = np.where(matched, n_tp, zero)
  fp_spatial = np.where(matched, n_tracks - n_tp, zero)
  de_tp = np.where(matched, n_tracks, zero)
  total_de = np.where(matched, sum_avg, 0.0)

  loc_fn = fn.reshape(nb_blocks, c).sum(1)
  loc_fp = (fp + fp_spatial).reshape(nb_blocks, c).sum(1)
  per_class = lambda a: a.reshape(nb_blocks, c).sum(0)
  return {
      'TP': per_class(tp),
      'FP': per_class(fp),
      'FP_spatial': per_class(fp_spatial),
      'FN': per_class(fn),
      'Nref': per_class(ng),
      'total_DE': per_class(total_de),
      'DE_TP': per_class(de_tp),
      'DE_FP': per_class(fp),
      'DE_FN': per_class(fn),
      'S': np.asarray(np.minimum(loc_fp, loc_fn).sum()),
      'D': np.asarray(np.maximum(0, loc_fn - loc_fp).sum()),
      'I': np.asarray(np.maximum(0, loc_fp - loc_fn).sum()),
  }


def zero_stats(num_classes: int) -> dict[str, np.ndarray]:
  out = {k: np.zeros((num_classes,), np.int64) for k in _COUNT_KEYS}
  out['total_DE'] = np.zeros((num_classes,))
  out.update({k: np.asarray(0) for k in ('S', 'D', 'I')})
  return out


def _early_stopping(er, f, le, lr):
  return np.mean([er, 1 - f, le / 180, 1 - lr], 0)


def scores_2022(
    stats: dict[str, np.ndarray], average: str, num_classes: int
) -> dict[str, Any]:
  """`SELDMetrics.compute_seld_scores` of 2022/2023 on summed statistics."""
  eps = _common.EPS
  tp, fp, fps, fn = stats['TP'], stats['FP'], stats['FP_spatial'], stats['FN']
  de_tp, de_fn, total_de = stats['DE_TP'], stats['DE_FN'], stats['total_DE']
  er = (stats['S'] + stats['D'] + stats['I']) / (stats['Nref'].sum() + eps)
  tp, fp, fps, fn = (np.asarray(a, np.float64) for a in (tp, fp, fps, fn))
  de_tp, de_fn = np.asarray(de_tp, np.float64), np.asarray(de_fn, np.float64)
  if average == 'micro':
    f = tp.sum() / (eps + tp.sum() + fps.sum() + 0.5 * (fp.sum() + fn.sum()))
    le = total_de.sum() / float(de_tp.sum() + eps) if de_tp.sum() else 180
    lr = de_tp.sum() / (eps + de_tp.sum() + de_fn.sum())
    seld = _early_stopping(er, f, le, lr)
    classwise = None
  elif average == 'macro':
    f = tp / (eps + tp + fps + 0.5 * (fp + fn))
    le = total_de / (de_tp + eps)
    le[de_tp == 0] = 180.0
    lr = de_tp / (eps + de_tp + de_fn)
    seld = _early_stopping(np.repeat(er, num_classes), f, le, lr)
    classwise = {
        'ER': np.repeat(er, num_classes),
        'F': f,
        'LE': le,
        'LR': lr,
        'SELD': seld,
    }
    f, le, lr, seld = f.mean(), le.mean(), lr.mean(), seld.mean()
  else:
    raise ValueError(f'average must be "macro" or "micro", got {average!r}.')
  out = {
      'ER': _common.to_float(er),
      'F': _common.to_float(f),
      'LE': _common.to_float(le),
      'LR': _common.to_float(lr),
      'SELD': _common.to_float(seld),
  }
  if classwise is not None:
    out['classwise'] = {
        k: np.asarray(v, np.float64) for k, v in classwise.items()
    }
  return out


class SegmentMetrics(_common.Accumulator):
  """DCASE2022/2023 accumulator: `update(ref, pred)` per file, `compute()`.

  `compute()` returns ER, F, LE, LR, SELD (floats) and, for macro
  averaging, `classwise`: key -> [C] array (rows of the official
  `classwise_results`).
  """

  keys = KEYS
  classwise_keys = KEYS

  def __init__(
      self,
      num_classes: int = 13,
      average: str = 'macro',
      doa_threshold: float = 20.0,
      *,
      angle: str = 'spherical',
      metric: str = 'dcase2023',
  ):
    super().__init__()
    if average not in ('macro', 'micro'):
      raise ValueError(f'average must be "macro" or "micro", got {average!r}.')
    self.num_classes = num_classes
    self.average = average
    self.doa_threshold = doa_threshold
    self.angle = angle
    self.metric = metric

  def _file_stats(self, ref, pred):
    return segment_stats(
        ref,
        pred,
        num_classes=self.num_classes,
        doa_threshold=self.doa_threshold,
        angle=self.angle,
    )

  def _zero_stats(self):
    return zero_stats(self.num_classes)

  def _scores(self, stats):
    return scores_2022(stats, self.average, self.num_classes)

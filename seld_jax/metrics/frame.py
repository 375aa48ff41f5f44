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

"""DCASE2024 frame-level SELD metrics with distance (SPEC section 6.5).

Reproduces `SELD_evaluation_metrics.py:SELDMetrics` and
`cls_compute_seld_results.py:ComputeSELDResults` of partha2409/
DCASE2024_seld_baseline (0b07887, 2024-06-18) with the default
`parameters.py` (`segment_based_metrics=False`, `evaluate_distance=True`,
`lad_doa_thresh=20`, `lad_dist_thresh=inf`, `lad_reldist_thresh=1.0`):

* N_f = the largest reference frame index; frames 0 .. N_f - 1 are scored,
  so the last annotated frame and every prediction from it on are ignored.
* Per (frame, class) present in both: Hungarian matching on the angle between
  unit vectors (`distance_between_cartesian_coordinates`, +1e-10 in the
  norms; polar angles are first converted as
  `convert_output_format_polar_to_cartesian`). Each matched pair is a
  detection; it is spatially wrong (FP_spatial, and an ER insertion) when
  DOA error > doa_threshold, |d_ref - d_pred| > dist_threshold or
  |d_ref - d_pred| / (d_ref + eps) > reldist_threshold.
* macro: F_c, DOAE_c, DistE_c, RDE_c per class (NaN where a class has no
  matched pair), F = mean of all classes, DOAE/DistE/RDE = nanmean,
  SELD_c = nanmean(1 - F_c, DOAE_c / 180, RDE_c), SELD = mean(SELD_c).
* micro: the same from summed counts (NaN errors when nothing matched).

Distances are in metres: reference files (cm) are converted by the readers,
predictions are taken as written (the baseline writes metres).

`frame_level_stats` is also the core of the DCASE2025 stereo metric
(`stereo.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import warnings

import numpy as np

from seld_jax import events as events_lib
from seld_jax.metrics import _common

KEYS = ('ER', 'F', 'DOAE', 'DistE', 'RDE', 'LR', 'SELD')

_COUNT_KEYS = (
    'TP',
    'FP',
    'FP_spatial',
    'FN',
    'Nref',
    'DE_TP',
    'DE_FP',
    'DE_FN',
)


def frame_level_stats(
    r: events_lib.EventTable,
    p: events_lib.EventTable,
    *,
    num_classes: int,
    num_frames: int,
    cost_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    pair_fn: Callable[[Any], tuple[np.ndarray, dict[str, np.ndarray]]],
) -> dict[str, np.ndarray]:
  """The 2024/2025 `update_seld_scores` statistics of one recording.

  Args:
    r: reference rows, as `_common.prepare` returns them (frames < num_frames).
    p: predicted rows, likewise.
    num_classes: C.
    num_frames: number of scored frames.
    cost_fn: matching cost of (reference rows, prediction rows).
    pair_fn: given the `_common.Matches`, returns (spatially-wrong flag per
      matched pair, {total name: per-pair value to sum per class}).

  Returns:
    Per-class arrays TP, FP, FP_spatial, FN, Nref, DE_TP, DE_FP, DE_FN, the
    per-class totals of `pair_fn` and scalars S, D, I.
  """
  c = num_classes
  n = num_frames * c
  fc_r = r.frame * c + r.class_index
  fc_p = p.frame * c + p.class_index
  ng = np.bincount(fc_r, minlength=n)
  npr = np.bincount(fc_p, minlength=n)
  m = _common.match_groups(fc_r, fc_p, cost_fn)
  wrong, totals = pair_fn(m)
  wrong = np.asarray(wrong, bool)
  cls = m.key % c
  spatial_fc = np.bincount(m.key, weights=wrong, minlength=n).astype(np.int64)
  fn_fc = np.maximum(ng - npr, 0)
  fp_fc = np.maximum(npr - ng, 0)
  loc_fn = fn_fc.reshape(num_frames, c).sum(1)
  loc_fp = (fp_fc + spatial_fc).reshape(num_frames, c).sum(1)
  per_class = lambda a: a.reshape(num_frames, c).sum(0)
  fp = per_class(fp_fc)
  fn = per_class(fn_fc)
  out = {
      'TP': np.bincount(cls, weights=~wrong, minlength=c).astype(np.int64),
      'FP': fp,
      'FP_spatial': (
          np.bincount(cls, weights=wrong, minlength=c).astype(np.int64)
      ),
      'FN': fn,
      'Nref': per_class(ng),
      'DE_TP': np.bincount(cls, minlength=c).astype(np.int64),
      'DE_FP': fp.copy(),
      'DE_FN': fn.copy(),
      'S': np.asarray(np.minimum(loc_fp, loc_fn).sum()),
      'D': np.asarray(np.maximum(0, loc_fn - loc_fp).sum()),
      'I': np.asarray(np.maximum(0, loc_fp - loc_fn).sum()),
  }
  for name, values in totals.items():
    out[name] = np.bincount(cls, weights=values, minlength=c)
  return out


def zero_stats(num_classes: int, totals: tuple[str, ...]) -> dict:
  out = {k: np.zeros((num_classes,), np.int64) for k in _COUNT_KEYS}
  out.update({k: np.zeros((num_classes,)) for k in totals})
  out.update({k: np.asarray(0) for k in ('S', 'D', 'I')})
  return out


def _check_distance(table, what):
  if len(table) and np.any(np.isnan(table.distance)):
    raise ValueError(
        f'dcase2024 with evaluate_distance needs distances; the {what} has '
        'rows without one (the official code asserts here). Pass '
        'evaluate_distance=False to score directions only.'
    )


def nanmean(x, axis=None):
  """np.nanmean without the all-NaN RuntimeWarning."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)
    return np.nanmean(x, axis=axis)


def ratio_or_nan(total, de_tp):
  """total / (de_tp + eps), NaN where de_tp == 0 (macro error terms)."""
  out = total / (de_tp + _common.EPS)
  out[de_tp == 0] = np.nan
  return out


class FrameMetrics(_common.Accumulator):
  """DCASE2024 accumulator: `update(ref, pred)` per file, `compute()`.

  `compute()` returns ER, F, DOAE, DistE (metres), RDE, LR, SELD and, for
  macro averaging, `classwise`: key -> [C] array. With
  `evaluate_distance=False` (the 2024 code's 2023-style mode) DistE and RDE
  are NaN, distance thresholds are not applied and
  SELD = nanmean(ER, 1 - F, DOAE / 180, 1 - LR).
  """

  metric = 'dcase2024'
  keys = KEYS
  classwise_keys = KEYS

  def __init__(
      self,
      num_classes: int = 13,
      average: str = 'macro',
      doa_threshold: float = 20.0,
      dist_threshold: float = np.inf,
      reldist_threshold: float = 1.0,
      *,
      evaluate_distance: bool = True,
  ):
    super().__init__()
    if average not in ('macro', 'micro'):
      raise ValueError(f'average must be "macro" or "micro", got {average!r}.')
    self.num_classes = num_classes
    self.average = average
    self.doa_threshold = doa_threshold
    self.dist_threshold = dist_threshold
    self.reldist_threshold = reldist_threshold
    self.evaluate_distance = evaluate_distance

  _TOTALS = ('total_AngE', 'total_DistE', 'total_RelDistE')

  def _file_stats(self, ref, pred):
    nf = _common.last_ref_frame(ref)
    r = _common.prepare(ref, self.num_classes, nf)
    p = _common.prepare(pred, self.num_classes, nf)
    if self.evaluate_distance:
      _check_distance(r, 'reference')
      _check_distance(p, 'prediction')
    rx, ry, rz = _common.polar_to_unit_xyz(r.azimuth, r.elevation)
    px, py, pz = _common.polar_to_unit_xyz(p.azimuth, p.elevation)
    eval_dist = self.evaluate_distance

    def cost_fn(i, j):
      return _common.cartesian_distance(
          rx[i], ry[i], rz[i], px[j], py[j], pz[j]
      )

    def pair_fn(m):
      doa = m.cost
      wrong = doa > self.doa_threshold
      if eval_dist:
        de = np.abs(r.distance[m.ref] - p.distance[m.pred])
        rde = de / (r.distance[m.ref] + _common.EPS)
        wrong = (
            wrong | (de > self.dist_threshold) | (rde > self.reldist_threshold)
        )
      else:
        de = rde = np.zeros_like(doa)
      return wrong, {
          'total_AngE': doa,
          'total_DistE': de,
          'total_RelDistE': rde,
      }

    return frame_level_stats(
        r,
        p,
        num_classes=self.num_classes,
        num_frames=nf,
        cost_fn=cost_fn,
        pair_fn=pair_fn,
    )

  def _zero_stats(self):
    return zero_stats(self.num_classes, self._TOTALS)

  def _scores(self, stats) -> dict[str, Any]:
    eps = _common.EPS
    f64 = lambda k: np.asarray(stats[k], np.float64)
    tp, fp, fps, fn = f64('TP'), f64('FP'), f64('FP_spatial'), f64('FN')
    de_tp, de_fn = f64('DE_TP'), f64('DE_FN')
    ang, dist, rel = (
        f64('total_AngE'),
        f64('total_DistE'),
        f64('total_RelDistE'),
    )
    er = (stats['S'] + stats['D'] + stats['I']) / (stats['Nref'].sum() + eps)

    def seld_of(er, f, ae, lr, rde):
      if self.evaluate_distance:
        return nanmean([1 - f, ae / 180, rde], 0)
      return nanmean([er, 1 - f, ae / 180, 1 - lr], 0)

    classwise = None
    if self.average == 'micro':
      f = tp.sum() / (eps + tp.sum() + fps.sum() + 0.5 * (fp.sum() + fn.sum()))
      n = de_tp.sum()
      ang_e = ang.sum() / float(n + eps) if n else np.nan
      dist_e = dist.sum() / float(n + eps) if n else np.nan
      rel_e = rel.sum() / float(n + eps) if n else np.nan
      lr = n / (eps + n + de_fn.sum())
      seld = seld_of(er, f, ang_e, lr, rel_e)
    else:
      f = tp / (eps + tp + fps + 0.5 * (fp + fn))
      ang_e = ratio_or_nan(ang, de_tp)
      dist_e = ratio_or_nan(dist, de_tp)
      rel_e = ratio_or_nan(rel, de_tp)
      lr = de_tp / (eps + de_tp + de_fn)
      seld = seld_of(np.repeat(er, self.num_classes), f, ang_e, lr, rel_e)
      classwise = {
          'ER': np.repeat(er, self.num_classes),
          'F': f,
          'DOAE': ang_e,
          'DistE': dist_e,
          'RDE': rel_e,
          'LR': lr,
          'SELD': seld,
      }
      f, lr, seld = f.mean(), lr.mean(), seld.mean()
      ang_e, dist_e, rel_e = nanmean(ang_e), nanmean(dist_e), nanmean(rel_e)
    if not self.evaluate_distance:
      dist_e = rel_e = np.nan
      if classwise is not None:
        classwise['DistE'] = np.full(self.num_classes, np.nan)
        classwise['RDE'] = np.full(self.num_classes, np.nan)
    out = {
        'ER': _common.to_float(er),
        'F': _common.to_float(f),
        'DOAE': _common.to_float(ang_e),
        'DistE': _common.to_float(dist_e),
        'RDE': _common.to_float(rel_e),
        'LR': _common.to_float(lr),
        'SELD': _common.to_float(seld),
    }
    if classwise is not None:
      out['classwise'] = {
          k: np.asarray(v, np.float64) for k, v in classwise.items()
      }
    return out

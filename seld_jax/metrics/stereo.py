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

"""DCASE2025 stereo SELD metrics (SPEC section 6.6).

Reproduces `metrics.py:SELDMetrics` / `metrics.py:ComputeSELDResults` and
`utils.organize_labels` of partha2409/DCASE2025_seld_baseline (42a48b6,
2025-05-27), defaults from `parameters.py` (`lad_doa_thresh=20`,
`lad_dist_thresh=inf`, `lad_reldist_thresh=1.0`, `lad_req_onscreen=False`):

* N_f = the largest reference frame index (0 for an empty reference: nothing
  is scored); frames 0 .. N_f - 1 are scored.
* Per (frame, class) at most 10 tracks (`organize_labels`): a row takes its
  source id when free and < 10, else the lowest free id; with no free id it
  overwrites track 0.
* Matching on |fold(az_ref) - fold(az_pred)|, azimuths folded to the front
  [-90, 90] (stereo front/back ambiguity); a matched pair is spatially wrong
  when that error > doa_threshold, the distance error > dist_threshold, the
  relative distance error > reldist_threshold, or (with `req_onscreen`) the
  on-screen flags differ. On-screen accuracy counts equal flags over all
  matched pairs.
* macro: per-class F, DOAE, DistE, RDE, on-screen accuracy (NaN where a class
  has no matched pair); F = mean of all classes, the others nanmean. No ER and
  no aggregate SELD score.

Distances are reported in centimetres, as the official code (which reads the
files without unit conversion) does; the metre tables are converted back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seld_jax import events as events_lib
from seld_jax.metrics import _common
from seld_jax.metrics import frame

KEYS = ('F', 'DOAE', 'DistE', 'RDE', 'onscreen_acc')
MAX_TRACKS = 10
_TOTALS = (
    'total_AngE',
    'total_DistE',
    'total_RelDistE',
    'total_OnscreenCorrect',
)


def _metres_to_cm(d: np.ndarray) -> np.ndarray:
  """Centimetres, snapped to integers within 1e-9 (undoes the cm->m read)."""
  cm = np.asarray(d, np.float64) * 100.0
  nearest = np.round(cm)
  return np.where(np.abs(cm - nearest) < 1e-9, nearest, cm)


def organize_tracks(t: events_lib.EventTable, num_classes: int) -> np.ndarray:
  """Row indices kept by `utils.organize_labels`, in its dictionary order.

  `t` must be grouped by (frame, class) (see `_common.prepare`). Only groups
  with more than `MAX_TRACKS` rows can lose rows; others are kept as is.
  """
  keys = t.frame * num_classes + t.class_index
  _, starts, counts = _common.group_runs(keys)
  big = np.flatnonzero(counts > MAX_TRACKS)
  if not len(big):
    return np.arange(len(t))
  pieces = []
  done = 0
  for g in big:
    start, count = int(starts[g]), int(counts[g])
    tracks: dict[int, int] = {}
    for row in range(start, start + count):
      source = int(t.source[row])
      if source not in tracks and source < MAX_TRACKS:
        track = source
      else:
        free = set(range(MAX_TRACKS)) - tracks.keys()
        track = min(free) if free else 0
      tracks[track] = row  # Replaces in place when the id exists.
    pieces.append(np.arange(done, start))
    pieces.append(np.asarray(list(tracks.values()), np.int64))
    done = start + count
  pieces.append(np.arange(done, len(t)))
  return np.concatenate(pieces).astype(np.int64)


def stereo_stats(
    ref: events_lib.EventTable,
    pred: events_lib.EventTable,
    *,
    num_classes: int = 13,
    doa_threshold: float = 20.0,
    dist_threshold: float = np.inf,
    reldist_threshold: float = 1.0,
    req_onscreen: bool = False,
) -> dict[str, np.ndarray]:
  """The statistics `SELDMetrics.update_seld_scores` adds for one clip."""
  nf = _common.last_ref_frame(ref)
  r = _common.prepare(ref, num_classes, nf)
  p = _common.prepare(pred, num_classes, nf)
  r = r.select(organize_tracks(r, num_classes))
  p = p.select(organize_tracks(p, num_classes))
  for table, what in ((r, 'reference'), (p, 'prediction')):
    if len(table) and (
        np.any(np.isnan(table.distance)) or np.any(table.onscreen < 0)
    ):
      raise ValueError(
          f'dcase2025 needs distance and on-screen columns; the {what} has '
          'rows without them.'
      )
  fold_r = _common.fold_azimuth(r.azimuth)
  fold_p = _common.fold_azimuth(p.azimuth)
  dist_r = _metres_to_cm(r.distance)
  dist_p = _metres_to_cm(p.distance)
  on_r = r.onscreen.astype(np.float64)
  on_p = p.onscreen.astype(np.float64)

  def cost_fn(i, j):
    return np.abs(fold_r[i] - fold_p[j])

  def pair_fn(m):
    doa = m.cost
    de = np.abs(dist_r[m.ref] - dist_p[m.pred])
    rde = de / (dist_r[m.ref] + _common.EPS)
    on_ok = on_r[m.ref] == on_p[m.pred]
    wrong = np.any(
        (
            doa > doa_threshold,
            de > dist_threshold,
            rde > reldist_threshold,
            np.logical_and(np.logical_not(on_ok), req_onscreen),
        ),
        axis=0,
    )
    return wrong, {
        'total_AngE': doa,
        'total_DistE': de,
        'total_RelDistE': rde,
        'total_OnscreenCorrect': on_ok.astype(np.float64),
    }

  return frame.frame_level_stats(
      r,
      p,
      num_classes=num_classes,
      num_frames=nf,
      cost_fn=cost_fn,
      pair_fn=pair_fn,
  )


class StereoMetrics(_common.Accumulator):
  """DCASE2025 accumulator: `update(ref, pred)` per clip, `compute()`.

  `compute()` returns F, DOAE, DistE (cm), RDE, onscreen_acc and, for macro
  averaging, `classwise`: key -> [C] array.
  """

  metric = 'dcase2025'
  keys = KEYS
  classwise_keys = KEYS

  def __init__(
      self,
      num_classes: int = 13,
      average: str = 'macro',
      doa_threshold: float = 20.0,
      dist_threshold: float = np.inf,
      reldist_threshold: float = 1.0,
      req_onscreen: bool = False,
  ):
    super().__init__()
    if average not in ('macro', 'micro'):
      raise ValueError(f'average must be "macro" or "micro", got {average!r}.')
    self.num_classes = num_classes
    self.average = average
    self.doa_threshold = doa_threshold
    self.dist_threshold = dist_threshold
    self.reldist_threshold = reldist_threshold
    self.req_onscreen = req_onscreen

  def _file_stats(self, ref, pred):
    return stereo_stats(
        ref,
        pred,
        num_classes=self.num_classes,
        doa_threshold=self.doa_threshold,
        dist_threshold=self.dist_threshold,
        reldist_threshold=self.reldist_threshold,
        req_onscreen=self.req_onscreen,
    )

  def _zero_stats(self):
    return frame.zero_stats(self.num_classes, _TOTALS)

  def _scores(self, stats) -> dict[str, Any]:
    eps = _common.EPS
    f64 = lambda k: np.asarray(stats[k], np.float64)
    tp, fp, fps, fn = f64('TP'), f64('FP'), f64('FP_spatial'), f64('FN')
    de_tp = f64('DE_TP')
    totals = [f64(k) for k in _TOTALS]
    if self.average == 'micro':
      f = tp.sum() / (eps + tp.sum() + fps.sum() + 0.5 * (fp.sum() + fn.sum()))
      n = de_tp.sum()
      errs = [t.sum() / float(n + eps) if n else np.nan for t in totals]
      out = dict(zip(KEYS, [f] + errs))
      out = {k: _common.to_float(v) for k, v in out.items()}
    else:
      f = tp / (eps + tp + fps + 0.5 * (fp + fn))
      errs = [frame.ratio_or_nan(t, de_tp) for t in totals]
      classwise = dict(zip(KEYS, [f] + errs))
      out = {'F': _common.to_float(f.mean())}
      for k, v in zip(KEYS[1:], errs):
        out[k] = _common.to_float(frame.nanmean(v))
      out['classwise'] = {
          k: np.asarray(v, np.float64) for k, v in classwise.items()
      }
    return out

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

"""DCASE2019 SELD metrics (SPEC section 6.1).

Reproduces `metrics/evaluation_metrics.py:SELDMetrics` as driven by
`calculate_SELD_metrics.py` of sharathadavanne/seld-dcase2019 (e88c62b):

* Both files become classification labels [3000 frames of 20 ms, C classes,
  36 x 9 direction cells] on a 10-degree grid (azimuth -180..170, elevation
  -40..40; angles clipped to that range, cell index
  `((azi + 180) // 10) * 9 + (ele + 40) // 10`). Frames >= 3000 are dropped.
  Several events of one class in one cell count once.
* SED on 1-s segments of 50 frames; code quirk: segment i covers frames
  [50 i, 50 i + 49) (the last frame of each second is ignored). ER from
  per-segment S/D/I over class activity, F = 2PR / (P + R).
* DOA per frame, class-agnostic: frame recall = fraction of frames whose
  number of active (class, cell) pairs is the same in both (0 == 0
  included); DOA error = sum over frames of the Hungarian-matched great-circle
  distances between the cells' angles / total number of predicted pairs.
* SELD = mean(ER, 1 - F, DOA / 180, 1 - frame recall).

The official code clips only predicted angles; reference angles are assumed
on the grid (as in the dataset) and are clipped too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seld_jax import events as events_lib
from seld_jax.metrics import _common

KEYS = ('ER', 'F', 'DOA', 'FR', 'SELD')
NUM_FRAMES = 3000  # 60 s of 20-ms frames.
BLOCK_SIZE = 50  # `nb_frames_1s`.
_AZI_MIN, _AZI_MAX = -180, 170
_ELE_MIN, _ELE_MAX = -40, 40
_NB_ELE = 9
_NB_CELLS = 36 * _NB_ELE
_STAT_KEYS = (
    'S',
    'D',
    'I',
    'TP',
    'Nref',
    'Nsys',
    'pred_doas',
    'good_frames',
    'frames',
)


def grid_cells(
    table: events_lib.EventTable, num_classes: int, num_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Unique active (frame, class, cell) triples of the classification labels."""
  t = _common.prepare(table, num_classes, num_frames)
  azi = np.clip(t.azimuth, _AZI_MIN, _AZI_MAX)
  ele = np.clip(t.elevation, _ELE_MIN, _ELE_MAX)
  cell = (np.floor_divide(azi - _AZI_MIN, 10) * _NB_ELE) + np.floor_divide(
      ele - _ELE_MIN, 10
  )
  cell = cell.astype(np.int64)
  key = (t.frame * num_classes + t.class_index) * _NB_CELLS + cell
  key = np.unique(key)
  frame, rest = np.divmod(key, num_classes * _NB_CELLS)
  cls, cell = np.divmod(rest, _NB_CELLS)
  return frame, cls, cell


def _cell_angles(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """`get_matrix_index`: the cell's (azimuth, elevation) in degrees."""
  return (cell // _NB_ELE) * 10 + _AZI_MIN, (cell % _NB_ELE) * 10 + _ELE_MIN


def dcase2019_stats(
    ref: events_lib.EventTable,
    pred: events_lib.EventTable,
    *,
    num_classes: int = 11,
    num_frames: int = NUM_FRAMES,
    block_size: int = BLOCK_SIZE,
) -> dict[str, np.ndarray]:
  """The statistics `update_sed_scores` + `update_doa_scores` add per file."""
  c = num_classes
  f_r, c_r, cell_r = grid_cells(ref, c, num_frames)
  f_p, c_p, cell_p = grid_cells(pred, c, num_frames)

  # SED: class activity, max over 49-frame blocks (the quirk).
  nb_blocks = int(np.ceil(float(num_frames) / block_size))

  def blocks(frames, classes):
    active = np.zeros((num_frames, c), bool)
    active[frames, classes] = True
    out = np.zeros((nb_blocks, c), bool)
    for i in range(nb_blocks):
      seg = active[i * block_size : i * block_size + block_size - 1]
      if len(seg):
        out[i] = seg.max(0)
    return out

  t_blk = blocks(f_r, c_r)
  o_blk = blocks(f_p, c_p)
  fp = (~t_blk & o_blk).sum(1)
  fn = (t_blk & ~o_blk).sum(1)

  # DOA: class-agnostic per frame.
  n_gt = np.bincount(f_r, minlength=num_frames)
  n_pred = np.bincount(f_p, minlength=num_frames)
  azi_r, ele_r = _cell_angles(cell_r)
  azi_p, ele_p = _cell_angles(cell_p)
  m = _common.match_groups(
      f_r,
      f_p,
      lambda i, j: _common.spherical_distance(
          azi_r[i], ele_r[i], azi_p[j], ele_p[j]
      ),
  )
  return {
      'S': np.asarray(np.minimum(fp, fn).sum()),
      'D': np.asarray(np.maximum(0, fn - fp).sum()),
      'I': np.asarray(np.maximum(0, fp - fn).sum()),
      'TP': np.asarray((t_blk & o_blk).sum()),
      'Nref': np.asarray(t_blk.sum()),
      'Nsys': np.asarray(o_blk.sum()),
      'doa_loss': np.asarray(m.group_cost_sum.sum()),
      'pred_doas': np.asarray(len(f_p)),
      'good_frames': np.asarray((n_gt == n_pred).sum()),
      'frames': np.asarray(num_frames),
  }


class Dcase2019Metrics(_common.Accumulator):
  """DCASE2019 accumulator: `update(ref, pred)` per file, `compute()`.

  Tables hold 20-ms frames (label_rate 50) as `formats.read_metadata` makes
  them from the DCASE2019 files.
  """

  metric = 'dcase2019'
  label_rate = 50.0
  keys = KEYS
  classwise_keys = ()

  def __init__(self, num_classes: int = 11, num_frames: int = NUM_FRAMES):
    super().__init__()
    self.num_classes = num_classes
    self.num_frames = num_frames
    self.average = 'micro'

  def _file_stats(self, ref, pred):
    return dcase2019_stats(
        ref, pred, num_classes=self.num_classes, num_frames=self.num_frames
    )

  def _zero_stats(self):
    out = {k: np.asarray(0) for k in _STAT_KEYS}
    out['doa_loss'] = np.asarray(0.0)
    return out

  def _scores(self, stats) -> dict[str, Any]:
    eps = _common.EPS
    s = {k: np.float64(v) for k, v in stats.items()}
    with np.errstate(divide='ignore', invalid='ignore'):
      # No eps here in the official code: NaN / inf when nothing is active.
      er = (s['S'] + s['D'] + s['I']) / (s['Nref'] + 0.0)
      prec = s['TP'] / (s['Nsys'] + eps)
      recall = s['TP'] / (s['Nref'] + eps)
      f = 2 * prec * recall / (prec + recall + eps)
      doa = s['doa_loss'] / s['pred_doas']
      fr = s['good_frames'] / s['frames']
    seld = np.mean([er, 1 - f, doa / 180, 1 - fr])
    return {
        'ER': float(er),
        'F': float(f),
        'DOA': float(doa),
        'FR': float(fr),
        'SELD': float(seld),
    }

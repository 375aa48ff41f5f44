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

"""Hand-computable tests of `seld_jax.metrics` (exact counts) and its API.

Agreement with the official code on CSV scenarios is in
metrics_golden_test.py.
"""

import json
import math

import numpy as np
import pytest
from scipy import optimize

from seld_jax import events
from seld_jax import metrics
from seld_jax.metrics import _common
from seld_jax.metrics import dcase2019
from seld_jax.metrics import jackknife
from seld_jax.metrics import stereo


def table(rows, *, label_rate=10.0):
  """rows: (frame, class, azi, ele[, dist_m[, source[, onscreen]]])."""
  if not rows:
    return events.EventTable.empty(label_rate=label_rate)
  rows = [tuple(r) + (np.nan, 0, -1)[len(r) - 4 :] for r in rows]
  f, c, a, e, d, s, o = (np.asarray(x) for x in zip(*rows))
  return events.EventTable.from_columns(
      f, c, a, e, distance=d, source=s, onscreen=o, label_rate=label_rate
  )


def run(metric, ref, pred, **kwargs):
  acc = metrics.make_accumulator(metric, **kwargs)
  acc.update(ref, pred)
  return acc


# DCASE2022/2023 segment metrics
# -----------------------------------------------------------------------------


def test_segment_counts_hand_computed():
  ref = table(
      [(f, 0, 0, 0) for f in range(10)]
      + [(f, 1, 90, 0) for f in range(5)]
      + [(f, 2, 0, 0) for f in range(10, 20)]
  )
  pred = table(
      [(f, 0, 10, 0) for f in range(10)]  # 10 deg: TP.
      + [(f, 1, 135, 0) for f in range(5)]  # 45 deg: FP_spatial.
      + [(f, 3, 0, 0) for f in (12, 13)]  # Only predicted: FP.
  )  # Class 2 never predicted: FN.
  acc = run('dcase2023', ref, pred, average='micro')
  c = acc.counts()
  assert c['TP'][:4] == [1, 0, 0, 0]
  assert c['FP_spatial'][:4] == [0, 1, 0, 0]
  assert c['FP'][:4] == [0, 0, 0, 1]
  assert c['FN'][:4] == [0, 0, 1, 0]
  assert c['DE_TP'][:4] == [1, 1, 0, 0]
  assert c['Nref'][:4] == [1, 1, 1, 0]
  # Block 0: one insertion (spatial FP); block 1: FN + FP = substitution.
  assert (c['S'], c['D'], c['I']) == (1, 0, 1)
  r = acc.compute()
  assert r['ER'] == pytest.approx(2 / 3)
  assert r['F'] == pytest.approx(1 / 3)
  assert r['LE'] == pytest.approx(27.5)
  assert r['LR'] == pytest.approx(2 / 3)
  assert r['SELD'] == pytest.approx(
      np.mean([2 / 3, 1 - 1 / 3, 27.5 / 180, 1 - 2 / 3])
  )


def test_segment_np_quirk_without_common_frame():
  # Class 0 is in block 0 of both, but in different frames: FN += Np (2).
  ref = table([(0, 0, 0, 0), (1, 0, 0, 0), (15, 5, 0, 0)])
  pred = table([(f, 0, a, 0) for f in (5, 6) for a in (0, 90)])
  c = run('dcase2023', ref, pred, average='micro').counts()
  assert c['FN'][0] == 2 and c['DE_FN'][0] == 2
  assert c['FN'][5] == 1
  assert c['Nref'][0] == 1 and c['DE_TP'][0] == 0
  assert (c['S'], c['D'], c['I']) == (0, 3, 0)


def test_segment_track_is_list_position():
  # Frame 0 matches reference position 0 (105 deg), frame 1 position 1
  # (5 deg): two matched "tracks" although Np = 1.
  ref = table([(0, 0, 10, 0), (1, 0, 10, 0), (1, 0, -100, 0)])
  pred = table([(0, 0, -95, 0), (1, 0, -95, 0)])
  c = run('dcase2023', ref, pred, average='micro').counts()
  assert c['DE_TP'][0] == 2
  assert c['TP'][0] == 1 and c['FP_spatial'][0] == 1
  assert c['FN'][0] == 1  # Ng = 2 > Np = 1.
  assert c['total_DE'][0] == pytest.approx(110.0)


def test_segment_last_frame_quirk():
  # N_f = 10 (the largest reference frame): one block, frames 0..9 only.
  ref = table([(f, 0, 0, 0) for f in range(11)])
  pred = table([(10, 1, 0, 0), (12, 1, 0, 0)])
  c = run('dcase2023', ref, pred).counts()
  assert c['Nref'][0] == 1 and c['FN'][0] == 1 and sum(c['FP']) == 0
  # N_f = 11: two blocks, frames 0..19 (prediction at 12 now counts).
  ref = table([(f, 0, 0, 0) for f in range(12)])
  c = run('dcase2023', ref, pred).counts()
  assert c['Nref'][0] == 2 and c['FP'][1] == 1


def test_segment_macro_averages_all_classes():
  ref = table([(f, 0, 0, 0) for f in range(10)])
  r = metrics.evaluate('dcase2023', {'a': ref}, {'a': ref})
  # One perfect class, 12 absent ones (F = 0, LE = 180, LR = 0).
  assert r['F'] == pytest.approx(1 / 13)
  assert r['LE'] == pytest.approx(12 * 180 / 13)
  assert r['classwise']['female_speech']['F'] == pytest.approx(1.0)
  assert r['classwise']['knock']['LE'] == 180.0


def test_dcase2021_counts_spatial_errors_as_fp():
  ref = table([(f, 0, 0, 0) for f in range(10)])
  pred = table([(f, 0, 45, 0) for f in range(10)])
  r = metrics.evaluate('dcase2021', {'a': ref}, {'a': pred})
  # TP 0, FP 1 (spatial), FN 0: F = 0; DE_TP = 1, LR = 1, LE = 45.
  assert r['F'] == 0 and r['LR'] == pytest.approx(1.0)
  assert r['LE'] == pytest.approx(45.0)
  assert r['ER'] == pytest.approx(1.0)
  assert 'classwise' not in r and r['average'] == 'micro'


def test_dcase2021_fixed_600_frames():
  ref = table([(598, 0, 0, 0), (599, 0, 0, 0), (600, 1, 0, 0)])
  pred = table([(599, 0, 0, 0), (650, 2, 0, 0)])
  c = run('dcase2021', ref, pred).counts()
  assert sum(c['Nref']) == 1 and sum(c['FP']) == 0 and sum(c['TP']) == 1


# DCASE2020
# -----------------------------------------------------------------------------


def test_dcase2020_block_instances():
  ref = table([(f, 0, 0, 0) for f in range(10)])
  pred = table(
      [(f, 0, 10, 0) for f in range(5)]
      + [(f, 0, 40, 0) for f in range(5, 10)]
      + [(3, 1, 0, 0)]
  )
  acc = run('dcase2020', ref, pred)
  c = acc.counts()
  # Mean frame distance 25 > 20: FN; class 1 only predicted: FP.
  assert (c['TP'], c['FN'], c['FP'], c['Nref'], c['Nsys']) == (0, 1, 1, 1, 2)
  assert (c['S'], c['D'], c['I']) == (1, 0, 0)
  r = acc.compute()
  assert r['ER'] == pytest.approx(1.0) and r['F'] == pytest.approx(0.0)
  assert r['LE'] == pytest.approx(25.0)
  assert r['LR'] == pytest.approx(2 / 3)


def test_dcase2020_frame_distance_sums_hungarian_costs():
  ref = table([(0, 0, 0, 0), (0, 0, 90, 0)])
  pred = table([(0, 0, 95, 0), (0, 0, 4, 0)])
  c = run('dcase2020', ref, pred).counts()
  assert c['total_DE'] == pytest.approx(9.0)  # 4 + 5, not a mean.
  assert c['TP'] == 1


# DCASE2024
# -----------------------------------------------------------------------------


def test_dcase2024_frame_counts():
  ref = table([(f, 0, 0, 0, 2.0) for f in range(5)])  # N_f = 4.
  pred = table([
      (0, 0, 0, 0, 2.0),
      (1, 0, 0, 0, 5.0),  # Relative distance error 1.5 > 1.
      (2, 0, 0, 0, 2.0),
      (3, 0, 30, 0, 2.0),  # DOA error 30 > 20.
      (4, 0, 90, 0, 2.0),  # The last reference frame: not scored.
      (0, 1, 0, 0, 1.0),  # Only predicted: FP.
  ])
  acc = run('dcase2024', ref, pred, average='micro')
  c = acc.counts()
  assert c['Nref'][0] == 4 and c['DE_TP'][0] == 4
  assert c['TP'][0] == 2 and c['FP_spatial'][0] == 2
  assert c['FP'][:2] == [0, 1] and sum(c['FN']) == 0
  assert (c['S'], c['D'], c['I']) == (0, 0, 3)
  r = acc.compute()
  assert r['ER'] == pytest.approx(0.75)
  assert r['F'] == pytest.approx(2 / (2 + 2 + 0.5))
  assert r['DistE'] == pytest.approx(0.75)
  assert r['RDE'] == pytest.approx(0.375)
  # Identical directions are ~8e-4 deg apart: the +1e-10 in the norms.
  assert r['DOAE'] == pytest.approx(7.5, abs=1e-3)
  assert r['SELD'] == pytest.approx(
      np.mean([1 - r['F'], r['DOAE'] / 180, r['RDE']])
  )


def test_dcase2024_thresholds_and_no_distance_mode():
  ref = table([(f, 0, 0, 0, 2.0) for f in range(4)])
  pred = table([(f, 0, 15, 0, 2.5) for f in range(3)])
  assert run('dcase2024', ref, pred).counts()['TP'][0] == 3
  acc = run('dcase2024', ref, pred, doa_threshold=10)
  assert acc.counts()['TP'][0] == 0
  acc = run('dcase2024', ref, pred, dist_threshold=0.4)
  assert acc.counts()['TP'][0] == 0
  acc = run('dcase2024', ref, pred, reldist_threshold=0.2)
  assert acc.counts()['TP'][0] == 0
  no_dist = table([(f, 0, 15, 0) for f in range(3)])
  with pytest.raises(ValueError, match='distances'):
    run('dcase2024', ref, no_dist)
  r = run('dcase2024', ref, no_dist, evaluate_distance=False).compute()
  assert math.isnan(r['DistE']) and math.isnan(r['RDE'])
  assert r['F'] > 0


def test_dcase2024_macro_nan_handling():
  ref = table([(f, 0, 0, 0, 1.0) for f in range(3)])
  r = metrics.evaluate('dcase2024', {'a': ref}, {'a': table([])})
  assert r['F'] == 0 and math.isnan(r['DOAE']) and math.isnan(r['RDE'])
  assert r['SELD'] == pytest.approx(1.0)  # nanmean of (1 - F) only.
  assert math.isnan(r['classwise']['female_speech']['DOAE'])


# DCASE2025
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'azimuth, folded',
    [
        (150, 30),
        (-100, -80),
        (100, 80),
        (180, 0),
        (-180, 0),
        (90, 90),
        (-90, -90),
        (270, -90),
        (30, 30),
        (-170, -10),
    ],
)
def test_fold_azimuth(azimuth, folded):
  assert _common.fold_azimuth(np.array([azimuth]))[0] == pytest.approx(folded)


def test_dcase2025_onscreen_and_folding():
  ref = table(
      [(f, 0, 30, 0, 1.0, 0, 1) for f in range(3)] + [(3, 4, 0, 0, 1.0, 0, 1)]
  )
  pred = table([(f, 0, 150, 0, 1.0, 0, 0) for f in range(3)])
  acc = run('dcase2025', ref, pred, average='micro')
  c = acc.counts()
  assert c['TP'][0] == 3 and c['total_OnscreenCorrect'][0] == 0
  r = acc.compute()
  assert r['DOAE'] == 0 and r['onscreen_acc'] == 0 and r['DistE'] == 0
  c = run('dcase2025', ref, pred, req_onscreen=True).counts()
  assert c['TP'][0] == 0 and c['FP_spatial'][0] == 3


def test_dcase2025_distances_in_cm():
  ref = table([(0, 0, 0, 0, 1.5, 0, 1), (1, 0, 0, 0, 1.5, 0, 1)])
  pred = table([(0, 0, 0, 0, 2.0, 0, 1)])
  r = run('dcase2025', ref, pred, average='micro').compute()
  assert r['DistE'] == pytest.approx(50.0)
  assert r['RDE'] == pytest.approx(1 / 3)


def test_dcase2025_at_most_ten_tracks():
  # Sources 0..11 in one frame and class: 10 and 11 take no free id and
  # overwrite track 0 in turn (`organize_labels`).
  rows = [(0, 1, 10 * s, 0, 1.0, s, 1) for s in range(12)]
  t = _common.prepare(table(rows), 13, 1)
  kept = stereo.organize_tracks(t, 13)
  assert len(kept) == 10
  assert t.azimuth[kept].tolist() == [110] + [10 * s for s in range(1, 10)]
  # Repeated source ids take the lowest free id (order unchanged).
  rows = [(0, 1, s, 0, 1.0, 0, 1) for s in range(5)]
  t = _common.prepare(table(rows), 13, 1)
  assert stereo.organize_tracks(t, 13).tolist() == list(range(5))


def test_dcase2025_empty_reference_scores_nothing():
  ref = table([])
  pred = table([(0, 0, 0, 0, 1.0, 0, 1)])
  c = run('dcase2025', ref, pred).counts()
  assert sum(c['FP']) == 0 and sum(c['Nref']) == 0


# DCASE2019
# -----------------------------------------------------------------------------


def test_dcase2019_grid_cells_clip_and_floor():
  t = table([(0, 0, 175, 45), (0, 1, -185, -50), (0, 2, 23, 12)])
  _, _, cell = dcase2019.grid_cells(t, 11, 3000)
  assert cell.tolist() == [35 * 9 + 8, 0, 20 * 9 + 5]


def test_dcase2019_segment_quirk_and_frame_recall():
  ref = table([(f, 0, 0, 0) for f in range(50)], label_rate=50)
  pred = table([(49, 0, 0, 0)], label_rate=50)  # Last frame of second 0.
  acc = run('dcase2019', ref, pred)
  c = acc.counts()
  # SED ignores frame 49: one deletion; DOA sees it: 1 predicted DOA.
  assert (c['TP'], c['Nref'], c['Nsys'], c['D']) == (0, 1, 0, 1)
  assert c['pred_doas'] == 1 and c['good_frames'] == 3000 - 49
  r = acc.compute()
  assert r['ER'] == 1 and r['F'] == 0
  assert r['FR'] == pytest.approx((3000 - 49) / 3000)
  assert r['DOA'] == pytest.approx(0.0, abs=1e-5)


def test_dcase2019_same_cell_counts_once_and_frames_beyond():
  ref = table([(0, 0, 0, 0), (0, 0, 1, 1), (0, 1, 0, 0)], label_rate=50)
  pred = table([(0, 0, 5, 5), (3000, 2, 0, 0)], label_rate=50)
  c = run('dcase2019', ref, pred).counts()
  assert c['pred_doas'] == 1 and c['good_frames'] == 2999


# Matching
# -----------------------------------------------------------------------------


def test_match_groups_equals_scipy_including_ties():
  rng = np.random.default_rng(0)
  for _ in range(300):
    nr, npr = rng.integers(1, 5, size=2)
    cost = rng.integers(0, 3, size=(nr, npr)).astype(float)
    m = _common.match_groups(
        np.zeros(nr, np.int64),
        np.zeros(npr, np.int64),
        lambda i, j, cost=cost: cost[i, j],
    )
    rows, cols = optimize.linear_sum_assignment(cost)
    assert m.ref.tolist() == rows.tolist()
    assert m.pred.tolist() == cols.tolist()


def test_match_groups_many_groups():
  ref_keys = np.array([0, 0, 1, 3, 3, 3])
  pred_keys = np.array([0, 2, 3, 3])
  ref_val = np.array([0.0, 5.0, 1.0, 9.0, 2.0, 4.0])
  pred_val = np.array([4.0, 0.0, 3.0, 8.5])
  m = _common.match_groups(
      ref_keys, pred_keys, lambda i, j: np.abs(ref_val[i] - pred_val[j])
  )
  assert m.common_keys.tolist() == [0, 3]
  assert list(zip(m.ref.tolist(), m.pred.tolist())) == [(1, 0), (3, 3), (4, 2)]
  assert m.ref_pos.tolist() == [1, 0, 1]


# Jackknife
# -----------------------------------------------------------------------------


def test_jackknife_estimation_formula():
  partial = np.array([0.5, 0.6, 0.7, 0.4])
  est, bias, err, ci = jackknife.jackknife_estimation(0.55, partial)
  n = 4
  assert bias == pytest.approx((n - 1) * (partial.mean() - 0.55))
  assert est == pytest.approx(0.55 - bias)
  assert err == pytest.approx(np.sqrt((n - 1) * partial.var()))
  t = 3.182446305284263  # t_{3}(0.975)
  assert ci[0] == pytest.approx(est - t * err)
  assert ci[1] == pytest.approx(est + t * err)


def test_jackknife_uses_leave_one_file_out_scores():
  refs, preds = {}, {}
  for k in range(4):
    refs[f'f{k}'] = table([(f, k % 2, 0, 0, 1.0) for f in range(20)])
    preds[f'f{k}'] = table([(f, k % 2, 7 * k, 0, 1.0) for f in range(15)])
  r = metrics.evaluate('dcase2023', refs, preds, jackknife=True)
  partial = []
  for k in range(4):
    rest = [n for n in refs if n != f'f{k}']
    sub = metrics.evaluate(
        'dcase2023', {n: refs[n] for n in rest}, {n: preds[n] for n in rest}
    )
    partial.append(sub['LE'])
  _, _, _, ci = jackknife.jackknife_estimation(r['LE'], np.array(partial))
  assert r['jackknife']['LE']['interval'] == pytest.approx(ci.tolist())
  cw = r['jackknife']['classwise']['male_speech']['F']
  assert len(cw['interval']) == 2


# API
# -----------------------------------------------------------------------------


def test_evaluate_result_keys():
  ref = table([(f, 0, 0, 0, 1.0, 0, 1) for f in range(12)])
  expected = {
      'dcase2019': ['ER', 'F', 'DOA', 'FR', 'SELD'],
      'dcase2020': ['ER', 'F', 'LE', 'LR', 'SELD'],
      'dcase2021': ['ER', 'F', 'LE', 'LR', 'SELD'],
      'dcase2022': ['ER', 'F', 'LE', 'LR', 'SELD', 'classwise'],
      'dcase2023': ['ER', 'F', 'LE', 'LR', 'SELD', 'classwise'],
      'dcase2024': [
          'ER',
          'F',
          'DOAE',
          'DistE',
          'RDE',
          'LR',
          'SELD',
          'classwise',
      ],
      'dcase2025': ['F', 'DOAE', 'DistE', 'RDE', 'onscreen_acc', 'classwise'],
  }
  for metric, keys in expected.items():
    rate = 50.0 if metric == 'dcase2019' else 10.0
    t = ref.replace(label_rate=rate)
    r = metrics.evaluate(metric, {'a': t}, {'a': t})
    assert list(r) == ['metric', 'average', 'files'] + keys, metric
    assert r['metric'] == metric and r['files'] == 1
    json.dumps(r)  # JSON-able.
    if 'classwise' in r:
      assert list(r['classwise']) == list(events.STARSS_CLASSES)
  r = metrics.evaluate('dcase2023', {'a': ref}, {'a': ref}, average='micro')
  assert 'classwise' not in r and r['average'] == 'micro'
  r = metrics.evaluate('dcase2023', {'a': ref}, {'a': ref}, num_classes=3)
  assert list(r['classwise']) == ['0', '1', '2']


def test_evaluate_missing_and_extra():
  ref = table([(f, 0, 0, 0) for f in range(12)])
  refs = {'a': ref, 'b': ref}
  empty = metrics.evaluate('dcase2023', refs, {'a': ref})
  assert empty['files'] == 2
  skip = metrics.evaluate('dcase2023', refs, {'a': ref}, missing='skip')
  assert skip['files'] == 1 and skip['classwise']['female_speech']['F'] > 0.99
  assert empty['classwise']['female_speech']['F'] == pytest.approx(2 / 3)
  with pytest.raises(ValueError, match="'b'"):
    metrics.evaluate('dcase2023', refs, {'a': ref}, missing='error')
  with pytest.raises(ValueError, match="'c'"):
    metrics.evaluate('dcase2023', refs, {'a': ref, 'c': ref})


def test_evaluate_argument_checks():
  ref = table([(0, 0, 0, 0)])
  with pytest.raises(ValueError, match='micro'):
    metrics.evaluate('dcase2021', {'a': ref}, {'a': ref}, average='macro')
  with pytest.raises(ValueError, match='Unknown metric'):
    metrics.evaluate('dcase2018', {'a': ref}, {'a': ref})
  with pytest.raises(TypeError, match='req_onscreen'):
    metrics.evaluate('dcase2023', {'a': ref}, {'a': ref}, req_onscreen=True)
  with pytest.raises(ValueError, match='label_rate'):
    metrics.evaluate('dcase2019', {'a': ref}, {'a': ref})


def test_accumulator_file_by_file_equals_evaluate():
  rng = np.random.default_rng(3)
  refs, preds = {}, {}
  for k in range(3):
    rows = [
        (f, int(rng.integers(3)), float(rng.uniform(-180, 180)), 0.0, 2.0)
        for f in range(60)
        for _ in range(int(rng.integers(3)))
    ]
    refs[f'f{k}'] = table(rows)
    preds[f'f{k}'] = table([
        (f, c, a + rng.normal() * 10, e, d)
        for f, c, a, e, d in rows
        if rng.random() < 0.8
    ])
  for metric in ('dcase2022', 'dcase2024'):
    acc = metrics.make_accumulator(metric)
    for name in sorted(refs):
      acc.update(refs[name], preds[name], name=name)
    direct = acc.compute()
    via = metrics.evaluate(metric, refs, preds)
    for key in metrics.KEYS[metric]:
      assert via[key] == pytest.approx(direct[key], nan_ok=True)

"""Tests for seld_jax.decode."""

import numpy as np
import pytest

from seld_jax import decode
from seld_jax import events as events_lib
from seld_jax import formats


def _angle(a, b):
  na = np.sqrt(np.sum(a**2) + 1e-10)
  nb = np.sqrt(np.sum(b**2) + 1e-10)
  return np.rad2deg(np.arccos(np.clip(np.dot(a, b) / (na * nb), -1, 1)))


def _reference_decode(y, thr=0.5, unify=15.0):
  """A literal loop port of SPEC §5 (`test_epoch` unification) -> rows.

  y: [T, 3, K, C]; returns a list of (frame, class, vec, dist).
  """
  t, _, k, c = y.shape
  rows = []
  for f in range(t):
    for cls in range(c):
      v = [y[f, i, :3, cls] for i in range(3)]
      d = [max(y[f, i, 3, cls], 0.0) if k == 4 else 0.0 for i in range(3)]
      sed = [np.sqrt(np.sum(vi**2)) > thr for vi in v]
      sim = lambda i, j: int(
          bool(sed[i] and sed[j] and _angle(v[i], v[j]) < unify)
      )
      s01, s12, s20 = sim(0, 1), sim(1, 2), sim(2, 0)
      n = s01 + s12 + s20
      if n == 0:
        rows += [(f, cls, v[i], d[i]) for i in range(3) if sed[i]]
      elif n == 1:
        for (p, q, o), flag in zip(
            ((0, 1, 2), (1, 2, 0), (2, 0, 1)), (s01, s12, s20)
        ):
          if flag:
            if sed[o]:
              rows.append((f, cls, v[o], d[o]))
            rows.append((f, cls, (v[p] + v[q]) / 2, (d[p] + d[q]) / 2))
            break
      else:
        rows.append((f, cls, (v[0] + v[1] + v[2]) / 3, sum(d) / 3))
  return rows


def _unit(azi, ele=0.0, r=1.0):
  return r * events_lib.polar_to_cartesian(azi, ele)


def test_single_active_track():
  y = np.zeros((1, 3, 3, 2))
  y[0, 1, :, 1] = _unit(45) * 0.9
  t = decode.multi_accdoa_to_events(y, 2)
  assert len(t) == 1 and t.class_index[0] == 1
  assert t.azimuth[0] == pytest.approx(45)


def test_threshold_is_strict():
  y = np.zeros((1, 3, 3, 1))
  y[0, 0, :, 0] = _unit(10) * 0.5
  assert len(decode.multi_accdoa_to_events(y, 1)) == 0
  y[0, 0, :, 0] = _unit(10) * 0.5001
  assert len(decode.multi_accdoa_to_events(y, 1)) == 1


def test_close_tracks_merge_and_far_tracks_stay():
  y = np.zeros((2, 3, 3, 1))
  y[0, 0, :, 0] = _unit(0)
  y[0, 1, :, 0] = _unit(10)  # 10 deg apart: merged
  y[0, 2, :, 0] = _unit(120)  # kept separately, emitted first
  y[1, 0, :, 0] = _unit(0)
  y[1, 1, :, 0] = _unit(5)
  y[1, 2, :, 0] = _unit(-5)  # all similar: one averaged event
  t = decode.multi_accdoa_to_events(y, 1)
  assert list(t.frame) == [0, 0, 1]
  np.testing.assert_allclose(t.azimuth, [120, 5, 0], atol=1e-9)


def test_matches_literal_reference_random():
  rng = np.random.default_rng(0)
  # Random outputs with many near-duplicate tracks to exercise unification.
  t, c = 40, 4
  base = rng.normal(size=(t, 1, 3, c))
  y = base + 0.15 * rng.normal(size=(t, 3, 3, c))
  y *= rng.uniform(0.2, 1.2, size=(t, 3, 1, c))
  dist = rng.uniform(-1, 4, size=(t, 3, 1, c))
  y4 = np.concatenate([y, dist], axis=2)
  got = decode.multi_accdoa_to_events(y4, c, distance=True)
  want = _reference_decode(y4)
  assert len(got) == len(want) > 20
  for i, (f, cls, v, d) in enumerate(want):
    assert (got.frame[i], got.class_index[i]) == (f, cls)
    azi, ele = events_lib.cartesian_to_polar(v)
    assert got.azimuth[i] == pytest.approx(azi, abs=1e-9)
    assert got.elevation[i] == pytest.approx(ele, abs=1e-9)
    assert got.distance[i] == pytest.approx(d, abs=1e-12)
  flat = y4.reshape(t, -1)  # official flat layout
  assert decode.multi_accdoa_to_events(flat, c, distance=True).equals(got)


def test_stereo_decoding_onscreen_truncation_and_distance():
  y = np.zeros((1, 3, 4, 1))
  y[0, 0, :2, 0] = [0.0, 0.9]  # azimuth 90
  y[0, 0, 2, 0] = -0.3  # negative distance -> 0
  y[0, 0, 3, 0] = 0.97  # on-screen probability < 1 -> written as 0
  y[0, 1, :2, 0] = [-0.9, 0.0]
  y[0, 1, 2, 0] = 2.0
  y[0, 1, 3, 0] = 1.0
  t = decode.multi_accdoa_stereo_to_events(y, 1, onscreen=True)
  np.testing.assert_allclose(t.azimuth, [90, 180])
  np.testing.assert_allclose(t.distance, [0, 2.0])
  np.testing.assert_array_equal(t.onscreen, [0, 1])
  # With a threshold, the probability decides (0.97 > 0.5; 1.0 > 0.5).
  t = decode.multi_accdoa_stereo_to_events(
      y, 1, onscreen=True, onscreen_threshold=0.5
  )
  np.testing.assert_array_equal(t.onscreen, [1, 1])
  y[0, 0, 3, 0] = 0.3
  t = decode.multi_accdoa_stereo_to_events(
      y, 1, onscreen=True, onscreen_threshold=0.5
  )
  np.testing.assert_array_equal(t.onscreen, [0, 1])


def test_single_accdoa_and_sed_doa():
  y = np.zeros((2, 3, 2))
  y[1, :, 1] = _unit(-90)
  t = decode.single_accdoa_to_events(y.reshape(2, 6), 2)
  assert list(t.frame) == [1] and t.azimuth[0] == pytest.approx(-90)
  sed = np.array([[0.9, 0.2], [0.4, 0.7]])
  doa = np.zeros((2, 3, 2))
  doa[0, :, 0] = _unit(30)
  doa[1, :, 1] = _unit(60, 10)
  t = decode.sed_doa_to_events(sed, doa.reshape(2, 6))
  assert list(zip(t.frame, t.class_index)) == [(0, 0), (1, 1)]
  np.testing.assert_allclose(t.azimuth, [30, 60])
  np.testing.assert_allclose(t.elevation, [0, 10], atol=1e-9)
  with pytest.raises(ValueError, match='Expected DOA'):
    decode.sed_doa_to_events(sed, doa.reshape(2, 6)[:, :4])


@pytest.mark.parametrize(
    'metric,first_line',
    [
        ('dcase2022', '3,1,0,0,1,0'),
        ('dcase2023', '3,1,0,0,1,0,0'),
        ('dcase2024', '3,1,0,0,1,0,1.25'),
    ],
)
def test_write_predictions_cartesian(tmp_path, metric, first_line):
  t = events_lib.EventTable.from_columns(
      [3], [1], [90.0], [0.0], source=[7], distance=[1.25]
  )
  path = tmp_path / 'p.csv'
  decode.write_predictions(path, t, metric)
  line = path.read_text().splitlines()[0]
  vals = [float(v) for v in line.split(',')]
  np.testing.assert_allclose(
      vals, [float(v) for v in first_line.split(',')], atol=1e-12
  )


def test_write_predictions_2025(tmp_path):
  t = events_lib.EventTable.from_columns(
      [0, 1], [2, 3], [30.4, -89.6], distance=[1.234, 0.5], onscreen=[1, 0]
  )
  path = tmp_path / 's.csv'
  decode.write_predictions(path, t, 'dcase2025')
  assert path.read_text().splitlines() == [
      formats.DCASE2025_HEADER,
      '0,2,0,30,123,1',
      '1,3,0,-90,50,0',
  ]
  with pytest.raises(ValueError, match='Unknown metric'):
    decode.write_predictions(path, t, 'dcase2030')

"""Tests for seld_jax.targets."""

import itertools

from conftest import shared_data_path
import numpy as np
import pytest

from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax import targets

EventTable = events_lib.EventTable


def _reference_adpit(table, num_frames, num_classes, distance=False):
  """A literal loop port of SPEC §2.4 (`get_adpit_labels_for_file`)."""
  k = 4 if distance else 3
  out = np.zeros((num_frames, 6, 1 + k, num_classes))
  per_frame = {}
  for i in range(len(table)):
    xyz = events_lib.polar_to_cartesian(table.azimuth[i], table.elevation[i])
    ev = [int(table.class_index[i]), int(table.source[i]), *xyz]
    if distance:
      ev.append(table.distance[i])
    per_frame.setdefault(int(table.frame[i]), []).append(ev)
  for frame, evs in per_frame.items():
    if frame >= num_frames:
      continue
    evs.sort(key=lambda e: e[0])
    for cls, group in itertools.groupby(evs, key=lambda e: e[0]):
      group = list(group)
      if len(group) == 1:
        slots = [0]
      elif len(group) == 2:
        slots = [1, 2]
      else:
        slots = [3, 4, 5]
      for slot, ev in zip(slots, group):
        out[frame, slot, 0, cls] = 1
        out[frame, slot, 1:, cls] = ev[2:]
  return out


def _table(rows, distance=None):
  rows = np.asarray(rows, float)
  return EventTable.from_columns(
      rows[:, 0].astype(int),
      rows[:, 1].astype(int),
      rows[:, 3],
      rows[:, 4],
      source=rows[:, 2].astype(int),
      distance=distance,
  )


def test_single_instance_goes_to_a0():
  t = _table([[0, 3, 0, 90, 0]])
  y = targets.multi_accdoa(t, 2, 13)
  assert y.shape == (2, 6, 4, 13)
  np.testing.assert_allclose(y[0, 0, :, 3], [1, 0, 1, 0], atol=1e-7)
  assert y.sum() == pytest.approx(2.0)  # act + y component


def test_two_and_three_same_class_instances_keep_file_order():
  t = _table([
      [0, 5, 2, 0, 0],
      [0, 1, 0, 90, 0],
      [0, 5, 1, 180, 0],
      [1, 5, 0, 0, 90],
      [1, 5, 1, 90, 0],
      [1, 5, 2, -90, 0],
      [1, 5, 3, 180, 0],  # 4th same-class instance: dropped
  ])
  y = targets.multi_accdoa(t, 2, 13)
  # Frame 0: class 1 alone -> A0; class 5 twice -> B0 (file order), B1.
  np.testing.assert_allclose(y[0, 0, 1:, 1], [0, 1, 0], atol=1e-7)
  np.testing.assert_allclose(y[0, 1, 1:, 5], [1, 0, 0], atol=1e-7)
  np.testing.assert_allclose(y[0, 2, 1:, 5], [-1, 0, 0], atol=1e-7)
  assert y[0, [0, 3, 4, 5], 0, 5].sum() == 0
  # Frame 1: class 5 four times -> C0, C1, C2 = first three in file order.
  np.testing.assert_allclose(y[1, 3, 1:, 5], [0, 0, 1], atol=1e-7)
  np.testing.assert_allclose(y[1, 4, 1:, 5], [0, 1, 0], atol=1e-7)
  np.testing.assert_allclose(y[1, 5, 1:, 5], [0, -1, 0], atol=1e-7)
  assert y[1, :3, 0, 5].sum() == 0


def test_events_beyond_num_frames_are_ignored():
  t = _table([[0, 0, 0, 0, 0], [5, 0, 0, 0, 0]])
  y = targets.multi_accdoa(t, 3, 13)
  assert y[:, :, 0].sum() == 1


def test_matches_literal_reference_on_real_starss22_files():
  files = sorted(shared_data_path('starss22', 'metadata_dev').glob('*/*.csv'))
  for path in files[::7]:
    t = formats.read_metadata(path)
    n = t.last_frame() + 1
    got = targets.multi_accdoa(t, n, 13)
    np.testing.assert_allclose(got, _reference_adpit(t, n, 13), atol=1e-6)


def test_distance_target_in_metres():
  rng = np.random.default_rng(0)
  n = 200
  t = EventTable.from_columns(
      rng.integers(0, 30, n),
      rng.integers(0, 4, n),
      rng.uniform(-180, 180, n),
      rng.uniform(-45, 45, n),
      source=rng.integers(0, 3, n),
      distance=rng.uniform(0.5, 5, n),
  )
  got = targets.multi_accdoa(t, 30, 4, distance=True)
  assert got.shape == (30, 6, 5, 4)
  np.testing.assert_allclose(
      got, _reference_adpit(t, 30, 4, distance=True), atol=1e-6
  )
  with pytest.raises(ValueError, match='no distance'):
    targets.multi_accdoa(t.replace(distance=np.full(n, np.nan)), 30, 4, True)


def test_stereo_target():
  t = EventTable.from_columns(
      [0, 0, 1],
      [2, 2, 4],
      [90.0, -30.0, 180.0],
      source=[0, 1, 0],
      distance=[1.5, 2.0, 3.0],
      onscreen=[1, 0, 1],
  )
  y = targets.multi_accdoa_stereo(t, 2, 13, onscreen=True)
  assert y.shape == (2, 6, 5, 13)
  np.testing.assert_allclose(y[0, 1, :, 2], [1, 0, 1, 1.5, 1], atol=1e-6)
  c, s = np.cos(np.deg2rad(-30)), np.sin(np.deg2rad(-30))
  np.testing.assert_allclose(y[0, 2, :, 2], [1, c, s, 2.0, 0], atol=1e-6)
  np.testing.assert_allclose(y[1, 0, :, 4], [1, -1, 0, 3.0, 1], atol=1e-6)
  audio = targets.multi_accdoa_stereo(t, 2, 13)
  np.testing.assert_array_equal(audio, y[:, :, :4])


def test_single_accdoa_last_event_wins():
  t = _table([[0, 1, 0, 0, 0], [0, 1, 1, 90, 0], [1, 2, 0, 0, 90]])
  y = targets.single_accdoa(t, 2, 3)
  assert y.shape == (2, 9)
  np.testing.assert_allclose(y[0].reshape(3, 3)[:, 1], [0, 1, 0], atol=1e-7)
  np.testing.assert_allclose(y[1].reshape(3, 3)[:, 2], [0, 0, 1], atol=1e-7)
  yd = targets.single_accdoa(
      t.replace(distance=np.array([1.0, 2.0, 3.0])), 2, 3, distance=True
  )
  assert yd.shape == (2, 12)
  assert yd[0].reshape(4, 3)[3, 1] == 2.0


def test_sed_doa():
  t = _table([[0, 1, 0, 90, 0], [2, 0, 0, 0, 30]])
  sed, doa = targets.sed_doa(t, 3, 2)
  np.testing.assert_array_equal(sed, [[0, 1], [0, 0], [1, 0]])
  np.testing.assert_allclose(doa[0].reshape(3, 2)[:, 1], [0, 1, 0], atol=1e-7)
  assert np.all(doa[1] == 0)
  sed, azel = targets.sed_doa(t, 3, 2, doa='azel', inactive_doa=(180, 60))
  np.testing.assert_array_equal(azel[0], [180, 90, 60, 0])
  np.testing.assert_array_equal(azel[2], [0, 180, 30, 60])
  with pytest.raises(ValueError, match='doa must be'):
    targets.sed_doa(t, 3, 2, doa='polar')


def test_doa_grid_labels():
  t = EventTable.from_columns(
      [0, 0, 1], [0, 1, 1], [-180, 175, 20], [-40, 60, 5], label_rate=50
  )
  g = targets.doa_grid_labels(t, num_frames=4, num_classes=2)
  assert g.shape == (4, 2, 324)
  assert g[0, 0, 0]  # (-180, -40) -> cell 0
  assert g[0, 1, 35 * 9 + 8]  # clipped to (170, 40)
  assert g[1, 1, ((20 + 180) // 10) * 9 + (5 + 40) // 10]
  assert g.sum() == 3


def test_class_out_of_range():
  t = _table([[0, 13, 0, 0, 0]])
  with pytest.raises(ValueError, match='out of range'):
    targets.multi_accdoa(t, 2, 13)

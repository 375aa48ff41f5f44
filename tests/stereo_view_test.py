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

"""Tests for seld_jax.stereo_view."""

import numpy as np
import pytest

from seld_jax import events
from seld_jax import stereo_view
from seld_jax.synth import video


def _plane_wave(azimuth, elevation=0.0, n=8):
  """FOA (W, Y, Z, X; SN3D) of a unit plane wave from a direction."""
  a, e = np.radians(azimuth), np.radians(elevation)
  gains = [1.0, np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)]
  return np.tile(np.asarray(gains), (n, 1))


def _table(azimuth, elevation, frame=None, distance=1.0, class_index=0):
  n = len(azimuth)
  return events.EventTable(
      frame=np.arange(n) if frame is None else frame,
      class_index=np.full(n, class_index),
      source=np.zeros(n),
      azimuth=azimuth,
      elevation=elevation,
      distance=np.full(n, distance),
      onscreen=np.full(n, -1),
  )


@pytest.mark.parametrize('azimuth', [-170.0, -45.0, 0.0, 30.0, 135.0])
@pytest.mark.parametrize('yaw', [-90.0, 0.0, 60.0, 180.0])
def test_rotation_moves_a_source_by_minus_yaw(azimuth, yaw):
  rotated = stereo_view.rotate_foa(_plane_wave(azimuth, 20.0), yaw)
  np.testing.assert_allclose(rotated, _plane_wave(azimuth - yaw, 20.0))


def test_mid_side_stereo_is_a_pair_of_cardioids():
  left = stereo_view.mid_side_stereo(_plane_wave(90.0))
  front = stereo_view.mid_side_stereo(_plane_wave(0.0))
  right = stereo_view.mid_side_stereo(_plane_wave(-90.0))
  np.testing.assert_allclose(left[0], [1.0, 0.0], atol=1e-12)
  np.testing.assert_allclose(front[0], [0.5, 0.5], atol=1e-12)
  np.testing.assert_allclose(right[0], [0.0, 1.0], atol=1e-12)
  # Front and back are the same to the pair: the reason for folding.
  np.testing.assert_allclose(
      stereo_view.mid_side_stereo(_plane_wave(30.0)),
      stereo_view.mid_side_stereo(_plane_wave(150.0)),
      atol=1e-12,
  )


def test_fold_azimuth():
  np.testing.assert_allclose(
      stereo_view.fold_azimuth([0, 45, 90, 120, 180, -90, -150, 370, -180]),
      [0, 45, 90, 60, 0, -90, -30, 10, 0],
      atol=1e-12,
  )


def test_on_screen_by_the_pinhole_field_of_view():
  vfov = stereo_view.vertical_fov(100.0, 128, 72)
  assert vfov == pytest.approx(67.67, abs=0.01)
  az = [0.0, 49.0, 51.0, -49.0, -51.0, 180.0, 0.0, 0.0, 120.0]
  el = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 33.0, 35.0, 0.0]
  np.testing.assert_array_equal(
      stereo_view.on_screen(az, el, 100.0, vfov),
      [True, True, False, True, False, False, True, False, False],
  )
  # Towards a side of the frame the vertical limit is reached at a lower
  # elevation (the image plane is flat): 28 degrees up is inside straight
  # ahead, outside at azimuth 45.
  np.testing.assert_array_equal(
      stereo_view.on_screen([0.0, 45.0, 45.0], [28.0, 28.0, 25.0], 100.0, vfov),
      [True, False, True],
  )


def test_view_labels():
  table = _table(
      azimuth=[100.0, -80.0, 170.0, 45.0],
      elevation=[10.0, 0.0, -20.0, 60.0],
  )
  out = stereo_view.view_labels(table, yaw=90.0, hfov=100.0, vfov=60.0)
  # Relative azimuths 10, -170, 80, -45; folded 10, -10, 80, -45.
  np.testing.assert_allclose(out.azimuth, [10.0, -10.0, 80.0, -45.0])
  np.testing.assert_array_equal(out.elevation, 0.0)
  np.testing.assert_array_equal(out.onscreen, [1, 0, 0, 0])
  np.testing.assert_array_equal(out.class_index, table.class_index)
  np.testing.assert_array_equal(out.distance, table.distance)


@pytest.mark.parametrize('yaw', [0.0, 135.0, -170.0])
def test_perspective_frame_shows_a_drawn_event_where_the_camera_sees_it(yaw):
  hfov, width, height = 100.0, 128, 72
  vfov = stereo_view.vertical_fov(hfov, width, height)
  focal = (width / 2) / np.tan(np.radians(hfov / 2))
  rel = np.array([0.0, 30.0, -40.0, 20.0, 95.0])
  el = np.array([0.0, 10.0, -15.0, 25.0, 0.0])
  table = _table(azimuth=rel + yaw, elevation=el, distance=3.0)
  full = video.render_frames(table, len(rel), 360, 180)
  frames = stereo_view.perspective_frames(full, yaw, hfov, width, height)
  assert frames.shape == (len(rel), height, width, 3)
  assert frames.dtype == np.uint8
  colour = video.CLASS_COLOURS[0]
  labels = stereo_view.view_labels(table, yaw, hfov, vfov)
  for f in range(len(rel)):
    mask = np.all(frames[f] == colour, axis=-1)
    if not labels.onscreen[f]:
      assert not mask.any()
      continue
    rows, cols = np.nonzero(mask)
    # Pinhole projection of the direction (x forward, y left, z up).
    a, e = np.radians(rel[f]), np.radians(el[f])
    x, y, z = np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)
    expected_col = width / 2 - focal * y / x
    expected_row = height / 2 - focal * z / x
    assert cols.mean() + 0.5 == pytest.approx(expected_col, abs=1.5)
    assert rows.mean() + 0.5 == pytest.approx(expected_row, abs=1.5)
  assert labels.onscreen.tolist() == [1, 1, 1, 1, 0]


def test_bad_input_is_rejected():
  with pytest.raises(ValueError, match=r'\[num_samples, 4\]'):
    stereo_view.rotate_foa(np.zeros((10, 2)), 0.0)
  with pytest.raises(ValueError, match='FOA'):
    stereo_view.mid_side_stereo(np.zeros(10))
  with pytest.raises(ValueError, match='hfov'):
    stereo_view.on_screen(0.0, 0.0, 180.0, 60.0)
  with pytest.raises(ValueError, match=r'\[T, H, W, C\]'):
    stereo_view.perspective_frames(np.zeros((4, 4, 3)), 0.0, 90.0, 8, 8)

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

"""A DCASE2025-style stereo view of an FOA recording with 360-degree video.

The DCASE2025 Task 3 Stereo SELD dataset was cut from STARSS23 this way (task
description and Shimada et al. 2025, as we read them): choose a viewing
direction, rotate the FOA scene so that it faces the front, take mid-side
stereo from the omnidirectional and left-right dipole channels, keep the
azimuth only (front-back folded: the stereo pair cannot tell them apart),
flag each event on- or off-screen by the camera's field of view, and render
a regular perspective video of that view from the 360-degree one.

  rotate_foa        FOA [N, 4] (ACN W, Y, Z, X; SN3D) rotated by -yaw about
                    the vertical axis: a source at azimuth a moves to a - yaw
  mid_side_stereo   L = (W + Y) / 2, R = (W - Y) / 2: back-to-back cardioids
                    facing left (+90 deg) and right (halved so that the pair
                    never exceeds the FOA's full scale)
  view_labels       azimuth relative to the view, on-screen flag by the
                    pinhole camera's field of view, then the azimuth folded
                    into [-90, 90] and the elevation dropped (0)
  perspective_frames  pinhole-camera frames [T, h, w, 3] sampled (nearest
                    pixel) from equirectangular frames [T, H, W, 3]

The same camera model decides both the on-screen flag and the pixels, so an
event drawn in the 360-degree video is inside the perspective frame exactly
when its label says on-screen. The field of view is a parameter (DCASE2025's
own clips are regular videos; we default to a 100-degree horizontal view).
"""

from __future__ import annotations

import numpy as np

from seld_jax import events as events_lib

DEFAULT_HFOV = 100.0


def _check_foa(audio: np.ndarray, name: str) -> np.ndarray:
  audio = np.asarray(audio)
  if audio.ndim != 2 or audio.shape[1] != 4:
    raise ValueError(
        f'{name}: expected FOA audio [num_samples, 4] (ACN W, Y, Z, X), got'
        f' shape {audio.shape}.'
    )
  return audio


def rotate_foa(audio: np.ndarray, yaw: float) -> np.ndarray:
  """FOA float [N, 4] turned so that azimuth `yaw` (degrees) faces front."""
  audio = _check_foa(audio, 'rotate_foa').astype(np.float64)
  c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
  w, y, z, x = audio.T
  # A plane wave from azimuth a has Y = sin(a), X = cos(a) (times cos(el));
  # from a - yaw: sin(a - yaw) = Y cos(yaw) - X sin(yaw), and so on.
  return np.stack([w, y * c - x * s, z, x * c + y * s], axis=1)


def mid_side_stereo(audio: np.ndarray) -> np.ndarray:
  """Stereo float [N, 2] (left, right) of FOA [N, 4]: (W +- Y) / 2."""
  audio = _check_foa(audio, 'mid_side_stereo').astype(np.float64)
  w, y = audio[:, 0], audio[:, 1]
  return np.stack([w + y, w - y], axis=1) / 2.0


def vertical_fov(hfov: float, width: int, height: int) -> float:
  """Vertical field of view (degrees) of a pinhole camera of that aspect."""
  half = np.tan(np.radians(hfov) / 2) * height / width
  return float(np.degrees(2 * np.arctan(half)))


def _check_fov(hfov: float, vfov: float) -> None:
  for name, fov in (('hfov', hfov), ('vfov', vfov)):
    if not 0 < fov < 180:
      raise ValueError(f'{name} must be in (0, 180) degrees, got {fov}.')


def on_screen(azimuth, elevation, hfov: float, vfov: float) -> np.ndarray:
  """Whether directions (view coordinates, degrees) fall inside the frame."""
  _check_fov(hfov, vfov)
  az = np.radians(np.asarray(azimuth, np.float64))
  el = np.radians(np.asarray(elevation, np.float64))
  x = np.cos(az) * np.cos(el)
  y = np.sin(az) * np.cos(el)
  z = np.sin(el)
  with np.errstate(divide='ignore', invalid='ignore'):
    inside = (np.abs(y) <= x * np.tan(np.radians(hfov) / 2) + 1e-12) & (
        np.abs(z) <= x * np.tan(np.radians(vfov) / 2) + 1e-12
    )
  return inside & (x > 0)


def fold_azimuth(azimuth) -> np.ndarray:
  """Azimuth (degrees, any range) mirrored into the front half [-90, 90]."""
  az = (np.asarray(azimuth, np.float64) + 180.0) % 360.0 - 180.0
  return np.where(az > 90, 180 - az, np.where(az < -90, -180 - az, az))


def view_labels(
    table: events_lib.EventTable, yaw: float, hfov: float, vfov: float
) -> events_lib.EventTable:
  """The events as the stereo view's labels (DCASE2025 columns).

  Args:
    table: events of the FOA recording (azimuth/elevation in degrees).
    yaw: viewing azimuth in degrees.
    hfov: horizontal field of view in degrees.
    vfov: vertical field of view in degrees.

  Returns:
    The same rows with the azimuth relative to the view and folded into
    [-90, 90], elevation 0, and onscreen 1 / 0 by the field of view
    (decided before folding: a source behind the camera is off-screen).
  """
  _check_fov(hfov, vfov)
  relative = table.azimuth - yaw  # on_screen and fold_azimuth wrap it
  visible = on_screen(relative, table.elevation, hfov, vfov)
  return table.replace(
      azimuth=fold_azimuth(relative),
      elevation=np.zeros_like(table.elevation),
      onscreen=visible.astype(np.int8),
  )


def perspective_frames(
    frames: np.ndarray, yaw: float, hfov: float, width: int, height: int
) -> np.ndarray:
  """Pinhole-camera view [T, height, width, C] of equirectangular frames.

  Args:
    frames: [T, H, W, C] equirectangular frames (column j at azimuth
      360 (0.5 - (j + 0.5) / W), row i at elevation 180 (0.5 - (i + 0.5) /
      H), as `seld_jax.synth.video`).
    yaw: viewing azimuth in degrees (the centre of the output).
    hfov: horizontal field of view in degrees.
    width: output width in pixels.
    height: output height in pixels (the vertical field of view follows
      from the aspect ratio, `vertical_fov`).

  Returns:
    Frames of the same dtype, each pixel the nearest equirectangular pixel
    of its ray.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4:
    raise ValueError(
        'perspective_frames: expected [T, H, W, C] frames, got shape'
        f' {frames.shape}.'
    )
  _check_fov(hfov, vertical_fov(hfov, width, height))
  src_h, src_w = frames.shape[1:3]
  focal = (width / 2) / np.tan(np.radians(hfov) / 2)
  u = (np.arange(width) + 0.5) - width / 2  # right of centre
  v = (np.arange(height) + 0.5) - height / 2  # below centre
  # Camera rays: x forward, y left, z up.
  y = -u[None, :] / focal
  z = -v[:, None] / focal
  az = np.degrees(np.arctan2(y, 1.0)) + yaw
  el = np.degrees(np.arctan2(z, np.sqrt(1.0 + y**2)))
  cols = np.floor(src_w * (0.5 - az / 360.0)).astype(np.int64) % src_w
  rows = np.clip(
      np.floor(src_h * (0.5 - el / 180.0)).astype(np.int64), 0, src_h - 1
  )
  return frames[:, rows, cols]

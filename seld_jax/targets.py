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

"""Event table -> dense frame targets for each SELD output representation.

  multi_accdoa          [T, 6, 1+K, C] ADPIT target (DCASE2022-2024)
  multi_accdoa_stereo   [T, 6, 4 or 5, C] ADPIT target (DCASE2025 stereo)
  single_accdoa         [T, 3C] (or [T, 4C] with distance) ACCDOA vectors
  sed_doa               SED [T, C] + DOA [T, 3C] (SELDnet / two-stage)
  doa_grid_labels       DCASE2019 20-ms class x (azimuth, elevation) grid

All take an `EventTable` whose frames are at the target's label rate and
ignore events at frames >= num_frames, as the official code does.
"""

from __future__ import annotations

import numpy as np

from seld_jax import events as events_lib

# Slot indices on the ADPIT "dummy track" axis.
SLOT_NAMES = ('A0', 'B0', 'B1', 'C0', 'C1', 'C2')


def _check_classes(events: events_lib.EventTable, num_classes: int):
  if len(events) and events.class_index.max() >= num_classes:
    raise ValueError(
        f'Event class index {int(events.class_index.max())} is out of range '
        f'for {num_classes} classes.'
    )


def adpit_slots(events: events_lib.EventTable, num_frames: int):
  """Assigns each event row of frames < num_frames its ADPIT slot.

  Within a frame the events are sorted by class, stably (same-class events
  keep file order), as `get_adpit_labels_for_file` does; a class with one
  event takes slot A0, two take B0/B1, three or more take C0/C1/C2 (the 4th
  and later are dropped).

  Args:
    events: the event table.
    num_frames: frames >= num_frames are ignored.

  Returns:
    (rows, slots): indices into `events` of the kept rows and their slot
    index in 0..5.
  """
  rows = np.flatnonzero(events.frame < num_frames)
  if not len(rows):
    return rows, rows
  # Stable sort by (frame, class); np.lexsort is stable, so ties keep file
  # order.
  order = rows[np.lexsort((events.class_index[rows], events.frame[rows]))]
  frame = events.frame[order]
  cls = events.class_index[order]
  new_group = np.ones(len(order), bool)
  new_group[1:] = (frame[1:] != frame[:-1]) | (cls[1:] != cls[:-1])
  group_id = np.cumsum(new_group) - 1
  group_start = np.flatnonzero(new_group)
  rank = np.arange(len(order)) - group_start[group_id]
  group_size = np.diff(np.append(group_start, len(order)))[group_id]
  slots = np.where(
      group_size == 1, 0, np.where(group_size == 2, 1 + rank, 3 + rank)
  )
  keep = rank < 3
  return order[keep], slots[keep]


def multi_accdoa(
    events: events_lib.EventTable,
    num_frames: int,
    num_classes: int = 13,
    distance: bool = False,
) -> np.ndarray:
  """The multi-ACCDOA ADPIT target of DCASE2022-2024.

  Equal to the official `get_adpit_labels_for_file` on the same events.

  Args:
    events: events at the label rate (10 fps for DCASE).
    num_frames: number of label frames T.
    num_classes: C.
    distance: append the distance in metres (DCASE2024, K=4).

  Returns:
    float32 [T, 6, 4, C] = [act, x, y, z], or [T, 6, 5, C] with distance.
  """
  _check_classes(events, num_classes)
  k = 4 if distance else 3
  target = np.zeros((num_frames, 6, 1 + k, num_classes), np.float32)
  rows, slots = adpit_slots(events, num_frames)
  if not len(rows):
    return target
  f, c = events.frame[rows], events.class_index[rows]
  xyz = events_lib.polar_to_cartesian(
      events.azimuth[rows], events.elevation[rows]
  )
  target[f, slots, 0, c] = 1.0
  for j in range(3):
    target[f, slots, 1 + j, c] = xyz[:, j]
  if distance:
    d = events.distance[rows]
    if np.any(np.isnan(d)):
      raise ValueError('distance=True but some events have no distance.')
    target[f, slots, 4, c] = d
  return target


def multi_accdoa_stereo(
    events: events_lib.EventTable,
    num_frames: int,
    num_classes: int = 13,
    onscreen: bool = False,
) -> np.ndarray:
  """The DCASE2025 stereo ADPIT target (`utils.process_labels_adpit`).

  Directions are 2-D: x = cos(azimuth), y = sin(azimuth).

  Args:
    events: events with distances (and on-screen flags for `onscreen`).
    num_frames: T.
    num_classes: C.
    onscreen: keep the on-screen element (audio-visual); the audio-only
      loader drops it.

  Returns:
    float32 [T, 6, 4, C] = [act, x, y, dist_m] or [T, 6, 5, C] with onscreen.
  """
  _check_classes(events, num_classes)
  target = np.zeros(
      (num_frames, 6, 5 if onscreen else 4, num_classes), np.float32
  )
  rows, slots = adpit_slots(events, num_frames)
  if not len(rows):
    return target
  f, c = events.frame[rows], events.class_index[rows]
  azi = np.deg2rad(events.azimuth[rows])
  d = events.distance[rows]
  if np.any(np.isnan(d)):
    raise ValueError('The stereo target needs distances for every event.')
  target[f, slots, 0, c] = 1.0
  target[f, slots, 1, c] = np.cos(azi)
  target[f, slots, 2, c] = np.sin(azi)
  target[f, slots, 3, c] = d
  if onscreen:
    on = events.onscreen[rows]
    if np.any(on < 0):
      raise ValueError('onscreen=True but some events have no on-screen flag.')
    target[f, slots, 4, c] = on
  return target


def single_accdoa(
    events: events_lib.EventTable,
    num_frames: int,
    num_classes: int = 13,
    distance: bool = False,
) -> np.ndarray:
  """The single-ACCDOA target `tile(sed, 3) * [x|y|z]` (DCASE2021-2024).

  As `get_labels_for_file`, a later event of the same class in the same frame
  overwrites an earlier one (file order).

  Args:
    events: the event table.
    num_frames: T.
    num_classes: C.
    distance: append `sed * distance` in metres. (The official 2024 code
      appends it in centimetres here; multiply by 100 to reproduce that.)

  Returns:
    float32 [T, 3C] = [x|y|z] (or [T, 4C] = [x|y|z|dist]).
  """
  _check_classes(events, num_classes)
  k = 4 if distance else 3
  out = np.zeros((num_frames, k, num_classes), np.float32)
  rows = np.flatnonzero(events.frame < num_frames)
  f, c = events.frame[rows], events.class_index[rows]
  xyz = events_lib.polar_to_cartesian(
      events.azimuth[rows], events.elevation[rows]
  )
  # Fancy assignment keeps the last write for duplicate indices.
  for j in range(3):
    out[f, j, c] = xyz[:, j]
  if distance:
    out[f, 3, c] = events.distance[rows]
  return out.reshape(num_frames, k * num_classes)


def sed_doa(
    events: events_lib.EventTable,
    num_frames: int,
    num_classes: int,
    doa: str = 'xyz',
    inactive_doa: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
  """SELDnet-style class activity and per-class direction targets.

  Args:
    events: the event table.
    num_frames: T.
    num_classes: C.
    doa: 'xyz' -> DOA [T, 3C] = [x|y|z] unit vectors (0 where inactive, as
      DCASE2020); 'azel' -> [T, 2C] = [azimuth|elevation] in degrees, filled
      with `inactive_doa` where inactive (SELDnet 2018 used (180, 60)).
    inactive_doa: (azimuth, elevation) for inactive classes with 'azel'.

  Returns:
    (sed float32 [T, C] in {0, 1}, doa float32).
  """
  _check_classes(events, num_classes)
  sed = np.zeros((num_frames, num_classes), np.float32)
  rows = np.flatnonzero(events.frame < num_frames)
  f, c = events.frame[rows], events.class_index[rows]
  sed[f, c] = 1.0
  if doa == 'xyz':
    out = np.zeros((num_frames, 3, num_classes), np.float32)
    xyz = events_lib.polar_to_cartesian(
        events.azimuth[rows], events.elevation[rows]
    )
    for j in range(3):
      out[f, j, c] = xyz[:, j]
    return sed, out.reshape(num_frames, 3 * num_classes)
  if doa == 'azel':
    out = np.empty((num_frames, 2, num_classes), np.float32)
    out[:, 0] = inactive_doa[0]
    out[:, 1] = inactive_doa[1]
    out[f, 0, c] = events.azimuth[rows]
    out[f, 1, c] = events.elevation[rows]
    return sed, out.reshape(num_frames, 2 * num_classes)
  raise ValueError(f"doa must be 'xyz' or 'azel', got {doa!r}.")


def doa_grid_labels(
    events: events_lib.EventTable,
    num_frames: int = 3000,
    num_classes: int = 11,
    azimuth_range: tuple[int, int] = (-180, 180),
    elevation_range: tuple[int, int] = (-40, 50),
    resolution: int = 10,
) -> np.ndarray:
  """The DCASE2019 classification labels on a 10-degree direction grid.

  As `evaluation_metrics.py` (seld-dcase2019): 20-ms frames, azimuths
  -180..170 and elevations -40..40 in 10-degree steps (36 x 9 = 324 cells),
  angles clipped into the grid, cell index
  `((azi + 180) // 10) * 9 + (ele + 40) // 10`.

  Args:
    events: events at 50 label frames per second.
    num_frames: frames in the label matrix (3000 = 60 s).
    num_classes: C.
    azimuth_range: [start, stop) of the azimuth grid in degrees.
    elevation_range: [start, stop) of the elevation grid in degrees.
    resolution: grid step in degrees.

  Returns:
    bool [num_frames, C, num_azimuth * num_elevation].
  """
  _check_classes(events, num_classes)
  num_azi = (azimuth_range[1] - azimuth_range[0]) // resolution
  num_ele = (elevation_range[1] - elevation_range[0]) // resolution
  out = np.zeros((num_frames, num_classes, num_azi * num_ele), bool)
  rows = np.flatnonzero(events.frame < num_frames)
  azi = np.clip(
      events.azimuth[rows], azimuth_range[0], azimuth_range[1] - resolution
  )
  ele = np.clip(
      events.elevation[rows],
      elevation_range[0],
      elevation_range[1] - resolution,
  )
  cell = ((azi - azimuth_range[0]) // resolution).astype(int) * num_ele + (
      (ele - elevation_range[0]) // resolution
  ).astype(int)
  out[events.frame[rows], events.class_index[rows], cell] = True
  return out

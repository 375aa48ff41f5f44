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

"""The canonical event table every metadata format is converted to.

One row is one sound event instance active in one label frame:

  frame      int64    label-frame index at `label_rate` frames per second
  class_index int64   class index (0-based)
  source     int64    source / track id as written in the file
  azimuth    float64  degrees, counter-clockwise from the front (x axis)
  elevation  float64  degrees, upward; 0 for formats without elevation
  distance   float64  metres; NaN when the format carries no distance
  onscreen   int8     1 / 0, or -1 when the format carries no on-screen flag

Units are fixed here (degrees, metres); the readers in `seld_jax.formats`
convert from each file's own units (e.g. centimetres in STARSS23).
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

import numpy as np

# The STARSS22/23 (DCASE2022-2025) class list, in index order.
STARSS_CLASSES = (
    'female_speech',
    'male_speech',
    'clapping',
    'telephone',
    'laughter',
    'domestic_sounds',
    'footsteps',
    'door',
    'music',
    'musical_instrument',
    'water_tap',
    'bell',
    'knock',
)

# TAU-NIGENS Spatial Sound Events 2021 (DCASE2021), `parameter.py`.
TAU_NIGENS_2021_CLASSES = (
    'alarm',
    'baby',
    'crash',
    'dog',
    'female_scream',
    'female_speech',
    'footsteps',
    'knock',
    'male_scream',
    'male_speech',
    'phone',
    'piano',
)

# TAU-NIGENS Spatial Sound Events 2020 (DCASE2020).
TAU_NIGENS_2020_CLASSES = (
    'alarm',
    'baby',
    'crash',
    'dog',
    'engine',
    'female_scream',
    'female_speech',
    'fire',
    'footsteps',
    'knock',
    'male_scream',
    'male_speech',
    'phone',
    'piano',
)

# TAU Spatial Sound Events 2019 (DCASE2019) and the TUT Sound Events 2018
# ANSYN/RESYN datasets (DCASE2016 task 2 classes), in index order.
DCASE2019_CLASSES = (
    'knock',
    'drawer',
    'clearthroat',
    'phone',
    'keysDrop',
    'speech',
    'keyboard',
    'pageturn',
    'cough',
    'doorslam',
    'laughter',
)

_COLUMNS = (
    'frame',
    'class_index',
    'source',
    'azimuth',
    'elevation',
    'distance',
    'onscreen',
)
_DTYPES = {
    'frame': np.int64,
    'class_index': np.int64,
    'source': np.int64,
    'azimuth': np.float64,
    'elevation': np.float64,
    'distance': np.float64,
    'onscreen': np.int8,
}


@dataclasses.dataclass(frozen=True, eq=False)
class EventTable:
  """Frame-wise sound events of one recording (see the module docstring).

  Attributes:
    frame, class_index, source, azimuth, elevation, distance, onscreen: the
      columns, 1-D numpy arrays of equal length.
    label_rate: label frames per second (10 for the 100-ms DCASE2020+ frames,
      50 for the 20-ms DCASE2019 frames).
    num_frames: the recording's length in label frames when known, else None.
    class_names: names of the class indices when known, else None.
  """

  frame: np.ndarray
  class_index: np.ndarray
  source: np.ndarray
  azimuth: np.ndarray
  elevation: np.ndarray
  distance: np.ndarray
  onscreen: np.ndarray
  label_rate: float = 10.0
  num_frames: int | None = None
  class_names: tuple[str, ...] | None = None

  def __post_init__(self):
    n = None
    for name in _COLUMNS:
      value = np.asarray(getattr(self, name), dtype=_DTYPES[name]).reshape(-1)
      object.__setattr__(self, name, value)
      if n is None:
        n = len(value)
      elif len(value) != n:
        raise ValueError(
            f'EventTable column {name!r} has {len(value)} rows, expected {n}.'
        )

  # Construction
  # ---------------------------------------------------------------------------

  @classmethod
  def empty(cls, **kwargs) -> EventTable:
    cols = {name: np.zeros((0,), _DTYPES[name]) for name in _COLUMNS}
    return cls(**cols, **kwargs)

  @classmethod
  def from_columns(
      cls,
      frame: Sequence[int] | np.ndarray,
      class_index: Sequence[int] | np.ndarray,
      azimuth: Sequence[float] | np.ndarray,
      elevation: Sequence[float] | np.ndarray | None = None,
      *,
      source: Sequence[int] | np.ndarray | None = None,
      distance: Sequence[float] | np.ndarray | None = None,
      onscreen: Sequence[int] | np.ndarray | None = None,
      **kwargs,
  ) -> EventTable:
    """Builds a table, filling absent columns with their 'unknown' values."""
    n = len(frame)
    return cls(
        frame=frame,
        class_index=class_index,
        source=np.zeros(n) if source is None else source,
        azimuth=azimuth,
        elevation=np.zeros(n) if elevation is None else elevation,
        distance=np.full(n, np.nan) if distance is None else distance,
        onscreen=np.full(n, -1) if onscreen is None else onscreen,
        **kwargs,
    )

  @classmethod
  def from_cartesian(
      cls,
      frame,
      class_index,
      xyz: np.ndarray,
      *,
      source=None,
      distance=None,
      onscreen=None,
      **kwargs,
  ) -> EventTable:
    """Builds a table from (unnormalised) direction vectors [N, 3]."""
    xyz = np.asarray(xyz, np.float64).reshape(-1, 3)
    azimuth, elevation = cartesian_to_polar(xyz)
    return cls.from_columns(
        frame,
        class_index,
        azimuth,
        elevation,
        source=source,
        distance=distance,
        onscreen=onscreen,
        **kwargs,
    )

  # Accessors
  # ---------------------------------------------------------------------------

  def __len__(self) -> int:
    return len(self.frame)

  @property
  def has_distance(self) -> bool:
    return bool(len(self)) and not np.all(np.isnan(self.distance))

  @property
  def has_onscreen(self) -> bool:
    return bool(len(self)) and bool(np.all(self.onscreen >= 0))

  def xyz(self) -> np.ndarray:
    """Unit direction vectors [N, 3] (x front, y left, z up)."""
    return polar_to_cartesian(self.azimuth, self.elevation)

  def last_frame(self) -> int:
    """The largest frame index, or -1 for an empty table."""
    return int(self.frame.max()) if len(self) else -1

  def columns(self) -> dict[str, np.ndarray]:
    return {name: getattr(self, name) for name in _COLUMNS}

  def select(self, mask_or_index: np.ndarray) -> EventTable:
    """Rows selected by a boolean mask or an index array (order kept)."""
    cols = {k: v[mask_or_index] for k, v in self.columns().items()}
    return dataclasses.replace(self, **cols)

  def sorted(self) -> EventTable:
    """Rows ordered by frame, stable (file order kept within a frame)."""
    return self.select(np.argsort(self.frame, kind='stable'))

  def replace(self, **changes) -> EventTable:
    return dataclasses.replace(self, **changes)

  def num_events(self) -> int:
    """The number of event instances: contiguous frame runs per (class, source).

    A run is broken by a gap of at least one label frame.
    """
    if not len(self):
      return 0
    keys = np.stack([self.class_index, self.source], axis=1)
    order = np.lexsort((self.frame, self.source, self.class_index))
    k = keys[order]
    f = self.frame[order]
    new_key = np.any(k[1:] != k[:-1], axis=1)
    gap = (f[1:] - f[:-1]) > 1
    return int(1 + np.count_nonzero(new_key | gap))

  def __repr__(self) -> str:
    return (
        f'EventTable(rows={len(self)}, label_rate={self.label_rate}, '
        f'num_frames={self.num_frames}, last_frame={self.last_frame()})'
    )

  def equals(self, other: EventTable, atol: float = 1e-9) -> bool:
    """Row-wise equality (NaN == NaN for distance)."""
    if len(self) != len(other):
      return False
    for name in ('frame', 'class_index', 'source', 'onscreen'):
      if not np.array_equal(getattr(self, name), getattr(other, name)):
        return False
    for name in ('azimuth', 'elevation', 'distance'):
      if not np.allclose(
          getattr(self, name), getattr(other, name), atol=atol, equal_nan=True
      ):
        return False
    return True


def polar_to_cartesian(azimuth_deg, elevation_deg) -> np.ndarray:
  """Degrees -> unit vectors [..., 3], as the DCASE code converts them."""
  # `* np.pi / 180` as the official code (np.deg2rad may differ by an ulp).
  azi = np.asarray(azimuth_deg, np.float64) * np.pi / 180
  ele = np.asarray(elevation_deg, np.float64) * np.pi / 180
  return np.stack(
      [np.cos(azi) * np.cos(ele), np.sin(azi) * np.cos(ele), np.sin(ele)],
      axis=-1,
  )


def cartesian_to_polar(xyz) -> tuple[np.ndarray, np.ndarray]:
  """Vectors [..., 3] -> (azimuth, elevation) in degrees (DCASE formulas)."""
  xyz = np.asarray(xyz, np.float64)
  x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
  azimuth = np.arctan2(y, x) * 180 / np.pi
  elevation = np.arctan2(z, np.sqrt(x**2 + y**2)) * 180 / np.pi
  return azimuth, elevation


def concatenate(tables: Sequence[EventTable]) -> EventTable:
  """Stacks the rows of tables that share a label rate."""
  if not tables:
    return EventTable.empty()
  rates = {t.label_rate for t in tables}
  if len(rates) != 1:
    raise ValueError(f'Cannot concatenate tables with label rates {rates}.')
  cols = {
      name: np.concatenate([getattr(t, name) for t in tables])
      for name in _COLUMNS
  }
  return dataclasses.replace(tables[0], **cols)

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

"""Every DCASE / TUT SELD metadata format <-> the canonical `EventTable`.

Formats (the `fmt` names), one CSV per recording:

  dcase2019   header `sound_event_recording,start_time,end_time,ele,azi,dist`,
              class names, times in s; expanded to 20-ms frames (50 fps):
              frames floor(start*50) ... ceil(end*50) inclusive. Each line is
              one event; its line index becomes the source id.
  tut2018     TUT Sound Events 2018 desc files (SELDnet): header line, then
              `file,start,end,ele,azi,dist` (static), `file,start,end,ele,azi,
              ele_dir,azi_dir,ang_vel,dist` (moving, synthetic) or `file,start,
              end,ele,azi,ang_vel,dist` (moving, real); frames of 512 samples
              at 44.1 kHz; trajectories as the official `cls_feature_class.py`.
  dcase2020   `frame,class,track,azimuth,elevation` (100-ms frames, 14 classes)
  dcase2021   same columns, 12 classes
  starss22    `frame,class,source,azimuth,elevation`, 13 classes
  starss23    `frame,class,source,azimuth,elevation,distance`, distance in cm
              (also the DCASE2024 reference format; alias `dcase2024`)
  dcase2025   header `frame,class,source,azimuth,distance,onscreen`, distance
              in cm, no elevation (stereo SELD)
  polar4      `frame,class,azimuth,elevation` (DCASE2020 style output)
  cartesian6  `frame,class,source,x,y,z` (DCASE2022 prediction files)
  cartesian7  `frame,class,source,x,y,z,distance` (DCASE2023/2024 prediction
              files; distance in metres)

Units in the table are always degrees and metres. A malformed row raises
`FormatError` naming the file and the 1-based line number.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import math
import os
import pathlib
import tempfile

import numpy as np

from seld_jax import events as events_lib

EventTable = events_lib.EventTable

# Frame rate of the TUT Sound Events 2018 labels: 512-sample hops at 44.1 kHz.
TUT2018_LABEL_RATE = 44100 / 512

# TUT Sound Events 2018 REAL/MREAL classes: UrbanSound8K class ids.
TUT2018_REAL_CLASSES = (
    'car_horn',
    'dog_bark',
    'drilling',
    'engine_idling',
    'gun_shot',
    'jackhammer',
    'siren',
    'street_music',
)
_URBANSOUND_ID_TO_INDEX = {
    '1': 0,
    '3': 1,
    '4': 2,
    '5': 3,
    '6': 4,
    '7': 5,
    '8': 6,
    '9': 7,
}

DCASE2019_HEADER = 'sound_event_recording,start_time,end_time,ele,azi,dist'
DCASE2025_HEADER = 'frame,class,source,azimuth,distance,onscreen'


class FormatError(ValueError):
  """A metadata file that does not follow its format."""

  def __init__(self, path, line: int | None, message: str):
    self.path = str(path)
    self.line = line
    where = f'{path}:{line}' if line is not None else f'{path}'
    super().__init__(f'{where}: {message}')


@dataclasses.dataclass(frozen=True)
class FormatSpec:
  """Static facts about one metadata format."""

  name: str
  columns: tuple[str, ...]
  label_rate: float = 10.0
  class_names: tuple[str, ...] | None = None
  distance_unit: str | None = None  # 'cm', 'm' or None (no distance column)
  header: str | None = None

  @property
  def num_classes(self) -> int | None:
    return None if self.class_names is None else len(self.class_names)


_POLAR5 = ('frame', 'class', 'source', 'azimuth', 'elevation')

FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            'dcase2019',
            (
                'sound_event_recording',
                'start_time',
                'end_time',
                'ele',
                'azi',
                'dist',
            ),
            label_rate=50.0,
            class_names=events_lib.DCASE2019_CLASSES,
            distance_unit='m',
            header=DCASE2019_HEADER,
        ),
        FormatSpec(
            'tut2018',
            ('file', 'start_time', 'end_time', 'ele', 'azi', '...', 'dist'),
            label_rate=TUT2018_LABEL_RATE,
            class_names=events_lib.DCASE2019_CLASSES,
            distance_unit='m',
        ),
        FormatSpec(
            'dcase2020',
            _POLAR5,
            class_names=events_lib.TAU_NIGENS_2020_CLASSES,
        ),
        FormatSpec(
            'dcase2021',
            _POLAR5,
            class_names=events_lib.TAU_NIGENS_2021_CLASSES,
        ),
        FormatSpec('starss22', _POLAR5, class_names=events_lib.STARSS_CLASSES),
        FormatSpec(
            'starss23',
            _POLAR5 + ('distance',),
            class_names=events_lib.STARSS_CLASSES,
            distance_unit='cm',
        ),
        FormatSpec(
            'dcase2025',
            ('frame', 'class', 'source', 'azimuth', 'distance', 'onscreen'),
            class_names=events_lib.STARSS_CLASSES,
            distance_unit='cm',
            header=DCASE2025_HEADER,
        ),
        FormatSpec('polar4', ('frame', 'class', 'azimuth', 'elevation')),
        FormatSpec('cartesian6', ('frame', 'class', 'source', 'x', 'y', 'z')),
        FormatSpec(
            'cartesian7',
            ('frame', 'class', 'source', 'x', 'y', 'z', 'distance'),
            distance_unit='m',
        ),
    )
}
_ALIASES = {'dcase2024': 'starss23', 'dcase2023': 'starss23'}

_UNIT_TO_METRES = {'cm': 0.01, 'm': 1.0}


def get_format(fmt: str) -> FormatSpec:
  name = _ALIASES.get(fmt, fmt)
  if name not in FORMATS:
    raise ValueError(
        f'Unknown metadata format {fmt!r}; known: '
        f'{sorted(FORMATS) + sorted(_ALIASES)}.'
    )
  return FORMATS[name]


# Reading
# -----------------------------------------------------------------------------


def _read_lines(path) -> list[tuple[int, str]]:
  """Non-blank lines with their 1-based line numbers."""
  try:
    with open(path, encoding='utf-8-sig') as f:
      text = f.read()
  except FileNotFoundError:
    raise FormatError(path, None, 'file not found') from None
  except UnicodeDecodeError as e:
    raise FormatError(path, None, f'not a text file ({e})') from None
  return [
      (i + 1, line.strip())
      for i, line in enumerate(text.splitlines())
      if line.strip()
  ]


def _is_header(line: str) -> bool:
  first = line.split(',')[0].strip()
  try:
    float(first)
    return False
  except ValueError:
    return True


def detect_format(path) -> str:
  """Guesses a file's format from its header or first row.

  Numeric 5-column files are reported as `starss22` (identical parsing to
  `dcase2020`/`dcase2021`; pass `fmt` for their class counts). A 6-column
  numeric file is `cartesian6` when its direction columns are non-integer and
  within [-1, 1], else `starss23`.

  Args:
    path: the CSV file.

  Returns:
    A format name from `FORMATS`.
  """
  lines = _read_lines(path)
  if not lines:
    raise FormatError(
        path, None, 'empty file: its format cannot be detected; pass fmt'
    )
  lineno, first = lines[0]
  cells = [c.strip() for c in first.split(',')]
  if _is_header(first):
    lowered = [c.lower() for c in cells]
    if lowered == DCASE2025_HEADER.split(','):
      return 'dcase2025'
    if lowered[:1] == ['sound_event_recording'] or 'ele_dir' in lowered:
      if len(lines) > 1:
        name = lines[1][1].split(',')[0].strip()
        if name.lower().endswith('.wav') or len(cells) != 6:
          return 'tut2018'
      return 'dcase2019'
    raise FormatError(path, lineno, f'unrecognised header {first!r}')
  n = len(cells)
  if n == 4:
    return 'polar4'
  if n == 5:
    return 'starss22'
  if n == 6:
    try:
      xyz = [float(c) for c in cells[3:6]]
    except ValueError:
      return 'starss23'
    if all(abs(v) <= 1.0 for v in xyz) and any(
        not float(v).is_integer() for v in xyz
    ):
      return 'cartesian6'
    return 'starss23'
  if n == 7:
    return 'cartesian7'
  raise FormatError(
      path, lineno, f'cannot detect the format of a {n}-column row {first!r}'
  )


def _parse_numeric(path, lines, ncols: int, int_cols: Sequence[int]):
  """Parses numeric CSV rows; returns a float64 [N, ncols] array."""
  rows = []
  for lineno, line in lines:
    cells = line.split(',')
    if len(cells) != ncols:
      raise FormatError(
          path,
          lineno,
          f'expected {ncols} columns, got {len(cells)}: {line!r}',
      )
    try:
      values = [float(c) for c in cells]
    except ValueError:
      raise FormatError(
          path, lineno, f'non-numeric value in {line!r}'
      ) from None
    for j, v in enumerate(values):
      if not math.isfinite(v):
        raise FormatError(
            path, lineno, f'non-finite value in column {j + 1}: {line!r}'
        )
    for j in int_cols:
      if not values[j].is_integer():
        raise FormatError(
            path, lineno, f'column {j + 1} must be an integer: {line!r}'
        )
    rows.append(values)
  return np.asarray(rows, np.float64).reshape(len(rows), ncols)


def _check_ranges(
    path,
    linenos: np.ndarray,
    *,
    frame: np.ndarray,
    class_index: np.ndarray,
    num_classes: int | None,
    azimuth: np.ndarray | None = None,
    elevation: np.ndarray | None = None,
    distance: np.ndarray | None = None,
    onscreen: np.ndarray | None = None,
):
  """Raises FormatError at the first row with an out-of-range value."""
  checks = [
      (frame < 0, 'negative frame index'),
      (class_index < 0, 'negative class index'),
  ]
  if num_classes is not None:
    checks.append(
        (class_index >= num_classes, f'class index >= {num_classes} classes')
    )
  if azimuth is not None:
    checks.append((np.abs(azimuth) > 360, 'azimuth outside [-360, 360]'))
  if elevation is not None:
    checks.append((np.abs(elevation) > 90, 'elevation outside [-90, 90]'))
  if distance is not None:
    checks.append((distance < 0, 'negative distance'))
  if onscreen is not None:
    checks.append(((onscreen != 0) & (onscreen != 1), 'onscreen not 0 or 1'))
  for bad, message in checks:
    if np.any(bad):
      i = int(np.argmax(bad))
      raise FormatError(path, int(linenos[i]), message)


def read_metadata(
    path: str | os.PathLike,
    fmt: str | None = None,
    *,
    num_classes: int | None = None,
    distance_unit: str | None = None,
) -> EventTable:
  """Reads one metadata / prediction CSV into an `EventTable`.

  Args:
    path: the CSV file.
    fmt: a format name (see the module docstring); detected when None.
    num_classes: class count for the range check; defaults to the format's
      own class list (none for prediction formats).
    distance_unit: overrides the format's distance unit ('cm' or 'm').

  Returns:
    The table, rows in file order, with `label_rate` and `class_names` of the
    format.

  Raises:
    FormatError: naming the file and line of the first malformed row.
  """
  fmt = detect_format(path) if fmt is None else fmt
  spec = get_format(fmt)
  if num_classes is None:
    num_classes = spec.num_classes
  unit = distance_unit or spec.distance_unit
  if unit is not None and unit not in _UNIT_TO_METRES:
    raise ValueError(f'distance_unit must be "cm" or "m", got {unit!r}.')
  if spec.name == 'dcase2019':
    return _read_dcase2019(path, spec, num_classes)
  if spec.name == 'tut2018':
    return _read_tut2018(path, num_classes)

  lines = _read_lines(path)
  if spec.header is not None:
    if not lines or lines[0][1].replace(' ', '').lower() != spec.header:
      raise FormatError(
          path,
          lines[0][0] if lines else None,
          f'expected the header {spec.header!r}',
      )
    lines = lines[1:]
  elif lines and _is_header(lines[0][1]):
    raise FormatError(
        path, lines[0][0], f'unexpected header for format {spec.name!r}'
    )
  ncols = len(spec.columns)
  int_cols = [
      spec.columns.index(c)
      for c in ('frame', 'class', 'source', 'onscreen')
      if c in spec.columns
  ]
  data = _parse_numeric(path, lines, ncols, int_cols)
  linenos = np.asarray([n for n, _ in lines], np.int64)
  col = {name: data[:, j] for j, name in enumerate(spec.columns)}
  n = len(data)
  frame = col['frame'].astype(np.int64)
  class_index = col['class'].astype(np.int64)
  source = col['source'].astype(np.int64) if 'source' in col else np.zeros(n)
  distance = None
  if 'distance' in col:
    distance = col['distance'] * _UNIT_TO_METRES[unit]
  onscreen = col['onscreen'].astype(np.int64) if 'onscreen' in col else None
  if 'x' in col:
    xyz = np.stack([col['x'], col['y'], col['z']], axis=1)
    azimuth, elevation = events_lib.cartesian_to_polar(xyz)
    check_angles = {}
  else:
    azimuth = col['azimuth']
    elevation = col.get('elevation', np.zeros(n))
    check_angles = {'azimuth': azimuth, 'elevation': elevation}
  _check_ranges(
      path,
      linenos,
      frame=frame,
      class_index=class_index,
      num_classes=num_classes,
      distance=distance,
      onscreen=onscreen,
      **check_angles,
  )
  return EventTable.from_columns(
      frame,
      class_index,
      azimuth,
      elevation,
      source=source,
      distance=distance,
      onscreen=onscreen,
      label_rate=spec.label_rate,
      class_names=spec.class_names,
  )


def _class_lookup(path, lineno, name, class_names):
  try:
    return class_names.index(name)
  except ValueError:
    raise FormatError(
        path, lineno, f'unknown class name {name!r}; known: {class_names}'
    ) from None


def _read_time_rows(path, lines, min_cols, max_cols=None):
  """Parses `name,start,end,...` rows; numeric columns from index 1."""
  rows = []
  max_cols = max_cols or min_cols
  for lineno, line in lines:
    cells = [c.strip() for c in line.split(',')]
    if not min_cols <= len(cells) <= max_cols:
      raise FormatError(
          path,
          lineno,
          f'expected {min_cols} columns, got {len(cells)}: {line!r}',
      )
    try:
      values = [float(c) for c in cells[1:]]
    except ValueError:
      raise FormatError(
          path, lineno, f'non-numeric value in {line!r}'
      ) from None
    if not all(math.isfinite(v) for v in values):
      raise FormatError(path, lineno, f'non-finite value in {line!r}')
    start, end = values[0], values[1]
    # A one-frame event written back exactly may end an ulp before it starts.
    if start < 0 or end < start - 1e-9:
      raise FormatError(
          path, lineno, f'invalid time span start={start} end={end}'
      )
    if abs(values[2]) > 90:
      raise FormatError(path, lineno, 'elevation outside [-90, 90]')
    if abs(values[3]) > 360:
      raise FormatError(path, lineno, 'azimuth outside [-360, 360]')
    rows.append((lineno, cells[0], values))
  return rows


def _time_to_frame(t: float, rate: float, rounding) -> int:
  """floor/ceil(t * rate), exactly as the official code computes it."""
  return int(rounding(t * rate))


def _frame_time(frame: int, rate: float, rounding) -> float:
  """A time t (seconds) with `rounding(t * rate) == frame` exactly.

  `frame / rate` is not always such a time (0.14 * 50 = 7.000000000000001,
  whose ceil is 8), so the float is nudged by ulps until the official
  floor/ceil gives the frame back.
  """
  t = frame / rate
  direction = math.inf if rounding is math.floor else -math.inf
  while int(rounding(t * rate)) != frame:
    t = math.nextafter(t, direction)
  return t


def _read_dcase2019(path, spec: FormatSpec, num_classes) -> EventTable:
  lines = _read_lines(path)
  if not lines or lines[0][1].replace(' ', '') != spec.header:
    raise FormatError(
        path,
        lines[0][0] if lines else None,
        f'expected the header {spec.header!r}',
    )
  rate = spec.label_rate
  cols = {k: [] for k in ('frame', 'class', 'source', 'azi', 'ele', 'dist')}
  for event_id, (lineno, name, values) in enumerate(
      _read_time_rows(path, lines[1:], 6)
  ):
    class_index = _class_lookup(path, lineno, name, spec.class_names)
    if num_classes is not None and class_index >= num_classes:
      raise FormatError(path, lineno, f'class index >= {num_classes} classes')
    start_time, end_time, ele, azi, dist = values
    if dist < 0:
      raise FormatError(path, lineno, 'negative distance')
    start = _time_to_frame(start_time, rate, math.floor)
    end = _time_to_frame(end_time, rate, math.ceil)
    frames = np.arange(start, end + 1)
    cols['frame'].append(frames)
    cols['class'].append(np.full(len(frames), class_index))
    cols['source'].append(np.full(len(frames), event_id))
    cols['azi'].append(np.full(len(frames), azi))
    cols['ele'].append(np.full(len(frames), ele))
    cols['dist'].append(np.full(len(frames), dist))
  if not cols['frame']:
    return EventTable.empty(label_rate=rate, class_names=spec.class_names)
  cat = {k: np.concatenate(v) for k, v in cols.items()}
  table = EventTable.from_columns(
      cat['frame'],
      cat['class'],
      cat['azi'],
      cat['ele'],
      source=cat['source'],
      distance=cat['dist'],
      label_rate=rate,
      class_names=spec.class_names,
  )
  return table.sorted()


def _wrap_to_180(deg: np.ndarray) -> np.ndarray:
  """The official `wrapTo180` (via radians, as in seld-net)."""
  rad = np.asarray(deg, np.float64) * np.pi / 180.0
  wrapped = np.remainder(rad, 2 * np.pi)
  mask = np.abs(wrapped) > np.pi
  wrapped[mask] -= 2 * np.pi * np.sign(wrapped[mask])
  return wrapped * 180 / np.pi


def _rotation_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
  ux = np.array([
      [0, -axis[2], axis[1]],
      [axis[2], 0, -axis[0]],
      [-axis[1], axis[0], 0],
  ])
  return (
      np.eye(3) * np.cos(theta)
      + np.sin(theta) * ux
      + (1 - np.cos(theta)) * np.outer(axis, axis)
  )


def _tut_moving_synthetic_trajectory(
    azi, ele, azi_dir, ele_dir, ang_vel_deg, num_frames, frame_rate
):
  """Azimuth/elevation per frame of a TUT2018 moving synthetic source.

  As the official seld-net code: rotation about start x direction at the
  angular velocity, sampled every 10 ms, linearly interpolated (in degrees,
  without unwrapping) onto the label frames.
  """
  sph = lambda az, el: np.array(
      [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)]
  )
  start = sph(np.deg2rad(azi), np.deg2rad(ele))
  direction = sph(np.deg2rad(azi_dir), np.deg2rad(ele_dir))
  cross = np.cross(start, direction)
  ab = float(np.dot(start, direction))
  if abs(ab) > 1 or np.arccos(ab) in (0.0, np.pi) or np.sum(cross) == 0:
    # The official code's degenerate-axis case (`[999]`): it then fails; we
    # keep the source static rather than inventing a motion.
    return np.full(num_frames, azi, float), np.full(num_frames, ele, float)
  axis = cross / np.sqrt(np.sum(cross**2))
  windows_per_s = 100.0  # fs / fade_win_size = 44100 / 441
  step = np.deg2rad(ang_vel_deg) / windows_per_s
  num_windows = int(np.ceil(num_frames / frame_rate * windows_per_s))
  xyz = np.stack(
      [start @ _rotation_matrix(axis, k * step).T for k in range(num_windows)]
  ).reshape(-1, 3)
  t_azi = np.rad2deg(np.arctan2(xyz[:, 1], xyz[:, 0]))
  t_ele = np.rad2deg(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
  org = np.linspace(0, 1, len(xyz))
  new = np.linspace(0, 1, num_frames)
  return np.interp(new, org, t_azi), np.interp(new, org, t_ele)


def _read_tut2018(path, num_classes) -> EventTable:
  """TUT Sound Events 2018 desc files (static, moving synthetic/real)."""
  lines = _read_lines(path)
  if not lines or not _is_header(lines[0][1]):
    raise FormatError(
        path, lines[0][0] if lines else None, 'expected a header line'
    )
  rate = TUT2018_LABEL_RATE
  rows = _read_time_rows(path, lines[1:], 6, 9)
  ncols = {len(values) + 1 for _, _, values in rows}
  if len(ncols) > 1:
    raise FormatError(path, rows[0][0], f'mixed column counts {sorted(ncols)}')
  real = bool(rows) and '-' in rows[0][1].split('.')[0]
  class_names = TUT2018_REAL_CLASSES if real else events_lib.DCASE2019_CLASSES
  out = {k: [] for k in ('frame', 'class', 'source', 'azi', 'ele', 'dist')}
  for event_id, (lineno, name, values) in enumerate(rows):
    stem = name.split('.')[0]
    if real:
      parts = stem.split('-')
      if len(parts) < 2 or parts[1] not in _URBANSOUND_ID_TO_INDEX:
        raise FormatError(path, lineno, f'unknown UrbanSound class in {name!r}')
      class_index = _URBANSOUND_ID_TO_INDEX[parts[1]]
    else:
      class_index = _class_lookup(path, lineno, stem[:-3], class_names)
    if num_classes is not None and class_index >= num_classes:
      raise FormatError(path, lineno, f'class index >= {num_classes} classes')
    start = _time_to_frame(values[0], rate, math.floor)
    end = _time_to_frame(values[1], rate, math.ceil)
    ele, azi = values[2], values[3]
    n_dir = end - start  # frames with a direction label in the official code
    if len(values) == 5:  # static
      azis, eles, dist = np.full(n_dir, azi), np.full(n_dir, ele), values[4]
    elif len(values) == 6:  # moving, real: ang_vel, dist
      se_len_s = n_dir / rate
      traj = np.floor(np.linspace(azi, azi + values[4] * se_len_s, n_dir))
      azis, eles, dist = _wrap_to_180(traj), np.full(n_dir, ele), values[5]
    elif len(values) == 8:  # moving, synthetic: ele_dir, azi_dir, ang_vel, dist
      azis, eles = _tut_moving_synthetic_trajectory(
          azi, ele, values[5], values[4], values[6], n_dir, rate
      )
      dist = values[7]
    else:
      raise FormatError(
          path, lineno, f'expected 6, 7 or 9 columns, got {len(values) + 1}'
      )
    # The official SED labels cover frames start..end inclusive; the last
    # frame has no direction label there, so it repeats the last direction.
    if n_dir == 0:
      azis, eles = np.array([azi], float), np.array([ele], float)
    azis = np.concatenate([azis, azis[-1:]])
    eles = np.concatenate([eles, eles[-1:]])
    frames = np.arange(start, end + 1)
    out['frame'].append(frames)
    out['class'].append(np.full(len(frames), class_index))
    out['source'].append(np.full(len(frames), event_id))
    out['azi'].append(azis[: len(frames)])
    out['ele'].append(eles[: len(frames)])
    out['dist'].append(np.full(len(frames), dist))
  if not out['frame']:
    return EventTable.empty(label_rate=rate, class_names=class_names)
  cat = {k: np.concatenate(v) for k, v in out.items()}
  return EventTable.from_columns(
      cat['frame'],
      cat['class'],
      cat['azi'],
      cat['ele'],
      source=cat['source'],
      distance=cat['dist'],
      label_rate=rate,
      class_names=class_names,
  ).sorted()


# Writing
# -----------------------------------------------------------------------------


def _num(v: float) -> str:
  """A number as the shortest exact text; integral values without '.0'."""
  v = float(v)
  nearest = round(v)
  # Unit conversions (cm -> m -> cm) leave ~1e-14 noise on integral values.
  if abs(v - nearest) <= 1e-9 * max(1.0, abs(v)) and abs(v) < 1e15:
    return str(int(nearest))
  return repr(v)


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _atomic_write(path, text: str) -> None:
  """Writes a file via a temporary sibling and a rename (never half-written)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
  try:
    with os.fdopen(fd, 'w', encoding='utf-8', newline='') as f:
      f.write(text)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates files as 0600
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def format_metadata(table: EventTable, fmt: str) -> str:
  """The CSV text of `table` in format `fmt` (see `write_metadata`)."""
  spec = get_format(fmt)
  if spec.name == 'dcase2019':
    return _format_dcase2019(table, spec)
  if spec.name == 'tut2018':
    raise ValueError(
        'Writing TUT Sound Events 2018 desc files is not supported: their '
        'moving-source trajectories are parameters, not frame-wise labels.'
    )
  table = table.sorted()
  # The DCASE2025 writer rounds azimuth and distance (cm) to integers, as the
  # official `write_to_dcase_output_format` does; elsewhere values keep their
  # precision (integral values are written without a decimal point).
  rnd = lambda v: str(int(round(v)))
  ang = rnd if spec.name == 'dcase2025' else _num
  lines = []
  if spec.header is not None:
    lines.append(spec.header)
  if spec.distance_unit is not None and len(table) and not table.has_distance:
    raise ValueError(f'Format {fmt!r} needs distances; the table has none.')
  scale = 1.0 / _UNIT_TO_METRES[spec.distance_unit or 'm']
  xyz = table.xyz() if spec.name.startswith('cartesian') else None
  for i in range(len(table)):
    f, c, s = table.frame[i], table.class_index[i], table.source[i]
    azi, ele = table.azimuth[i], table.elevation[i]
    dist = table.distance[i] * scale
    if spec.name == 'polar4':
      row = [f, c, _num(azi), _num(ele)]
    elif spec.name in ('starss22', 'dcase2020', 'dcase2021'):
      row = [f, c, s, _num(azi), _num(ele)]
    elif spec.name == 'starss23':
      row = [f, c, s, _num(azi), _num(ele), _num(dist)]
    elif spec.name == 'dcase2025':
      on = table.onscreen[i]
      row = [f, c, s, ang(azi), rnd(dist), max(int(on), 0)]
    elif spec.name == 'cartesian6':
      row = [f, c, s] + [_num(v) for v in xyz[i]]
    else:  # cartesian7
      d = 0.0 if np.isnan(dist) else dist
      row = [f, c, s] + [_num(v) for v in xyz[i]] + [_num(d)]
    lines.append(','.join(str(v) for v in row))
  return '\n'.join(lines) + ('\n' if lines else '')


def _format_dcase2019(table: EventTable, spec: FormatSpec) -> str:
  if len(table) and table.label_rate != spec.label_rate:
    raise ValueError(
        'dcase2019 files hold 20-ms frames; the table has label_rate '
        f'{table.label_rate}.'
    )
  names = table.class_names or spec.class_names
  order = np.lexsort((table.frame, table.source, table.class_index))
  lines = [spec.header]
  segments = []
  i = 0
  while i < len(order):
    j = i
    while (
        j + 1 < len(order)
        and table.class_index[order[j + 1]] == table.class_index[order[i]]
        and table.source[order[j + 1]] == table.source[order[i]]
        and table.frame[order[j + 1]] == table.frame[order[j]] + 1
    ):
      j += 1
    first, last = order[i], order[j]
    segments.append((table.frame[first], table.frame[last], first))
    i = j + 1
  segments.sort(key=lambda s: (s[0], s[2]))
  for start, end, k in segments:
    dist = table.distance[k]
    row = [
        names[table.class_index[k]],
        repr(_frame_time(int(start), spec.label_rate, math.floor)),
        repr(_frame_time(int(end), spec.label_rate, math.ceil)),
        str(int(round(table.elevation[k]))),
        str(int(round(table.azimuth[k]))),
        _num(0.0 if np.isnan(dist) else dist),
    ]
    lines.append(','.join(row))
  return '\n'.join(lines) + '\n'


def write_metadata(path: str | os.PathLike, table: EventTable, fmt: str):
  """Writes `table` as a CSV in format `fmt`, atomically.

  Values keep their precision (integral values are written as integers, so a
  table read from a dataset CSV is written back identically), except in
  `dcase2025`, whose official writer rounds azimuth and distance (cm).
  Cartesian prediction formats write unit vectors from the table's angles.

  Args:
    path: destination file; parent folders are created.
    table: the events.
    fmt: a format name (see the module docstring).
  """
  _atomic_write(path, format_metadata(table, fmt))

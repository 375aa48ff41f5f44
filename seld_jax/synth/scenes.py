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

"""Scene layout: events in time and space, and their frame-wise labels.

Events are placed on `max_polyphony` independent layers (as the DCASE
synthetic-data generators do): each layer is a sequence of events separated by
random gaps, layer k filling a fraction `layer_density[k]` of the time, so the
polyphony never exceeds the number of layers. An event on a layer above the
first copies, with probability `same_class_prob`, the class of an event
already sounding on a lower layer, which makes same-class overlaps (distinct
source ids). Other classes are balanced by sounding time, not by event count:
class k is drawn with probability proportional to 1 / `sources.MEAN_SECONDS[k]`,
so short events (door, knock) come more often than long ones (music) and
every class gets a similar share of the active label frames.

Each event is static or moves at a constant angular speed: azimuth changes by
`azimuth_speed` deg/s (wrapping around the circle) and elevation by
`elevation_speed` deg/s, reflected at the elevation limits; the distance stays
constant and is kept inside the room along the whole trajectory.

Labels follow STARSS23: one row per active event per 100-ms frame, the
direction and distance at the frame centre, azimuth/elevation rounded to
integer degrees and distance to centimetres (exactly what the CSV holds).
An event covers frames round(onset * 10) .. round(offset * 10) - 1.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses

import numpy as np

from seld_jax import events as events_lib
from seld_jax.synth import room as room_lib
from seld_jax.synth import sources
from seld_jax.synth import spatial

# Classes of fixed objects (never moving) and of walking sources.
_STATIC_CLASSES = (7, 10, 12)  # door, water tap, knock
_WALKING_CLASSES = (6,)  # footsteps move twice as often


@dataclasses.dataclass
class Event:
  """One sound event of a scene.

  Attributes:
    class_index: STARSS class index.
    onset: first sample in the scene.
    signal: dry mono signal (float64).
    azimuth, elevation: direction at the onset, degrees.
    distance: metres from the microphone.
    azimuth_speed, elevation_speed: degrees per second (0 when static).
    elevation_range: limits at which a moving elevation is reflected.
    source: source id (distinct among overlapping same-class events).
    gain: linear level of the dry signal at 1 m.
  """

  class_index: int
  onset: int
  signal: np.ndarray
  azimuth: float
  elevation: float
  distance: float
  azimuth_speed: float = 0.0
  elevation_speed: float = 0.0
  elevation_range: tuple[float, float] = (-90.0, 90.0)
  source: int = 0
  gain: float = 1.0

  @property
  def num_samples(self) -> int:
    return len(self.signal)

  @property
  def offset(self) -> int:
    return self.onset + len(self.signal)

  @property
  def moving(self) -> bool:
    return self.azimuth_speed != 0.0 or self.elevation_speed != 0.0

  def direction(self, t) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth, elevation) in degrees at times t (s) after the onset."""
    t = np.asarray(t, np.float64)
    azi = wrap_azimuth(self.azimuth + self.azimuth_speed * t)
    lo, hi = self.elevation_range
    ele = self.elevation + self.elevation_speed * t
    if self.elevation_speed != 0.0 and hi > lo:
      period = 2.0 * (hi - lo)
      x = np.mod(ele - lo, period)
      ele = lo + np.where(x <= hi - lo, x, period - x)
    return azi, np.broadcast_to(ele, t.shape).astype(np.float64)

  def positions(self, t) -> np.ndarray:
    """Positions [len(t), 3] relative to the microphone at times t (s)."""
    azi, ele = self.direction(t)
    return self.distance * spatial.unit_vectors(azi, ele).reshape(-1, 3)


def wrap_azimuth(deg):
  """Degrees -> [-180, 180)."""
  return np.mod(np.asarray(deg, np.float64) + 180.0, 360.0) - 180.0


def frame_span(onset: int, offset: int, fs: float, label_rate: float, n: int):
  """Label frames [first, last) covered by samples [onset, offset)."""
  first = int(round(onset * label_rate / fs))
  last = min(int(round(offset * label_rate / fs)), n)
  return first, last


def events_to_table(
    events: list[Event], num_frames: int, fs: float, label_rate: float = 10.0
) -> events_lib.EventTable:
  """The STARSS23-style labels of `events` (see the module docstring)."""
  cols = {k: [] for k in ('frame', 'cls', 'src', 'azi', 'ele', 'dist')}
  for ev in events:
    first, last = frame_span(ev.onset, ev.offset, fs, label_rate, num_frames)
    if last <= first:
      continue
    frames = np.arange(first, last)
    t = (frames + 0.5) / label_rate - ev.onset / fs
    t = np.clip(t, 0.0, ev.num_samples / fs)
    azi, ele = ev.direction(t)
    cols['frame'].append(frames)
    cols['cls'].append(np.full(len(frames), ev.class_index))
    cols['src'].append(np.full(len(frames), ev.source))
    cols['azi'].append(wrap_azimuth(np.rint(azi)))
    cols['ele'].append(np.rint(ele))
    cols['dist'].append(np.full(len(frames), np.round(ev.distance * 100) / 100))
  if not cols['frame']:
    return events_lib.EventTable.empty(
        label_rate=float(label_rate),
        num_frames=num_frames,
        class_names=events_lib.STARSS_CLASSES,
    )
  cat = {k: np.concatenate(v) for k, v in cols.items()}
  order = np.lexsort((cat['src'], cat['cls'], cat['frame']))
  return events_lib.EventTable.from_columns(
      cat['frame'][order],
      cat['cls'][order],
      cat['azi'][order],
      cat['ele'][order],
      source=cat['src'][order],
      distance=cat['dist'][order],
      label_rate=float(label_rate),
      num_frames=num_frames,
      class_names=events_lib.STARSS_CLASSES,
  )


def assign_source_ids(
    events: list[Event], fs: float, label_rate: float = 10.0
) -> None:
  """Gives each event the smallest id unused by overlapping same-class events.

  Overlap is judged on label frames with one frame of margin, so two events of
  a class with the same id never touch (they stay two events in the labels).
  """
  spans = [
      frame_span(ev.onset, ev.offset, fs, label_rate, 1 << 40) for ev in events
  ]
  order = sorted(range(len(events)), key=lambda i: (events[i].onset, i))
  for pos, i in enumerate(order):
    used = set()
    for j in order[:pos]:
      if events[j].class_index != events[i].class_index:
        continue
      if spans[j][0] <= spans[i][1] and spans[i][0] <= spans[j][1]:
        used.add(events[j].source)
    sid = 0
    while sid in used:
      sid += 1
    events[i].source = sid


def sample_events(
    config,
    rng,
    num_samples: int,
    make_signal: Callable[[int, int], np.ndarray],
    room: room_lib.Room | None = None,
) -> list[Event]:
  """Random events of one scene.

  Args:
    config: a `render.SynthConfig` (classes, polyphony, layer densities,
      same-class probability, motion, elevation/distance/level ranges).
    rng: numpy Generator for the layout.
    num_samples: scene length in samples.
    make_signal: (class_index, event_number) -> dry mono signal.
    room: distances are kept inside it (None: no limit).

  Returns:
    Events with source ids assigned, in placement order.
  """
  fs = config.sample_rate
  min_len = int(sources.MIN_DURATION * fs)
  mean_len = np.mean([np.mean(r) for r in sources.DURATION_RANGES]) * fs
  classes = np.asarray(config.classes, int)
  weights = 1.0 / np.asarray(sources.MEAN_SECONDS)[classes]
  weights /= weights.sum()
  events: list[Event] = []
  layers: list[list[Event]] = []
  for density in config.layer_density[: config.max_polyphony]:
    layer = []
    mean_gap = mean_len * (1.0 - density) / max(density, 1e-3)
    t = int(rng.uniform(0, min(mean_gap, num_samples / 2)))
    while t < num_samples - min_len:
      cls = None
      if layers and rng.uniform() < config.same_class_prob:
        sounding = [
            e.class_index
            for lower in layers
            for e in lower
            if e.onset <= t < e.offset
        ]
        if sounding:
          cls = int(rng.choice(sounding))
      if cls is None:
        cls = int(rng.choice(classes, p=weights))
      signal = make_signal(cls, len(events))
      if t + len(signal) > num_samples:
        signal = _truncate(signal, num_samples - t, fs)
      events.append(_place(config, rng, cls, t, signal, room))
      layer.append(events[-1])
      gap = rng.uniform(0.2 * fs, max(2 * mean_gap - 0.2 * fs, 0.2 * fs))
      t += len(signal) + int(gap)
    layers.append(layer)
  assign_source_ids(events, fs, config.label_rate)
  return events


def _truncate(signal: np.ndarray, n: int, fs: float) -> np.ndarray:
  out = signal[:n].copy()
  k = min(int(0.01 * fs), n)
  out[n - k :] *= np.linspace(1.0, 0.0, k)
  return out


def _place(config, rng, cls: int, onset: int, signal, room) -> Event:
  """Draws the direction, motion, distance and level of one event."""
  lo, hi = config.elevation_range
  moving_prob = config.moving_prob
  if cls in _STATIC_CLASSES:
    moving_prob = 0.0
  elif cls in _WALKING_CLASSES:
    moving_prob = min(2.0 * moving_prob, 1.0)
  azi_speed = ele_speed = 0.0
  if rng.uniform() < moving_prob:
    azi_speed = rng.choice([-1.0, 1.0]) * rng.uniform(
        *config.angular_speed_range
    )
    ele_speed = rng.uniform(-0.25, 0.25) * abs(azi_speed)
  event = Event(
      class_index=cls,
      onset=int(onset),
      signal=signal,
      azimuth=float(rng.integers(-180, 180)),
      elevation=float(rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1)),
      distance=float(np.round(rng.uniform(*config.distance_range), 2)),
      azimuth_speed=float(azi_speed),
      elevation_speed=float(ele_speed),
      elevation_range=(float(lo), float(hi)),
      gain=float(10 ** (rng.uniform(*config.level_range_db) / 20)),
  )
  if room is not None:
    t = np.arange(0.0, len(signal) / config.sample_rate + 0.1, 0.1)
    azi, ele = event.direction(t)
    limit = float(
        np.min(room_lib.max_distance(room, spatial.unit_vectors(azi, ele)))
    )
    if event.distance > limit:
      event.distance = max(np.floor(limit * 100) / 100, 0.3)
  return event

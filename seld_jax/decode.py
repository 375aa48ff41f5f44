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

"""Network outputs -> events -> the prediction CSV of each DCASE year.

Multi-ACCDOA decoding follows `train_seldnet.py:get_multi_accdoa_labels` and
the track unification of `test_epoch` (SPEC §5): a track is active when the
norm of its vector exceeds the threshold (strictly); tracks of the same class
whose directions are closer than `unify_degrees` are merged by averaging.
Vectorised over frames and classes in numpy; the emitted rows are ordered by
frame, then class, then the official emission order.
"""

from __future__ import annotations

import os

import numpy as np

from seld_jax import events as events_lib
from seld_jax import formats

EventTable = events_lib.EventTable

# The prediction-file format each DCASE year's baseline writes.
PREDICTION_FORMATS = {
    'dcase2019': 'polar4',
    'dcase2020': 'polar4',
    'dcase2021': 'dcase2021',
    'dcase2022': 'cartesian6',
    'dcase2023': 'cartesian7',
    'dcase2024': 'cartesian7',
    'dcase2025': 'dcase2025',
}


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Angle between vectors [..., D] as the official code (norms + 1e-10)."""
  na = np.sqrt(np.sum(a**2, axis=-1) + 1e-10)
  nb = np.sqrt(np.sum(b**2, axis=-1) + 1e-10)
  cos = np.sum(a * b, axis=-1) / (na * nb)
  return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


def _as_tracks(output: np.ndarray, k: int, num_classes: int) -> np.ndarray:
  output = np.asarray(output, np.float64)
  if output.ndim == 2:
    return output.reshape(output.shape[0], 3, k, num_classes)
  if output.ndim == 4 and output.shape[1:] == (3, k, num_classes):
    return output
  raise ValueError(
      f'Expected a multi-ACCDOA output [T, 3*{k}*{num_classes}] or '
      f'[T, 3, {k}, {num_classes}], got {output.shape}.'
  )


def unify_tracks(
    vec: np.ndarray,
    active: np.ndarray,
    extra: np.ndarray,
    unify_degrees: float = 15.0,
):
  """The official three-track unification, vectorised.

  Args:
    vec: [T, 3, D, C] direction vectors per track (D = 3, or 2 for stereo).
    active: [T, 3, C] bool, track activity.
    extra: [T, 3, E, C] values averaged like the vectors (distance).
    unify_degrees: merge threshold.

  Returns:
    A list of (frame [N], class [N], rank [N], vec [N, D], extra [N, E],
    first [N]) chunks; `rank` orders the rows of one (frame, class) as the
    official code emits them, `first` is the track whose non-averaged
    attributes (on-screen) the official code keeps for a merged row.
  """
  t, _, _, c = vec.shape
  sim = np.zeros((t, 3, c), bool)  # sim[:, 0]=0~1, sim[:, 1]=1~2, sim[:, 2]=2~0
  for i, (p, q) in enumerate(((0, 1), (1, 2), (2, 0))):
    ang = _angle_deg(
        np.moveaxis(vec[:, p], 1, -1), np.moveaxis(vec[:, q], 1, -1)
    )  # [T, C]
    sim[:, i] = active[:, p] & active[:, q] & (ang < unify_degrees)
  n = sim.sum(axis=1)  # [T, C]
  frames, classes = np.meshgrid(np.arange(t), np.arange(c), indexing='ij')
  emitted = []

  def emit(mask, v, e, first, rank):
    f, k = frames[mask], classes[mask]
    emitted.append((
        f,
        k,
        np.full(len(f), rank),
        v[mask],
        e[mask],
        np.full(len(f), first),
    ))

  vec_l = np.moveaxis(vec, 2, -1)  # [T, 3, C, D]
  ext_l = np.moveaxis(extra, 2, -1)  # [T, 3, C, E]
  none = n == 0
  for i in range(3):
    emit(none & active[:, i], vec_l[:, i], ext_l[:, i], i, i)
  one = n == 1
  for i, (p, q, other) in enumerate(((0, 1, 2), (1, 2, 0), (2, 0, 1))):
    case = one & sim[:, i]
    emit(case & active[:, other], vec_l[:, other], ext_l[:, other], other, 0)
    emit(
        case,
        (vec_l[:, p] + vec_l[:, q]) / 2,
        (ext_l[:, p] + ext_l[:, q]) / 2,
        p,
        1,
    )
  many = n >= 2
  emit(many, vec_l.sum(axis=1) / 3, ext_l.sum(axis=1) / 3, 0, 0)
  return emitted


def _assemble(emitted):
  """Concatenates emitted chunks, ordered by frame, class, emission rank."""
  f = np.concatenate([e[0] for e in emitted])
  c = np.concatenate([e[1] for e in emitted])
  rank = np.concatenate([e[2] for e in emitted])
  v = np.concatenate([e[3] for e in emitted])
  x = np.concatenate([e[4] for e in emitted])
  first = np.concatenate([e[5] for e in emitted])
  order = np.lexsort((rank, c, f))
  return f[order], c[order], v[order], x[order], first[order]


def multi_accdoa_to_events(
    output: np.ndarray,
    num_classes: int = 13,
    *,
    distance: bool = False,
    threshold: float = 0.5,
    unify_degrees: float = 15.0,
    label_rate: float = 10.0,
    class_names: tuple[str, ...] | None = events_lib.STARSS_CLASSES,
) -> EventTable:
  """Decodes one recording's multi-ACCDOA output (DCASE2022-2024).

  Args:
    output: [T, 3*K*C] (official flat layout) or [T, 3, K, C]; K = 3 (x, y,
      z) or 4 with distance (metres; negative values are clipped to 0).
    num_classes: C.
    distance: whether the output carries a distance element.
    threshold: activity threshold on the vector norm (strict `>`).
    unify_degrees: merge threshold of the track unification.
    label_rate: frames per second of the output.
    class_names: attached to the table.

  Returns:
    The events; directions as angles of the (possibly averaged) vectors.
  """
  k = 4 if distance else 3
  y = _as_tracks(output, k, num_classes)
  vec = y[:, :, 0:3]
  active = np.sqrt(np.sum(vec**2, axis=2)) > threshold
  if distance:
    dist = np.maximum(y[:, :, 3:4], 0.0)
  else:
    dist = np.zeros_like(y[:, :, 0:1])
  emitted = unify_tracks(vec, active, dist, unify_degrees)
  f, c, v, d, _ = _assemble(emitted)
  return EventTable.from_cartesian(
      f,
      c,
      v,
      distance=d[:, 0] if distance else None,
      label_rate=label_rate,
      class_names=class_names,
  )


def multi_accdoa_stereo_to_events(
    output: np.ndarray,
    num_classes: int = 13,
    *,
    onscreen: bool = False,
    onscreen_threshold: float | None = None,
    threshold: float = 0.5,
    unify_degrees: float = 15.0,
    label_rate: float = 10.0,
    class_names: tuple[str, ...] | None = events_lib.STARSS_CLASSES,
) -> EventTable:
  """Decodes a DCASE2025 stereo output: tracks of [x, y, dist(, onscreen)].

  As `utils.get_multiaccdoa_labels` / `get_output_dict_format_multi_accdoa`:
  2-D direction vectors, distances clipped at 0, merged tracks keep the
  on-screen value of their first track; azimuth = atan2(y, x).

  Args:
    output: [T, 3*K*C] or [T, 3, K, C], K = 3 (audio) or 4 (audio-visual).
    num_classes: C.
    onscreen: whether the output carries an on-screen probability.
    onscreen_threshold: None: the official `int()` of the probability (see
      Returns); a number: on screen where the probability exceeds it (0.5
      is what the on-screen output is trained for).
    threshold: activity threshold on the 2-D norm.
    unify_degrees: merge threshold.
    label_rate: frames per second.
    class_names: attached to the table.

  Returns:
    The events; by default `onscreen` is the official `int()` of the
    probability, i.e. 1 only for a probability of exactly 1.0 (SPEC §5
    quirk), 0 otherwise, so the official on-screen accuracy is the share of
    matched references that are off screen.
  """
  k = 4 if onscreen else 3
  y = _as_tracks(output, k, num_classes)
  vec = y[:, :, 0:2]
  active = np.sqrt(np.sum(vec**2, axis=2)) > threshold
  dist = np.maximum(y[:, :, 2:3], 0.0)
  on = y[:, :, 3:4] if onscreen else np.zeros_like(dist)
  emitted = unify_tracks(
      vec, active, np.concatenate([dist, on], 2), unify_degrees
  )
  f, c, v, x, first = _assemble(emitted)
  # On-screen is not averaged: the official code keeps the first track's.
  on_first = np.empty(len(f))
  if len(f):
    on_first = y[f, first, 3, c] if onscreen else np.zeros(len(f))
  azimuth = np.rad2deg(np.arctan2(v[:, 1], v[:, 0])) if len(f) else v[:, 0]
  return EventTable.from_columns(
      f,
      c,
      azimuth,
      np.zeros(len(f)),
      distance=x[:, 0],
      onscreen=(
          np.trunc(on_first)
          if onscreen_threshold is None
          else on_first > onscreen_threshold
      ).astype(np.int64),
      label_rate=label_rate,
      class_names=class_names,
  )


def single_accdoa_to_events(
    output: np.ndarray,
    num_classes: int = 13,
    *,
    distance: bool = False,
    threshold: float = 0.5,
    label_rate: float = 10.0,
    class_names: tuple[str, ...] | None = events_lib.STARSS_CLASSES,
) -> EventTable:
  """Decodes a single-ACCDOA output [T, 3C] (or [T, 4C] with distance)."""
  output = np.asarray(output, np.float64)
  k = 4 if distance else 3
  if output.ndim != 2 or output.shape[1] != k * num_classes:
    raise ValueError(
        f'Expected a single-ACCDOA output [T, {k * num_classes}], got '
        f'{output.shape}.'
    )
  y = output.reshape(-1, k, num_classes)
  vec = y[:, 0:3]
  active = np.sqrt(np.sum(vec**2, axis=1)) > threshold  # [T, C]
  f, c = np.nonzero(active)
  xyz = vec[f, :, c]
  dist = np.maximum(y[f, 3, c], 0.0) if distance else None
  return EventTable.from_cartesian(
      f, c, xyz, distance=dist, label_rate=label_rate, class_names=class_names
  )


def sed_doa_to_events(
    sed: np.ndarray,
    doa: np.ndarray,
    *,
    threshold: float = 0.5,
    doa_format: str = 'xyz',
    label_rate: float = 10.0,
    class_names: tuple[str, ...] | None = None,
) -> EventTable:
  """Decodes SED probabilities [T, C] and DOA [T, 3C] ('xyz') or [T, 2C]
  ('azel', degrees): every class with probability > threshold is emitted
  with its direction (the DOA is masked by the predicted activity)."""
  sed = np.asarray(sed, np.float64)
  doa = np.asarray(doa, np.float64)
  t, c = sed.shape
  d = 3 if doa_format == 'xyz' else 2
  if doa_format not in ('xyz', 'azel') or doa.shape != (t, d * c):
    raise ValueError(
        f'Expected DOA [T, {d}*C] = {(t, d * c)} for {doa_format!r}, got '
        f'{doa.shape}.'
    )
  f, k = np.nonzero(sed > threshold)
  doa = doa.reshape(t, d, c)
  if doa_format == 'xyz':
    return EventTable.from_cartesian(
        f, k, doa[f, :, k], label_rate=label_rate, class_names=class_names
    )
  return EventTable.from_columns(
      f,
      k,
      doa[f, 0, k],
      doa[f, 1, k],
      label_rate=label_rate,
      class_names=class_names,
  )


def write_predictions(
    path: str | os.PathLike, table: EventTable, metric: str
) -> None:
  """Writes predictions in the CSV format of a DCASE year's baseline.

  dcase2022: `frame,class,0,x,y,z`; dcase2023: `frame,class,0,x,y,z,0`;
  dcase2024: `frame,class,0,x,y,z,dist_m`; dcase2025: header, then
  `frame,class,0,round(azimuth),round(dist_cm),onscreen`; dcase2020/2019:
  `frame,class,azimuth,elevation`; dcase2021: `frame,class,0,azi,ele`.
  Source ids are written as 0 (as the baselines do).

  Args:
    path: destination CSV (written atomically).
    table: decoded events.
    metric: 'dcase2019' ... 'dcase2025'.
  """
  if metric not in PREDICTION_FORMATS:
    raise ValueError(
        f'Unknown metric year {metric!r}; known: {sorted(PREDICTION_FORMATS)}.'
    )
  table = table.replace(source=np.zeros(len(table), np.int64))
  if metric == 'dcase2023':
    table = table.replace(distance=np.zeros(len(table)))
  elif metric == 'dcase2024' and len(table) and not table.has_distance:
    raise ValueError('dcase2024 predictions need distances.')
  elif metric == 'dcase2025':
    dist = np.where(np.isnan(table.distance), 0.0, table.distance)
    table = table.replace(distance=dist, onscreen=np.maximum(table.onscreen, 0))
  formats.write_metadata(path, table, PREDICTION_FORMATS[metric])

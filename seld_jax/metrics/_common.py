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

"""Shared pieces of the DCASE metric implementations.

* The angular distances exactly as each year's official code computes them
  (the same operations in the same order, so results agree to the last few
  ulps).
* `match_groups`: per-group (frame, class) Hungarian matching between
  reference and predicted rows that reproduces
  `scipy.optimize.linear_sum_assignment` (including its tie-breaking) while
  calling scipy only for groups with at least two rows on each side.
* `Accumulator`: the file-by-file accumulation of additive statistics that
  every year's metric uses, with leave-one-file-out support for the
  jackknife.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
import dataclasses
from typing import Any

import numpy as np
from scipy import optimize

from seld_jax import events as events_lib

# The `eps` of every official metric file: np.finfo(float).eps.
EPS = np.finfo(float).eps


# Angular distances (degrees in, degrees out)
# -----------------------------------------------------------------------------


def spherical_distance(azi1, ele1, azi2, ele2) -> np.ndarray:
  """`distance_between_spherical_coordinates_rad`, inputs in degrees.

  The official code converts with `deg * np.pi / 180.` before calling it.
  """
  az1 = np.asarray(azi1, np.float64) * np.pi / 180.0
  el1 = np.asarray(ele1, np.float64) * np.pi / 180.0
  az2 = np.asarray(azi2, np.float64) * np.pi / 180.0
  el2 = np.asarray(ele2, np.float64) * np.pi / 180.0
  dist = np.sin(el1) * np.sin(el2) + np.cos(el1) * np.cos(el2) * np.cos(
      np.abs(az1 - az2)
  )
  dist = np.clip(dist, -1, 1)
  return np.arccos(dist) * 180 / np.pi


def polar_to_unit_xyz(azimuth, elevation) -> tuple[np.ndarray, ...]:
  """`convert_output_format_polar_to_cartesian` (2020-2024), degrees in."""
  ele_rad = np.asarray(elevation, np.float64) * np.pi / 180.0
  azi_rad = np.asarray(azimuth, np.float64) * np.pi / 180.0
  tmp = np.cos(ele_rad)
  return np.cos(azi_rad) * tmp, np.sin(azi_rad) * tmp, np.sin(ele_rad)


def cartesian_distance(x1, y1, z1, x2, y2, z2) -> np.ndarray:
  """`distance_between_cartesian_coordinates` (+1e-10 in the norms)."""
  n1 = np.sqrt(x1**2 + y1**2 + z1**2 + 1e-10)
  n2 = np.sqrt(x2**2 + y2**2 + z2**2 + 1e-10)
  x1, y1, z1, x2, y2, z2 = x1 / n1, y1 / n1, z1 / n1, x2 / n2, y2 / n2, z2 / n2
  dist = x1 * x2 + y1 * y2 + z1 * z2
  dist = np.clip(dist, -1, 1)
  return np.arccos(dist) * 180 / np.pi


def fold_azimuth(az) -> np.ndarray:
  """DCASE2025 `fold_az_angle`: azimuth folded to the front, [-90, 90]."""
  az = (np.asarray(az, np.float64) + 180) % 360 - 180
  out = az.copy()
  back_left = (az >= -180) & (az < -90)
  back_right = (az > 90) & (az <= 180)
  out[back_left] = -180 - az[back_left]
  out[back_right] = 180 - az[back_right]
  return out


# Table preparation
# -----------------------------------------------------------------------------


def prepare(
    table: events_lib.EventTable, num_classes: int, frame_limit: int
) -> events_lib.EventTable:
  """Rows with 0 <= frame < frame_limit and a known class, grouped.

  Rows are ordered by (frame, class) with file order kept within a group,
  which is the order the official dictionaries hold them in.
  """
  keep = (
      (table.frame >= 0)
      & (table.frame < frame_limit)
      & (table.class_index >= 0)
      & (table.class_index < num_classes)
  )
  t = table.select(keep)
  order = np.lexsort((t.class_index, t.frame))
  return t.select(order)


def group_runs(keys: np.ndarray):
  """(unique keys, start index, count) of the runs of a sorted key array."""
  if not len(keys):
    empty = np.zeros((0,), np.int64)
    return empty, empty, empty
  boundary = np.flatnonzero(np.diff(keys)) + 1
  starts = np.concatenate([[0], boundary]).astype(np.int64)
  counts = np.diff(np.concatenate([starts, [len(keys)]])).astype(np.int64)
  return keys[starts], starts, counts


# Matching
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Matches:
  """Matched (reference row, prediction row) pairs of `match_groups`.

  Per matched pair:
    group: index into the common-group arrays below.
    key: the group key.
    ref: reference row index (into the sorted reference table).
    pred: prediction row index.
    ref_pos: position of the reference row within its group (the official
      code's `gt_ids = np.arange(...)` track index).
    cost: the cost of the pair.
  Per group present on both sides:
    common_keys, n_ref, n_pred: its key and sizes.
    group_cost_sum: the summed cost of its matched pairs.
  """

  group: np.ndarray
  key: np.ndarray
  ref: np.ndarray
  pred: np.ndarray
  ref_pos: np.ndarray
  cost: np.ndarray
  common_keys: np.ndarray
  n_ref: np.ndarray
  n_pred: np.ndarray
  group_cost_sum: np.ndarray


def _empty_matches() -> Matches:
  z = np.zeros((0,), np.int64)
  return Matches(
      group=z,
      key=z,
      ref=z,
      pred=z,
      ref_pos=z,
      cost=np.zeros((0,)),
      common_keys=z,
      n_ref=z,
      n_pred=z,
      group_cost_sum=np.zeros((0,)),
  )


def match_groups(
    ref_keys: np.ndarray,
    pred_keys: np.ndarray,
    cost_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> Matches:
  """Hungarian matching of reference and predicted rows with equal keys.

  Args:
    ref_keys: sorted int64 group keys of the reference rows.
    pred_keys: sorted int64 group keys of the predicted rows.
    cost_fn: vectorised cost of (ref row indices, pred row indices).

  Returns:
    The matched pairs, as `scipy.optimize.linear_sum_assignment` on each
    group's cost matrix (rows = reference, columns = predictions) returns
    them, ordered by group then reference position.
  """
  uk_r, st_r, n_r = group_runs(ref_keys)
  uk_p, st_p, n_p = group_runs(pred_keys)
  common, ir, ip = np.intersect1d(
      uk_r, uk_p, assume_unique=True, return_indices=True
  )
  if not len(common):
    return _empty_matches()
  st_r, n_r, st_p, n_p = st_r[ir], n_r[ir], st_p[ip], n_p[ip]

  # Every (ref, pred) pair of every common group, row-major within a group.
  sizes = n_r * n_p
  gid = np.repeat(np.arange(len(common)), sizes)
  offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
  i = offsets // n_p[gid]
  j = offsets % n_p[gid]
  ref_rows = st_r[gid] + i
  pred_rows = st_p[gid] + j
  cost = np.asarray(cost_fn(ref_rows, pred_rows), np.float64)

  # Groups with one row on a side: scipy picks the first minimum (verified
  # against scipy's rectangular LSAP; see metrics_test.py).
  single = (n_r == 1) | (n_p == 1)
  sel_single = single[gid]
  pair_idx = np.flatnonzero(sel_single)
  if len(pair_idx):
    order = np.lexsort((offsets[pair_idx], cost[pair_idx], gid[pair_idx]))
    sorted_idx = pair_idx[order]
    first = np.concatenate(
        [[True], gid[sorted_idx][1:] != gid[sorted_idx][:-1]]
    )
    chosen_single = sorted_idx[first]
  else:
    chosen_single = np.zeros((0,), np.int64)

  # Larger groups.
  chosen_multi = []
  group_starts = np.cumsum(sizes) - sizes
  for g in np.flatnonzero(~single):
    nr, npr = int(n_r[g]), int(n_p[g])
    base = int(group_starts[g])
    mat = cost[base : base + nr * npr].reshape(nr, npr)
    rows, cols = optimize.linear_sum_assignment(mat)
    chosen_multi.append(base + rows * npr + cols)
  chosen = np.concatenate([chosen_single] + chosen_multi).astype(np.int64)
  chosen.sort(kind='stable')  # By group, then reference position.

  group_cost_sum = np.bincount(
      gid[chosen], weights=cost[chosen], minlength=len(common)
  )
  return Matches(
      group=gid[chosen],
      key=common[gid[chosen]],
      ref=ref_rows[chosen],
      pred=pred_rows[chosen],
      ref_pos=i[chosen],
      cost=cost[chosen],
      common_keys=common,
      n_ref=n_r,
      n_pred=n_p,
      group_cost_sum=group_cost_sum,
  )


# Accumulation
# -----------------------------------------------------------------------------


class Accumulator(abc.ABC):
  """File-by-file accumulation of additive statistics.

  Subclasses implement `_file_stats(ref, pred) -> dict[str, np.ndarray]` and
  `_scores(stats) -> dict`. Per-file statistics are kept so that
  `leave_one_out()` can recompute the scores without each file (jackknife).
  """

  metric: str = ''
  label_rate: float | None = 10.0  # Of the reference tables.
  keys: tuple[str, ...] = ()
  classwise_keys: tuple[str, ...] = ()

  def __init__(self):
    self._files: list[dict[str, np.ndarray]] = []
    self._names: list[str] = []

  def update(
      self,
      ref: events_lib.EventTable,
      pred: events_lib.EventTable,
      name: str | None = None,
  ) -> None:
    """Scores one recording (reference table, prediction table)."""
    if (
        self.label_rate is not None
        and len(ref)
        and ref.label_rate != self.label_rate
    ):
      raise ValueError(
          f'{self.metric} scores {self.label_rate:g} label frames per second;'
          f' the reference {name or ""} has label_rate {ref.label_rate:g}.'
      )
    self._files.append(self._file_stats(ref, pred))
    self._names.append(name if name is not None else str(len(self._names)))

  def reset(self) -> None:
    self._files = []
    self._names = []

  @property
  def num_files(self) -> int:
    return len(self._files)

  @property
  def file_names(self) -> list[str]:
    return list(self._names)

  def stats(self) -> dict[str, np.ndarray]:
    """The statistics summed over all files (in file order)."""
    if not self._files:
      return self._zero_stats()
    total = {k: np.array(v, copy=True) for k, v in self._files[0].items()}
    for s in self._files[1:]:  # In file order, as the official loops add them.
      for k in total:
        total[k] = total[k] + s[k]
    return total

  def leave_one_out_stats(self) -> list[dict[str, np.ndarray]]:
    """Per file i, the statistics summed over all other files.

    O(N) via prefix and suffix sums (no subtraction, so integer counts stay
    exact and float totals keep full precision).
    """
    n = len(self._files)
    if n == 0:
      return []
    zero = self._zero_stats()
    out = [{} for _ in range(n)]
    for k in self._files[0]:
      stacked = np.stack([np.asarray(s[k]) for s in self._files])
      z = np.zeros_like(stacked[:1]) + np.asarray(zero[k])
      prefix = np.concatenate([z, np.cumsum(stacked, axis=0)[:-1]])
      suffix = np.concatenate([np.cumsum(stacked[::-1], axis=0)[::-1][1:], z])
      loo = prefix + suffix
      for i in range(n):
        out[i][k] = loo[i]
    return out

  def counts(self) -> dict[str, Any]:
    """The summed raw statistics (TP, FP, ...) as Python numbers / lists."""
    return {k: np.asarray(v).tolist() for k, v in self.stats().items()}

  def compute(self) -> dict[str, Any]:
    """The scores of all files so far (see the year module's docstring)."""
    return self._scores(self.stats())

  def leave_one_out(self) -> list[dict[str, Any]]:
    """The scores without file i, for every file i (jackknife)."""
    return [self._scores(st) for st in self.leave_one_out_stats()]

  # Subclass interface.
  @abc.abstractmethod
  def _file_stats(self, ref, pred) -> dict[str, np.ndarray]:
    """The raw statistics of one file."""

  @abc.abstractmethod
  def _scores(self, stats) -> dict[str, Any]:
    """The scores of summed statistics."""

  @abc.abstractmethod
  def _zero_stats(self) -> dict[str, np.ndarray]:
    """Statistics of no file (the sum identity)."""


def last_ref_frame(ref: events_lib.EventTable) -> int:
  """`max(list(gt_dict.keys()))` of the official loaders; 0 when empty.

  The 2022-2024 official code fails on an empty reference file; 2025 uses 0
  (nothing scored). We use 0 everywhere.
  """
  return max(ref.last_frame(), 0)


def to_float(x) -> float:
  return float(np.asarray(x, np.float64))

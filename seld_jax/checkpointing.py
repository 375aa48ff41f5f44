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

"""One orbax CheckpointManager: model, optimizer, RNG and data iterator.

Keeps the latest N checkpoints *and* the best by an evaluation metric: orbax's
`best_fn` alone would delete the latest step (and break resumption), so the
preservation policy is `AnyPreservationPolicy([LatestN, BestN])`, while
`best_fn` is still set for `best_step()`.
"""

from __future__ import annotations

import math
import os
from typing import Any

import grain
import orbax.checkpoint as ocp

_STATE = 'state'
_DATA = 'data'


def _metric_getter(name: str, mode: str):
  """A total order on metrics dicts; NaN/missing rank as the worst."""
  worst = math.inf if mode == 'min' else -math.inf

  def get(metrics) -> float:
    if not metrics or name not in metrics:
      return worst
    value = float(metrics[name])
    return worst if math.isnan(value) else value

  return get


class Checkpointer:
  """Saves and restores training state plus the grain iterator, atomically."""

  def __init__(
      self,
      directory: str | os.PathLike,
      *,
      keep_latest: int = 2,
      keep_best: int = 1,
      best_metric: str | None = None,
      best_mode: str = 'min',
      asynchronous: bool = True,
  ):
    if best_mode not in ('min', 'max'):
      raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}.")
    self.directory = os.path.abspath(os.fspath(directory))
    policies = [ocp.checkpoint_managers.LatestN(n=keep_latest)]
    best_fn = None
    if best_metric is not None:
      best_fn = _metric_getter(best_metric, best_mode)
      policies.append(
          ocp.checkpoint_managers.BestN(
              get_metric_fn=best_fn,
              reverse=best_mode == 'min',
              n=keep_best,
              keep_checkpoints_without_metrics=False,
          )
      )
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(
            policies
        ),
        best_fn=best_fn,
        best_mode=best_mode,
        enable_async_checkpointing=asynchronous,
        create=True,
    )
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def best_step(self) -> int | None:
    return self._manager.best_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def save(
      self,
      step: int,
      state: Any,
      data_iterator: Any = None,
      metrics: dict[str, float] | None = None,
      force: bool = False,
  ) -> bool:
    """Saves `state` (a pytree) and the iterator state at `step`."""
    items = {_STATE: ocp.args.StandardSave(state)}
    if data_iterator is not None:
      items[_DATA] = grain.checkpoint.CheckpointSave(data_iterator)
    return self._manager.save(
        step,
        args=ocp.args.Composite(**items),
        metrics=None if metrics is None else dict(metrics),
        force=force,
    )

  def restore(
      self, step: int, abstract_state: Any, data_iterator: Any = None
  ) -> Any:
    """Restores the state (shaped and sharded like `abstract_state`).

    The iterator, when given, is restored in place to the saved position.

    Args:
      step: the step to restore.
      abstract_state: a pytree of `jax.ShapeDtypeStruct` (with shardings) or
        arrays giving the structure.
      data_iterator: a grain iterator to restore, or None.

    Returns:
      The restored state.
    """
    items = {_STATE: ocp.args.StandardRestore(abstract_state)}
    has_data = os.path.isdir(os.path.join(self.directory, str(step), _DATA))
    if data_iterator is not None and has_data:
      items[_DATA] = grain.checkpoint.CheckpointRestore(data_iterator)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    return restored[_STATE]

  def metrics(self, step: int) -> dict[str, float] | None:
    """The metrics saved with `step`, or None."""
    return self._manager.metrics(step)

  def wait_until_finished(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.wait_until_finished()
    self._manager.close()

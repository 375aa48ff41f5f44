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

"""Maps torch `state_dict` entries onto the variables of an nnx model.

An importer (e.g. `torch_resnet`, `torch_i3d`) describes a model as
`Targets`: torch key -> (nnx variable, torch-to-flax layout transform).
`apply_targets` then checks every tensor before writing any (one error lists
the missing, mis-shaped and, with `strict`, unexpected tensors and names the
file), so a failed load leaves the model unchanged. Loading into an abstract
model (`nnx.eval_shape`) fills the variables it targets; `check_concrete`
proves afterwards that none was left without a value.
"""

from __future__ import annotations

from collections.abc import Callable
import os

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from seld_jax.convert import torch_checkpoint

# torch key -> (model variable, torch-to-flax layout transform).
Targets = dict[str, tuple[nnx.Variable, Callable[[np.ndarray], np.ndarray]]]


def identity(w: np.ndarray) -> np.ndarray:
  """The layout transform of tensors stored alike in torch and flax."""
  return w


def add_batch_norm(targets: Targets, prefix: str, bn: nnx.BatchNorm):
  """The four tensors of a torch BatchNorm at `prefix` -> `bn`."""
  targets[f'{prefix}.weight'] = (bn.scale, identity)
  targets[f'{prefix}.bias'] = (bn.bias, identity)
  targets[f'{prefix}.running_mean'] = (bn.mean, identity)
  targets[f'{prefix}.running_var'] = (bn.var, identity)


def read_state_dict(
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
) -> tuple[dict[str, np.ndarray], str]:
  """(name -> array without a 'module.' prefix, source name for errors).

  Args:
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch by `torch_checkpoint.load_state_dict`).
  """
  if isinstance(state_dict, dict):
    source = 'state_dict'
  else:
    source = os.fspath(state_dict)
    state_dict = torch_checkpoint.load_state_dict(state_dict)
  sd = {k: np.asarray(v) for k, v in state_dict.items()}
  if sd and all(k.startswith('module.') for k in sd):
    sd = {k[len('module.') :]: v for k, v in sd.items()}
  return sd, source


def apply_targets(
    targets: Targets,
    state_dict: dict[str, np.ndarray],
    source: str,
    skipped_prefixes: tuple[str, ...],
    strict: bool,
) -> list[str]:
  """Checks every tensor against `targets`, then writes them (all or none).

  Args:
    targets: torch key -> (variable, layout transform).
    state_dict: torch key -> array.
    source: the file (or 'state_dict') named in errors.
    skipped_prefixes: keys left out by design (e.g. a classifier); never
      unexpected.
    strict: also fail on keys that are neither targets, skipped, nor
      `num_batches_tracked`.

  Returns:
    The keys that were not loaded, other than `num_batches_tracked`.

  Raises:
    ValueError: naming `source` and every missing, mis-shaped or (strict)
      unexpected tensor; nothing is written then.
  """
  missing = [k for k in targets if k not in state_dict]
  mismatched, values = [], {}
  for key, (variable, transform) in targets.items():
    if key not in state_dict:
      continue
    value = transform(state_dict[key])
    current = variable.get_value()
    if tuple(value.shape) != tuple(current.shape):
      mismatched.append(
          f'{key} {tuple(state_dict[key].shape)} (model '
          f'{tuple(current.shape)} after the layout change)'
      )
    values[key] = (variable, value, current.dtype)
  unused = sorted(k for k in state_dict if k not in targets)
  unexpected = [
      k
      for k in unused
      if not k.endswith('.num_batches_tracked')
      and not k.startswith(skipped_prefixes)
  ]
  problems = []
  if missing:
    problems.append(f'missing tensors {missing}')
  if mismatched:
    problems.append(f'tensors of the wrong shape {mismatched}')
  if strict and unexpected:
    problems.append(f'tensors the model does not have {unexpected}')
  if problems:
    raise ValueError(f'{source}: ' + '; '.join(problems) + '.')
  for variable, value, dtype in values.values():
    variable.set_value(jnp.asarray(value, dtype=dtype))
  return [k for k in unused if not k.endswith('.num_batches_tracked')]


def check_concrete(model: nnx.Module, source: str):
  """Fails when a variable of an abstract model got no checkpoint value."""
  empty = [
      '.'.join(map(str, path))
      for path, variable in nnx.to_flat_state(nnx.state(model))
      if not isinstance(variable.get_value(), jax.Array)
  ]
  if empty:
    raise ValueError(f'{source}: no checkpoint value for {empty}.')


def load_model(
    make: Callable[[], nnx.Module],
    load_into: Callable[..., list[str]],
    path: str | os.PathLike,
    *,
    strict: bool = True,
) -> nnx.Module:
  """`make()` built abstractly, filled by `load_into` from `path`, eval mode.

  No random initialisation runs; `check_concrete` verifies that the file
  filled every variable.
  """
  model = nnx.eval_shape(make)
  load_into(model, path, strict=strict)
  check_concrete(model, os.fspath(path))
  model.eval()
  return model

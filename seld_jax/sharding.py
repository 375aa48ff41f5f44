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

"""The device mesh and the shardings of state and batches.

SELD models are small (about 1 M parameters), so parameters and optimizer
state are replicated and batches are split along a `data` axis over every
device of every host. A `model` axis is available for larger models; the
batch is never split along it.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

P = jax.sharding.PartitionSpec
NamedSharding = jax.sharding.NamedSharding

DATA_AXIS = 'data'
MODEL_AXIS = 'model'


def make_mesh(model_parallelism: int = 1, devices=None) -> jax.sharding.Mesh:
  """A (data, model) mesh over `devices` (default: all, of all processes)."""
  n = jax.device_count() if devices is None else len(devices)
  if model_parallelism < 1 or n % model_parallelism:
    raise ValueError(
        f'model_parallelism={model_parallelism} must divide the {n} devices.'
    )
  return jax.make_mesh(
      (n // model_parallelism, model_parallelism),
      (DATA_AXIS, MODEL_AXIS),
      axis_types=(jax.sharding.AxisType.Auto,) * 2,
      devices=devices,
  )


def data_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Leading (batch) dimension split over the data axis."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_global_batch(global_batch_size: int, mesh: jax.sharding.Mesh):
  """The global batch must split evenly over data shards and processes."""
  shards = mesh.shape[DATA_AXIS]
  if global_batch_size % shards:
    raise ValueError(
        f'Global batch size {global_batch_size} is not divisible by the '
        f'{shards} data-parallel devices.'
    )
  if global_batch_size % jax.process_count():
    raise ValueError(
        f'Global batch size {global_batch_size} is not divisible by the '
        f'{jax.process_count()} processes.'
    )


def local_batch_size(global_batch_size: int) -> int:
  return global_batch_size // jax.process_count()


def to_global(
    batch: dict[str, np.ndarray], mesh: jax.sharding.Mesh
) -> dict[str, jax.Array]:
  """Process-local numpy batch -> global `jax.Array`s split along `data`."""
  sharding = data_sharding(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), batch
  )


def replicate_tree(tree: Any, mesh: jax.sharding.Mesh) -> Any:
  """Places every leaf of `tree` replicated on the mesh."""
  return jax.device_put(tree, replicated(mesh))


def fetch(tree: Any) -> Any:
  """Global arrays -> host numpy (all-gathered across processes)."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, tree)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  return jax.tree.map(
      np.asarray, multihost_utils.process_allgather(tree, tiled=True)
  )

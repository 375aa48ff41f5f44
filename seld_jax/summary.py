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

r"""Prints a model's input/output shapes and its parameter table.

  python -m seld_jax.summary --config configs/default.py

The last line is `params: N` (trainable parameters; BatchNorm statistics are
listed separately and not counted, as in the DCASE references).
"""

from __future__ import annotations

import collections
import sys

from absl import app
from absl import flags
from flax import nnx
import jax
import jax.numpy as jnp
from ml_collections import config_flags

from seld_jax import train_step

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Model configuration file.', lock_config=True
)


def summarize(config) -> str:
  """The summary text of the model `config` describes."""
  spec = train_step.feature_spec(config, None)
  num_samples = int(round(config.sample_rate * config.window_seconds))
  in_shape = spec.shape(num_samples)
  model = train_step.create_model(config, in_shape)
  model.eval()
  x = jax.ShapeDtypeStruct((1,) + tuple(in_shape), jnp.float32)
  out = jax.eval_shape(lambda a: train_step.flatten_output(model(a)), x)
  params = nnx.state(model, nnx.Param)
  stats = nnx.state(model, nnx.BatchStat)
  per_module = collections.OrderedDict()
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    keys = [str(k.key) for k in path if hasattr(k, 'key')]
    while keys and keys[-1].isdigit():  # parameters held in lists
      keys.pop()
    module = '.'.join(keys[:-1]) or '(root)'
    per_module[module] = per_module.get(module, 0) + leaf.size
  total = sum(per_module.values())
  num_stats = sum(x.size for x in jax.tree.leaves(stats))
  width = max([len(m) for m in per_module] + [6])
  lines = [
      f'model:  {config.model} ({type(model).__name__})',
      (
          f'input:  audio [B, {num_samples} samples] -> {config.features} '
          f'features [B, {", ".join(map(str, in_shape))}]'
      ),
      f'output: {config.target} [B, {", ".join(map(str, out.shape[1:]))}]',
      '',
      f'{"module":<{width}}  {"params":>12}',
      f'{"-" * width}  {"-" * 12}',
  ]
  lines += [f'{m:<{width}}  {n:>12,}' for m, n in per_module.items()]
  lines += [
      f'{"-" * width}  {"-" * 12}',
      f'batch-norm statistics (not trainable): {num_stats:,}',
      f'params: {total}',
  ]
  return '\n'.join(lines)


def main(argv):
  del argv
  print(summarize(_CONFIG.value))
  sys.stdout.flush()


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)

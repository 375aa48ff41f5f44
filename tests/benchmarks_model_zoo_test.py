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

"""The model-zoo benchmark's recipes: budgets, overrides and stage chaining."""

import pytest

from benchmarks import model_zoo

BUDGET = dict(steps=300, batch_size=4, window_seconds=2.0)


@pytest.mark.parametrize('name', sorted(model_zoo.RECIPES))
def test_every_recipe_builds_its_stage_configs(name):
  previous = None
  for module, arg, overrides, _ in model_zoo.RECIPES[name]:
    config = model_zoo.stage_config(
        module, arg, overrides, previous, data_dir='/data', **BUDGET
    )
    assert config.num_train_steps == 300
    assert config.batch_size == 4
    assert config.window_seconds == config.eval_hop_seconds == 2.0
    assert config.eval_every_steps == config.checkpoint_every_steps == 300
    assert config.warmup_steps <= 30
    assert config.data_dir == '/data'
    for key, value in overrides.items():
      node = config
      for part in key.split('.'):
        node = node[part]
      assert tuple(node) == value if isinstance(value, tuple) else node == value
    if previous is not None and config.get('init_from'):
      assert config.init_from == previous
    previous = f'/runs/{name}_{arg}'


def test_later_stages_start_from_the_previous_run():
  stage1, stage2 = model_zoo.RECIPES['two_stage']
  first = model_zoo.stage_config(*stage1[:3], None, **BUDGET)
  second = model_zoo.stage_config(*stage2[:3], '/runs/s1', **BUDGET)
  assert not first.get('init_from')
  assert second.init_from == '/runs/s1'
  with pytest.raises(ValueError, match='none ran before'):
    model_zoo.stage_config(*stage2[:3], None, **BUDGET)


def test_unknown_override_is_an_error():
  with pytest.raises(KeyError, match='model_kwargs.no_such_width'):
    model_zoo.stage_config(
        'configs.seldnet_synthetic',
        None,
        {'model_kwargs.no_such_width': 3},
        None,
        **BUDGET,
    )


def test_cpu_variants_are_smaller_than_the_paper_sizes():
  def params(name):
    module, arg, overrides, _ = model_zoo.RECIPES[name][-1]
    return model_zoo.count_params(
        model_zoo.stage_config(module, arg, overrides, '/runs/x', **BUDGET)
    )

  assert params('seldnet') == 275_828
  assert params('conformer_cpu') < params('conformer') / 4

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

"""Two-stage SELD (Cao et al. 2019) on the synthetic STARSS23-format data.

  python -m seld_jax.main --config configs/two_stage_synthetic.py:stage1 \
      --workdir runs/two_stage_synthetic_stage1
  python -m seld_jax.main --config configs/two_stage_synthetic.py:stage2 \
      --workdir runs/two_stage_synthetic_stage2 \
      --config.init_from=runs/two_stage_synthetic_stage1

Stage 1 trains the SED branch (BCE only; the DOA branch frozen). Stage 2
starts from stage 1: `doa_branch.conv` from `sed_branch.conv` (`init_map`),
the SED branch as trained and frozen (its BatchNorm in inference mode), and
trains the DOA branch on the DOA loss masked by the reference activity.
Input: log-mel + GCC-PHAT of the tetrahedral microphones (`mic_logmel_gcc`).
"""

import ml_collections

from configs import default

STAGES = ('stage1', 'stage2')


def base_config() -> ml_collections.ConfigDict:
  """What both stages share."""
  config = default.five_second_config()
  config.dataset = 'synthetic_seld/mic'
  config.features = 'mic_logmel_gcc'
  config.model = 'two_stage'
  config.target = 'sed_doa'
  config.model_kwargs.channels = (64, 128, 256, 512)
  config.model_kwargs.t_pool = (5, 1, 1, 1)  # 50-fps features, 10-fps labels
  config.model_kwargs.f_pool = (2, 2, 2, 1)
  config.model_kwargs.upsample = 1
  config.model_kwargs.rnn_size = 256
  config.model_kwargs.frozen = ()
  config.metric = 'dcase2023'
  return config


def apply_stage(config: ml_collections.ConfigDict, stage: str):
  """Loss weights, frozen branch and initialisation of `stage`."""
  if stage not in STAGES:
    raise ValueError(f'stage must be one of {STAGES}, got {stage!r}.')
  if stage == 'stage1':
    config.loss_options.sed_weight = 1.0
    config.loss_options.doa_weight = 0.0
    config.freeze = ('doa_branch',)
    config.model_kwargs.frozen = ('doa_branch',)
    config.best_metric = 'F'
    config.best_mode = 'max'
  else:
    config.loss_options.sed_weight = 0.0
    config.loss_options.doa_weight = 1.0
    config.freeze = ('sed_branch',)
    config.model_kwargs.frozen = ('sed_branch',)
    config.init_from = f'runs/{config.get("run_name", "two_stage")}_stage1'
    config.init_map = (('doa_branch.conv', 'sed_branch.conv'),)
  return config


def get_config(arg: str = 'stage1'):
  config = base_config()
  config.run_name = 'two_stage_synthetic'
  return apply_stage(config, arg)

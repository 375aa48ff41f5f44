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

"""General SED/DOA/alignment architecture (Nguyen et al. 2020), synthetic data.

  for s in sed doa align; do
    python -m seld_jax.main --config configs/general_synthetic.py:$s \
        --workdir runs/general_synthetic_$s [--config.init_from=PREVIOUS]
  done
(`finetune` instead of `align` trains the alignment network and both
modules together.) The stage defaults of `init_from` are the previous
stage's run directory under runs/.

Stages:
  sed       SED module only (BCE); a PANN checkpoint can initialise its
            backbone: --config.model_kwargs.sed_pretrained=Cnn14_mAP=0.431.pth
            (then keep the CNN14 widths and sed_channels of one channel).
  doa       DOA module only (activity-masked DOA MSE), SED module frozen.
  align     the alignment network on multi-ACCDOA/ADPIT; both modules
            frozen.
  finetune  as align, everything trained.
"""

import ml_collections

from configs import default

STAGES = ('sed', 'doa', 'align', 'finetune')
_PREVIOUS = {'doa': 'sed', 'align': 'doa', 'finetune': 'doa'}


def base_config() -> ml_collections.ConfigDict:
  config = default.five_second_config()
  config.dataset = 'synthetic_seld/foa'
  config.features = 'foa_logmel_iv'  # 4 log-mel + 3 intensity channels
  config.model = 'general'
  config.model_kwargs.sed_channels = (0, 1)  # omni log-mel, as AudioSet
  config.model_kwargs.doa_channels = (0, 7)  # log-mel + intensity vectors
  config.model_kwargs.sed_widths = (64, 128, 256, 512, 1024, 2048)  # CNN14
  config.model_kwargs.doa_widths = (64, 128, 256, 512)
  config.model_kwargs.time_pool = 5  # 50-fps features, 10-fps labels
  config.model_kwargs.rnn_size = 128
  config.model_kwargs.align_size = 128
  config.model_kwargs.frozen = ()
  config.metric = 'dcase2023'
  return config


def apply_stage(config: ml_collections.ConfigDict, stage: str, multi: str):
  """Target, loss weights, frozen modules and initialisation of `stage`."""
  if stage not in STAGES:
    raise ValueError(f'stage must be one of {STAGES}, got {stage!r}.')
  if stage in ('sed', 'doa'):
    config.target = 'sed_doa'
    sed = stage == 'sed'
    config.loss_options.sed_weight = 1.0 if sed else 0.0
    config.loss_options.doa_weight = 0.0 if sed else 1.0
    other = 'doa_module' if sed else 'sed_module'
    config.freeze = (other,)
    config.model_kwargs.frozen = (other,)
  else:
    config.target = multi
    if stage == 'align':
      config.freeze = ('sed_module', 'doa_module')
      config.model_kwargs.frozen = ('sed_module', 'doa_module')
  if stage in _PREVIOUS:
    config.init_from = f'runs/{config.run_name}_{_PREVIOUS[stage]}'
  return config


def get_config(arg: str = 'sed'):
  config = base_config()
  config.run_name = 'general_synthetic'
  return apply_stage(config, arg, 'multi_accdoa')

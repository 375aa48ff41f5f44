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

"""ResNet-Conformer with multi-ACCDOA on the synthetic STARSS23-format data.

  python -m seld_jax.main --config configs/conformer_synthetic.py \
      --workdir runs/conformer_synthetic
"""

from configs import default


def get_config():
  """ResNet-Conformer, FOA log-mel + IV, multi-ACCDOA / ADPIT."""
  config = default.five_second_config()
  config.dataset = 'synthetic_seld/foa'
  config.features = 'foa_logmel_iv'
  config.model = 'resnet_conformer'
  config.target = 'multi_accdoa'
  config.model_kwargs.stem_channels = 64
  config.model_kwargs.stage_channels = (64, 128, 256, 256)
  config.model_kwargs.blocks_per_stage = 2
  config.model_kwargs.t_pool = (1, 5, 1, 1)  # 50-fps features -> 10 fps
  config.model_kwargs.f_pool = (2, 2, 2, 2)
  config.model_kwargs.d_model = 256
  config.model_kwargs.num_layers = 4
  config.model_kwargs.num_heads = 8
  config.model_kwargs.kernel_size = 31
  config.model_kwargs.dropout = 0.1
  config.model_kwargs.positions = 'sinusoidal'
  config.optimizer = 'adamw'
  config.weight_decay = 1e-2
  config.schedule = 'cosine'
  config.warmup_steps = 500
  config.grad_clip_norm = 1.0
  config.metric = 'dcase2023'
  return config

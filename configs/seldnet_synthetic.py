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

"""SELDnet (Adavanne et al. 2018) on the synthetic STARSS23-format data.

  python -m seld_jax.main --config configs/seldnet_synthetic.py \
      --workdir runs/seldnet_synthetic

24 kHz FOA; magnitude + phase of a 1024-point STFT with a 480-sample hop
(50 frames/s, 512 bins after dropping DC); the first block pools time by 5 to
the 10-fps labels.
"""

from configs import default


def get_config():
  """SELDnet on synthetic_seld/foa."""
  config = default.five_second_config()
  config.dataset = 'synthetic_seld/foa'
  config.features = 'magnitude_phase'
  config.feature_params.n_fft = 1024
  config.feature_params.hop_length = 480
  config.feature_params.win_length = 960

  config.model = 'seldnet'
  config.target = 'sed_doa'
  config.model_kwargs.conv_channels = 64
  config.model_kwargs.f_pool = (8, 8, 2)
  config.model_kwargs.t_pool = (5, 1, 1)
  config.model_kwargs.rnn_size = 64
  config.model_kwargs.rnn_layers = 2
  config.model_kwargs.fnn_size = 128
  config.model_kwargs.dropout = 0.0
  config.loss_options.sed_weight = 1.0
  config.loss_options.doa_weight = 50.0
  config.metric = 'dcase2023'
  return config

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

"""Two-stage SELD (Cao et al. 2019) on TAU Spatial Sound Events 2019 (MIC).

Data (manual download, see data_builders/tau_spatial_2019):
  tfds build data_builders/tau_spatial_2019 --manual_dir DIR \
      --file_format array_record --config mic
Train (cross-validation fold 1: test split1, validation split2):
  python -m seld_jax.main --config configs/two_stage_dcase2019.py:stage1 \
      --workdir runs/two_stage_dcase2019_stage1
  python -m seld_jax.main --config configs/two_stage_dcase2019.py:stage2 \
      --workdir runs/two_stage_dcase2019_stage2 \
      --config.init_from=runs/two_stage_dcase2019_stage1

48 kHz, 20-ms hop: features at 50 frames/s, as the 50-fps DCASE2019 labels.
As in the paper the network pools time by 8 (2 x 2 x 2) and repeats its
outputs 8 times back to the label rate, so windows hold a multiple of 8
frames (4 s = 200 frames; 60-s recordings are 15 windows).
"""

from configs import two_stage_synthetic


def get_config(arg: str = 'stage1'):
  """Stage `arg` ('stage1' or 'stage2') of the two-stage recipe."""
  config = two_stage_synthetic.base_config()
  config.run_name = 'two_stage_dcase2019'
  config.dataset = 'tau_spatial_2019/mic'
  config.train_split = 'split3+split4'
  config.eval_split = 'split2'
  config.test_split = 'split1'
  config.sample_rate = 48000
  config.num_classes = 11
  config.label_rate = 50.0
  config.window_seconds = 4.0
  config.eval_hop_seconds = 4.0
  config.feature_params.n_fft = 2048
  config.feature_params.hop_length = 960
  config.feature_params.win_length = 1920
  config.feature_params.num_mels = 64
  config.model_kwargs.t_pool = (2, 2, 2, 1)
  config.model_kwargs.f_pool = (2, 2, 2, 1)
  config.model_kwargs.upsample = 8
  config.batch_size = 32
  config.num_train_steps = 30000
  config.metric = 'dcase2019'
  return two_stage_synthetic.apply_stage(config, arg)

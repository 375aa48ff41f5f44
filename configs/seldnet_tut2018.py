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

"""SELDnet (Adavanne et al. 2018) on TUT Sound Events 2018 (ANSYN, ov1 split1).

Data (manual download, see data_builders/tut_sound_events_2018):
  tfds build data_builders/tut_sound_events_2018 --manual_dir DIR \
      --file_format array_record --config ansyn
Train:
  python -m seld_jax.main --config configs/seldnet_tut2018.py \
      --workdir runs/seldnet_tut2018
Other variants / splits: --config.dataset=tut_sound_events_2018/resyn,
--config.train_split=ov2_split1_train, ... (8-channel CANSYN/CRESYN give 16
feature channels; the model reads the channel count from the features).

44.1 kHz, 1024-point STFT with a 512-sample hop (SPEC / seld-net): the
labels are at 44100 / 512 frames per second, the STFT frames equal the
label frames (centred STFT, `samples // 512` frames), so no time pooling.
Windows of 512 frames (seld-net `sequence_length=512`).
"""

from configs import default

# 512 label frames of 512 samples at 44.1 kHz.
_WINDOW_SECONDS = 512 * 512 / 44100


def get_config():
  """SELDnet on TUT Sound Events 2018 ANSYN."""
  config = default.five_second_config()
  config.dataset = 'tut_sound_events_2018/ansyn'
  config.train_split = 'ov1_split1_train'
  config.eval_split = 'ov1_split1_test'
  config.test_split = 'ov1_split1_test'
  config.sample_rate = 44100
  config.num_classes = 11
  config.label_rate = 44100 / 512
  config.window_seconds = _WINDOW_SECONDS
  config.eval_hop_seconds = _WINDOW_SECONDS

  # seld-net `_spectrogram`: np.hanning window, FFT with norm='ortho', bins
  # 0..511; centred here so that frames line up with the label frames.
  config.features = 'magnitude_phase'
  config.feature_params.n_fft = 1024
  config.feature_params.hop_length = 512
  config.feature_params.win_length = 1024
  config.feature_params.window = 'hann_symmetric'
  config.feature_params.norm = 'ortho'
  config.feature_params.drop_dc = False

  config.model = 'seldnet'
  config.target = 'sed_doa'
  config.model_kwargs.conv_channels = 64
  config.model_kwargs.f_pool = (8, 8, 2)
  config.model_kwargs.t_pool = (1, 1, 1)
  config.model_kwargs.rnn_size = 64
  config.model_kwargs.rnn_layers = 2
  config.model_kwargs.fnn_size = 128
  config.model_kwargs.dropout = 0.0
  # Keras `loss_weights=[1., 50.]` (SED BCE, DOA MSE).
  config.loss_options.sed_weight = 1.0
  config.loss_options.doa_weight = 50.0

  config.batch_size = 16
  config.learning_rate = 1e-3
  config.num_train_steps = 20000
  config.metric = 'dcase2019'
  return config

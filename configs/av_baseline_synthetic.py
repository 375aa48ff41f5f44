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

"""The DCASE2024 audio-visual baseline on the synthetic FOA + video data.

  python -m seld_jax.main --config configs/av_baseline_synthetic.py \
      --workdir runs/av_baseline_synthetic

FOA log-mel + intensity vectors, multi-ACCDOA with distance (156 outputs),
the CRNN + transformer-decoder fusion of `models/av_baseline.py`. The video
(128x64 360-degree frames, one per label frame) is read raw and embedded by
a small CNN trained with the model, so the run needs nothing pretrained and
trains on a CPU, with the CPU recipe of the synthetic ASMA-SELD configs
(batch 32 of 1.2-s windows, Adam 1.5e-3, 200 warmup steps and cosine decay,
2000 steps; `default.short_window_adam_recipe`). `small_cnn_blind` is the
audio-only control: the same network with the video zeroed. The official
visual input instead is the channel mean of a frozen ImageNet ResNet-50's
7x7 map (49 values per frame, SPEC §1.4):
`get_config('resnet50')` sets that front end (frozen; load the torchvision
weights into `visual_frontend.encoder` before training).
"""

import ml_collections

from configs import default

VARIANTS = ('small_cnn', 'small_cnn_blind', 'resnet50')


def get_config(arg: str = 'small_cnn'):
  """The 2024 AV baseline; `arg` picks the visual front end (VARIANTS)."""
  if arg not in VARIANTS:
    raise ValueError(f'arg must be one of {VARIANTS}, got {arg!r}.')
  # The CPU recipe of the synthetic ASMA-SELD rows (batch 32 of 1.2-s
  # windows, Adam 1.5e-3, warmup and cosine, 2000 steps): the AV model
  # scored F 71.8 % with it, 7.0 % with the earlier 2000 x 8 x 2-s windows
  # at 2e-3 (README, docs/models.md).
  config = default.short_window_adam_recipe(default.five_second_config())
  config.dataset = 'synthetic_seld/foa_video'
  config.features = 'foa_logmel_iv'
  config.model = 'av_seld_crnn'
  config.target = 'multi_accdoa_distance'  # DCASE2024: x, y, z, distance
  config.metric = 'dcase2024'

  # Visual input: decoded frames, one per label frame (or 'embeddings' read
  # from a store that `config.visual_embeddings` names).
  config.visual = 'frames'
  config.visual_embeddings = ''
  config.model_kwargs = ml_collections.ConfigDict()
  config.model_kwargs.visual_size = (64, 128)  # the dataset's frames (H, W)
  if arg.startswith('small_cnn'):
    # Frames resized to 32x64 (5.6 deg per pixel) and a 3-block CNN: a 4x8
    # map of 32 channels per frame, kept whole ('none') so that where an
    # object is drawn (its direction) reaches the fusion; ~9 MFLOP a frame.
    config.model_kwargs.visual_frontend = ml_collections.ConfigDict(
        dict(
            name='small_cnn',
            pooling='none',
            channels=(16, 32, 32),
            resize=(32, 64),
        )
    )
    # 'small_cnn_blind': the audio-only control with the same parameters
    # (the visual input is zeroed before the fusion).
    config.model_kwargs.blind = arg == 'small_cnn_blind'
  else:
    config.model_kwargs.visual_frontend = ml_collections.ConfigDict(
        dict(name='resnet50', pooling='dcase_mean', transform='dcase')
    )
    config.freeze = ('visual_frontend.encoder',)

  # The baseline's fusion (SPEC §3.2): Linear(D -> 128), 2 decoder layers.
  config.model_kwargs.num_decoder_layers = 2
  config.model_kwargs.decoder_heads = 8
  config.model_kwargs.decoder_ffn_dim = 2048
  config.model_kwargs.decoder_dropout = 0.1
  config.model_kwargs.decoder_norm_first = False  # True: pre-norm layers
  # DCASE2024 selects the model on the validation F-score.
  config.best_metric = 'F'
  config.best_mode = 'max'
  return config

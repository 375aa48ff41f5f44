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

"""AV-Conformer / CMAF (Berghi et al. 2024) on the synthetic FOA + video data.

  python -m seld_jax.main --config configs/av_conformer_synthetic.py:audio_only \
      --workdir runs/av_conformer_audio
  python -m seld_jax.main --config configs/av_conformer_synthetic.py:conformer \
      --workdir runs/av_conformer --config.init_from=runs/av_conformer_audio
  python -m seld_jax.main --config configs/av_conformer_synthetic.py:cmaf \
      --workdir runs/av_cmaf --config.init_from=runs/av_conformer_audio

Variants (VARIANTS): 'conformer' (AV-Conformer fusion), 'cmaf' (cross-modal
attentive fusion), 'audio_only' (the same audio encoder and head, no video).
Suffixes: '_blind' (e.g. 'cmaf_blind') is the audio-only control of the same
size, the video zeroed after the front end; '_cpu' (e.g.
'conformer_blind_cpu') shrinks every width to one that trains in minutes on
a 2-core CPU (audio CNN 32-64-64-64, Conformer 64, 2 + 2 layers, frames
resized to 32x64 through a 3-block CNN whose 4x8 map is kept whole, as the
DCASE2024 AV baseline's CPU config) with 2-s windows.
As in the paper, the audio encoder can be pre-trained on audio-only SELD and
loaded into the AV models: `init_from` copies every variable whose name and
shape match (the encoder, `audio_encoder.*` and `audio_norm`; the head
differs in width and stays at its initialisation).

FOA log-mel + intensity vectors, multi-ACCDOA. The video (128x64 frames, one
per label frame) is read raw through a small CNN trained with the model (the
paper uses frozen ResNet-50 / I3D embeddings of 4096 / 2048 values; set
`visual_frontend` to a resnet50 / i3d front end, or `visual = 'embeddings'`
with `model_kwargs.visual_dim`, for that). The widths are half the paper's
(audio CNN 64-128-256-256 and Conformer 256; fusion 512) so that the model
trains on a CPU; the model's defaults are the paper's sizes.
"""

import ml_collections

from configs import default

FUSIONS = ('conformer', 'cmaf', 'audio_only')
VARIANTS = tuple(
    f + blind + cpu
    for f in FUSIONS
    for blind in ('', '_blind')
    for cpu in ('', '_cpu')
    if not (f == 'audio_only' and blind)
)


def get_config(arg: str = 'conformer'):
  """AV-Conformer ('conformer'), CMAF ('cmaf') or the audio-only model."""
  if arg not in VARIANTS:
    raise ValueError(f'arg must be one of {VARIANTS}, got {arg!r}.')
  cpu = arg.endswith('_cpu')
  arg = arg.removesuffix('_cpu')
  blind = arg.endswith('_blind')
  arg = arg.removesuffix('_blind')
  config = default.five_second_config()
  config.dataset = 'synthetic_seld/foa_video'
  config.features = 'foa_logmel_iv'
  config.model = 'av_conformer'
  config.target = 'multi_accdoa'
  config.metric = 'dcase2023'

  kw = config.model_kwargs = ml_collections.ConfigDict()
  kw.fusion = 'none' if arg == 'audio_only' else arg
  kw.audio_channels = (64, 128, 256, 256)
  kw.t_pool = (1, 5, 1, 1)  # 50-fps features -> 10-fps labels
  kw.f_pool = (2, 2, 2, 2)
  kw.audio_layers = 4
  kw.visual_width = 256
  kw.fusion_layers = 4
  kw.num_heads = 8
  kw.ffn_dim = 512
  kw.kernel_size = 51
  kw.fnn_size = 128
  kw.dropout = 0.1

  if arg == 'audio_only':
    config.visual = ''
  else:
    config.visual = 'frames'
    kw.visual_size = (64, 128)  # the dataset's frames (H, W)
    kw.visual_frontend = ml_collections.ConfigDict(
        dict(name='small_cnn', pooling='avg', channels=(16, 32, 64, 128))
    )
  config.visual_embeddings = ''

  kw.blind = blind
  if cpu:
    kw.audio_channels = (32, 64, 64, 64)
    kw.audio_layers = 2
    kw.visual_width = 64
    kw.fusion_layers = 2
    kw.num_heads = 4
    kw.ffn_dim = 128
    kw.kernel_size = 31
    kw.fnn_size = 64
    if arg != 'audio_only':
      kw.visual_frontend = ml_collections.ConfigDict(
          dict(
              name='small_cnn',
              pooling='none',
              channels=(16, 32, 32),
              resize=(32, 64),
          )
      )
    config.window_seconds = 2.0
    config.eval_hop_seconds = 2.0

  config.optimizer = 'adamw'
  config.weight_decay = 1e-2
  config.schedule = 'cosine'
  config.warmup_steps = 500
  config.grad_clip_norm = 1.0
  return config

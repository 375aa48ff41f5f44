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

"""ASMA-SELD and its ablations on the DCASE2025 stereo SELD data.

Data (manual download, see data_builders/dcase2025_stereo):
  tfds build data_builders/dcase2025_stereo --manual_dir DIR \
      --file_format array_record --config stereo_video
Train:
  python -m seld_jax.main --config configs/asma_seld.py:full \
      --workdir runs/asma_full

Variants (VARIANTS): 'full', 'no_phase' (no ILD branch), 'no_se' (plain
conv blocks), 'no_transformer' (visual fusion by concatenation + a linear
projection), 'audio_only' (no video, 117 outputs).

Stereo log-mels as DCASE2025 (no normalisation: the ILD branch reads the
level difference of the two channels in dB), multi-ACCDOA with x, y,
distance and on-screen (156 outputs; `multi_accdoa_stereo_av`), the
DCASE2025 metric. The visual input is the official one (SPEC §1.4): each
180x360 frame through ImageNet ResNet-50 (the DCASE resize/crop chain),
its 7x7 map averaged over channels (49 values per label frame). The
ResNet-50 is frozen: load the torchvision weights into
`visual_frontend.encoder`; or extract the embeddings once and train on them
(`--config.visual=embeddings --config.visual_embeddings=DIR`).
The training recipe is the DCASE2025 baseline's: Adam 1e-3, batch 256, the
model selected on the F-score (the baseline trains 200 epochs: set
`num_train_steps` for your copy of the data).
"""

import ml_collections

from configs import dcase_baseline
from configs import default

VARIANTS = ('full', 'no_phase', 'no_se', 'no_transformer', 'audio_only')


def get_config(arg: str = 'full'):
  """ASMA-SELD `arg` (one of VARIANTS)."""
  if arg not in VARIANTS:
    raise ValueError(f'arg must be one of {VARIANTS}, got {arg!r}.')
  config = dcase_baseline.dcase2025_recipe(
      default.five_second_config(), 'dcase2025_stereo/stereo_video'
  )
  config.model = 'asma_seld'

  kw = config.model_kwargs = ml_collections.ConfigDict()
  kw.use_phase = arg != 'no_phase'
  kw.use_se = arg != 'no_se'
  kw.use_transformer = arg != 'no_transformer'
  kw.use_visual = arg != 'audio_only'
  if kw.use_visual:
    config.target = 'multi_accdoa_stereo_av'  # x, y, distance, on-screen
    config.visual = 'frames'
    kw.visual_size = (180, 360)  # the builder's decoded frames (H, W)
    kw.visual_frontend = ml_collections.ConfigDict(
        dict(name='resnet50', pooling='dcase_mean', transform='dcase')
    )
    config.freeze = ('visual_frontend.encoder',)
  else:
    config.target = 'multi_accdoa_stereo'  # x, y, distance
    config.visual = ''
  config.visual_embeddings = ''
  return config

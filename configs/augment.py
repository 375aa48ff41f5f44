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

"""Default + augmentation: FOA channel swap (8 patterns) and SpecAugment.

python -m seld_jax.main --config configs/augment.py --workdir runs/augment

Every `config.augment` field is present (see `seld_jax.augment`), so any can
be set from the command line, e.g. `--config.augment.gain_db='(-6, 6)'` or
`--config.augment.acs=foa16`.
"""

from configs import default
from seld_jax import augment


def get_config():
  """The default configuration with augmentation on."""
  config = default.five_second_config()
  config.augment = augment.default_config()
  # One of the 8 FOA rotation/reflection patterns (Wang et al.) per window.
  config.augment.acs = 'foa8'
  config.augment.acs_prob = 1.0
  # SpecAugment on the 250 x 64 (frames x mel bins) features of a 5-s
  # window: two time bands of up to 20 frames (0.4 s), two frequency bands of
  # up to 8 bins.
  config.augment.spec_augment.time_masks = 2
  config.augment.spec_augment.time_width = 20
  config.augment.spec_augment.freq_masks = 2
  config.augment.spec_augment.freq_width = 8
  return config

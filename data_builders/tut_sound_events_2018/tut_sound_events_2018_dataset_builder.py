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

"""tut_sound_events_2018 dataset: the SELDnet (TUT Sound Events 2018) data.

The datasets of Adavanne et al., "Sound event localization and detection of
overlapping sources using convolutional recurrent neural networks" (JSTSP
2018) and of the moving-source follow-up: up to 30-s recordings at 44.1 kHz
in Ambisonic (4 channels) or circular-array (8 channels) format, with 1-3
overlapping sources (`ov1`-`ov3`) and three cross-validation splits
(`split1`-`split3`), each with `train` and `test` files. The desc files
(time segments, static or moving sources) are expanded to 512-sample label
frames (44100 / 512 per second) as the official SELDnet code does.
"""

import dataclasses
import re

from etils import epath
import tensorflow_datasets as tfds

from seld_jax import builder_utils
from seld_jax import events as events_lib
from seld_jax import formats


@dataclasses.dataclass(eq=False, kw_only=True)
class TutConfig(builder_utils.SeldConfig):
  """A TUT Sound Events 2018 variant.

  Attributes:
    variant_dir: the variant's folder in the manual_dir (e.g. 'ANSYN').
    real_classes: UrbanSound classes (REAL, MREAL) instead of the 11
      DCASE2016 task 2 classes.
    snr_db: the SNR in the wav folder names (`wav_ov1_split1_30db`).
  """

  variant_dir: str = ''
  real_classes: bool = False
  snr_db: int = 30


_VARIANTS = (
    # name, folder, channels, real classes, description
    ('ansyn', 'ANSYN', 4, False, 'Ambisonic, anechoic, synthetic IRs.'),
    ('resyn', 'RESYN', 4, False, 'Ambisonic, reverberant, synthetic IRs.'),
    ('real', 'REAL', 4, True, 'Ambisonic, real-life IRs, UrbanSound.'),
    ('cansyn', 'CANSYN', 8, False, 'Circular array, anechoic, synthetic.'),
    ('cresyn', 'CRESYN', 8, False, 'Circular array, reverberant, synthetic.'),
    ('mansyn', 'MANSYN', 4, False, 'Ambisonic, moving sources, synthetic.'),
    ('mreal', 'MREAL', 4, True, 'Ambisonic, moving sources, real IRs.'),
)


class Builder(builder_utils.SeldBuilder):
  """DatasetBuilder for the TUT Sound Events 2018 (SELDnet) datasets."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download the TUT Sound Events 2018 datasets from Zenodo (ANSYN, RESYN,
  REAL, CANSYN, CRESYN and the moving-source MANSYN, MREAL; see
  https://github.com/sharathadavanne/seld-net) and unzip each into its own
  folder of the manual_dir:

    ANSYN/wav_ov{1,2,3}_split{1,2,3}_30db/{train,test}*.wav
    ANSYN/desc_ov{1,2,3}_split{1,2,3}/{train,test}*.csv
    RESYN/...  REAL/...  CANSYN/...  CRESYN/...  MANSYN/...  MREAL/...

  Then: tfds build data_builders/tut_sound_events_2018 --manual_dir DIR \\
          --file_format array_record --config ansyn
  """
  BUILDER_CONFIGS = [
      TutConfig(
          name=name,
          description=description,
          audio_format='mic' if channels == 8 else 'foa',
          num_channels=channels,
          sample_rate=44100,
          audio_dtype='int16',
          # The audio ends with the last event; its end frame is
          # ceil(end * 44100 / 512), which can be the first frame after it.
          max_label_overhang_frames=2,
          variant_dir=folder,
          real_classes=real,
      )
      for name, folder, channels, real, description in _VARIANTS
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'ansyn'

  DATASET = 'tut_sound_events_2018'
  HOMEPAGE = 'https://github.com/sharathadavanne/seld-net'
  METADATA_FORMAT = 'tut2018'

  def class_names(self):
    if self.builder_config.real_classes:
      return formats.TUT2018_REAL_CLASSES
    return events_lib.DCASE2019_CLASSES

  def read_events(self, path):
    table = formats.read_metadata(path, 'tut2018')
    if len(table) and table.class_names != self.class_names():
      raise builder_utils.DataValidationError(
          path,
          f'its sound file names use the classes {table.class_names}, not '
          f'those of config {self.builder_config.name!r}',
      )
    return table

  def split_sources(self, manual_dir: epath.Path):
    cfg = self.builder_config
    root = manual_dir / cfg.variant_dir
    sources = []
    if not root.is_dir():
      return sources
    for folder in sorted(p.name for p in root.iterdir() if p.is_dir()):
      match = re.fullmatch(rf'wav_ov(\d)_split(\d)_{cfg.snr_db}db', folder)
      if not match:
        continue
      ov, split = match.groups()
      for part in ('train', 'test'):
        sources.append(
            builder_utils.SplitSource(
                split=f'ov{ov}_split{split}_{part}',
                audio_dir=f'{cfg.variant_dir}/{folder}',
                metadata_dir=f'{cfg.variant_dir}/desc_ov{ov}_split{split}',
                split_folder=f'ov{ov}_split{split}',
                name_pattern=f'^{part}',
                fold=int(split),
            )
        )
    return sources

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

"""tau_nigens_2020 dataset: TAU-NIGENS Spatial Sound Events 2020 (DCASE2020).

One example per recording (`seld_jax.records`): raw 24 kHz 4-channel audio
(FOA or tetrahedral MIC, 60 s) and the frame-wise events (100-ms frames, 14
classes, directions only). The development files are flat
(`fold1_room1_mix001_ov1.wav`); each fold is a split, so the DCASE2020
setup is `train = fold3+fold4+fold5+fold6`, `validation = fold2`,
`test = fold1`.
"""

from etils import epath
import tensorflow_datasets as tfds

from seld_jax import builder_utils


def _config(name: str, description: str):
  return builder_utils.SeldConfig(
      name=name,
      description=description,
      audio_format=name,
      num_channels=4,
      sample_rate=24000,
      audio_dtype='int16',
  )


class Builder(builder_utils.SeldBuilder):
  """DatasetBuilder for the TAU-NIGENS Spatial Sound Events 2020 dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download TAU-NIGENS Spatial Sound Events 2020 from Zenodo
  (https://zenodo.org/records/4064792: foa_dev.zip, mic_dev.zip,
  metadata_dev.zip; optionally foa_eval.zip, mic_eval.zip,
  metadata_eval.zip) and unzip them into the manual_dir:

    foa_dev/fold{1..6}_room*_mix*_ov*.wav
    mic_dev/fold{1..6}_room*_mix*_ov*.wav
    metadata_dev/fold{1..6}_room*_mix*_ov*.csv
    foa_eval/*.wav, mic_eval/*.wav, metadata_eval/*.csv   (optional)

  Then: tfds build data_builders/tau_nigens_2020 --manual_dir DIR \\
          --file_format array_record [--config foa]
  """
  BUILDER_CONFIGS = [
      _config('foa', 'First-order Ambisonics (ACN/SN3D) audio.'),
      _config('mic', 'Tetrahedral microphone-array audio.'),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  DATASET = 'tau_nigens_2020'
  HOMEPAGE = 'https://zenodo.org/records/4064792'
  METADATA_FORMAT = 'dcase2020'

  def split_sources(self, manual_dir: epath.Path):
    return builder_utils.fold_split_sources(
        manual_dir, self.builder_config.audio_format, prefix='fold'
    )

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

"""tau_nigens_2021 dataset: TAU-NIGENS Spatial Sound Events 2021 (DCASE2021).

One example per recording (`seld_jax.records`): raw 24 kHz 4-channel audio
(FOA or tetrahedral MIC, 60 s) and the frame-wise events (100-ms frames, 12
classes, directions only).
"""

from etils import epath
import tensorflow_datasets as tfds

from seld_jax import builder_utils

_FOLDER_SPLITS = {
    'dev-train': 'train',
    'dev-val': 'validation',
    'dev-test': 'test',
}


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
  """DatasetBuilder for the TAU-NIGENS Spatial Sound Events 2021 dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download TAU-NIGENS Spatial Sound Events 2021 from Zenodo
  (https://zenodo.org/records/5476980: foa_dev.zip, mic_dev.zip,
  metadata_dev.zip; optionally foa_eval.zip, mic_eval.zip and, once
  published, metadata_eval.zip) and unzip them into the manual_dir:

    foa_dev/dev-{train,val,test}/fold*_room*_mix*.wav
    mic_dev/dev-{train,val,test}/...
    metadata_dev/dev-{train,val,test}/*.csv
    foa_eval/*.wav, mic_eval/*.wav, metadata_eval/*.csv   (optional)

  Then: tfds build data_builders/tau_nigens_2021 --manual_dir DIR \\
          --file_format array_record [--config foa]
  """
  BUILDER_CONFIGS = [
      _config('foa', 'First-order Ambisonics (ACN/SN3D) audio.'),
      _config('mic', 'Tetrahedral microphone-array audio.'),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  DATASET = 'tau_nigens_2021'
  HOMEPAGE = 'https://zenodo.org/records/5476980'
  METADATA_FORMAT = 'dcase2021'

  def split_sources(self, manual_dir: epath.Path):
    return builder_utils.dev_folder_split_sources(
        manual_dir,
        self.builder_config.audio_format,
        video=False,
        folder_split=_FOLDER_SPLITS.get,
    )

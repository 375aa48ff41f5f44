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

"""starss22 dataset: Sony-TAu Realistic Spatial Soundscapes 2022 (DCASE2022).

One example per recording (`seld_jax.records`): raw 24 kHz 4-channel audio
(FOA or tetrahedral MIC) and the frame-wise events (100-ms frames, 13
classes, directions only: distance is NaN).
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
  """DatasetBuilder for the STARSS22 dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download STARSS22 from https://doi.org/10.5281/zenodo.6600531 (foa_dev.zip,
  mic_dev.zip, metadata_dev.zip; optionally foa_eval.zip, mic_eval.zip) and
  unzip them into the manual_dir, so that it holds:

    foa_dev/dev-{train,test}-{sony,tau}/*.wav
    mic_dev/dev-{train,test}-{sony,tau}/*.wav
    metadata_dev/dev-{train,test}-{sony,tau}/*.csv
    foa_eval/*.wav, mic_eval/*.wav   (optional, no labels)

  Then: tfds build data_builders/starss22 --manual_dir DIR \\
          --file_format array_record [--config foa]
  """
  BUILDER_CONFIGS = [
      _config('foa', 'First-order Ambisonics (ACN/SN3D) audio.'),
      _config('mic', 'Tetrahedral microphone-array audio.'),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  DATASET = 'starss22'
  HOMEPAGE = 'https://doi.org/10.5281/zenodo.6600531'
  METADATA_FORMAT = 'starss22'

  def split_sources(self, manual_dir: epath.Path):
    return builder_utils.starss_split_sources(
        manual_dir, self.builder_config.audio_format, video=False
    )

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

"""tau_spatial_2019 dataset: TAU Spatial Sound Events 2019 (DCASE2019).

One example per recording (`seld_jax.records`): raw 48 kHz 4-channel audio
(FOA or tetrahedral MIC, 60 s) and the events expanded to 20-ms frames (50
per second) from the CSV segments (11 classes by name, static sources,
distance in metres). The development files are flat
(`split1_ir0_ov1_1.wav`); each cross-validation split is a TFDS split
('split1'..'split4').
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
      sample_rate=48000,
      audio_dtype='int16',
      # Events cut by the end of a 60-s recording keep their full length in
      # the CSVs (e.g. `drawer,59.857,60.690` in split1_ir0_ov2_11.csv: frame
      # 3035 of a 3000-frame recording). The official 3000-frame label matrix
      # drops those rows; so does the builder, up to 1 s past the end.
      max_label_overhang_frames=50,
  )


class Builder(builder_utils.SeldBuilder):
  """DatasetBuilder for the TAU Spatial Sound Events 2019 dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download TAU Spatial Sound Events 2019 (Ambisonic and Microphone Array)
  from Zenodo (development: https://zenodo.org/records/2599196, foa_dev.z*,
  mic_dev.z*, metadata_dev.zip; evaluation: https://zenodo.org/records/3377088)
  and unzip them into the manual_dir:

    foa_dev/split{1..4}_ir*_ov*_*.wav
    mic_dev/split{1..4}_ir*_ov*_*.wav
    metadata_dev/split{1..4}_ir*_ov*_*.csv
    foa_eval/*.wav, mic_eval/*.wav, metadata_eval/*.csv   (optional)

  Then: tfds build data_builders/tau_spatial_2019 --manual_dir DIR \\
          --file_format array_record [--config foa]
  """
  BUILDER_CONFIGS = [
      _config('foa', 'First-order Ambisonics (ACN/SN3D) audio at 48 kHz.'),
      _config('mic', 'Tetrahedral microphone-array audio at 48 kHz.'),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  DATASET = 'tau_spatial_2019'
  HOMEPAGE = 'https://zenodo.org/records/2599196'
  METADATA_FORMAT = 'dcase2019'

  def split_sources(self, manual_dir: epath.Path):
    return builder_utils.fold_split_sources(
        manual_dir, self.builder_config.audio_format, prefix='split'
    )

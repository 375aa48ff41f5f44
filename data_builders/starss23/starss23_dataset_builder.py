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

"""starss23 dataset: Sony-TAu Realistic Spatial Soundscapes 2023 (DCASE2023).

One example per recording (`seld_jax.records`): raw 24 kHz 4-channel audio
(FOA or tetrahedral MIC), the frame-wise events (100-ms frames, distances in
metres) and, in the video configs, one 360-degree video frame per label
frame.
"""

from etils import epath
import tensorflow_datasets as tfds

from seld_jax import builder_utils


def _config(name: str, audio_format: str, video: bool, description: str):
  return builder_utils.SeldConfig(
      name=name,
      description=description,
      audio_format=audio_format,
      num_channels=4,
      sample_rate=24000,
      audio_dtype='int16',
      video=video,
  )


class Builder(builder_utils.SeldBuilder):
  """DatasetBuilder for the STARSS23 dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download STARSS23 from https://doi.org/10.5281/zenodo.7709052 (foa_dev.zip,
  mic_dev.zip, metadata_dev.zip, video_dev.zip; optionally foa_eval.zip,
  mic_eval.zip, video_eval.zip) and unzip them into the manual_dir, so that
  it holds:

    foa_dev/dev-{train,test}-{sony,tau}/*.wav
    mic_dev/dev-{train,test}-{sony,tau}/*.wav
    metadata_dev/dev-{train,test}-{sony,tau}/*.csv
    video_dev/dev-{train,test}-{sony,tau}/*.mp4    (video configs only)
    foa_eval/*.wav, mic_eval/*.wav, video_eval/*.mp4  (optional, no labels)

  Then: tfds build data_builders/starss23 --manual_dir DIR \\
          --file_format array_record [--config foa]
  """
  BUILDER_CONFIGS = [
      _config('foa', 'foa', False, 'First-order Ambisonics (ACN/SN3D) audio.'),
      _config('mic', 'mic', False, 'Tetrahedral microphone-array audio.'),
      _config(
          'foa_video',
          'foa',
          True,
          'FOA audio and 360-degree video frames at the label rate.',
      ),
      _config(
          'mic_video',
          'mic',
          True,
          'MIC audio and 360-degree video frames at the label rate.',
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  DATASET = 'starss23'
  HOMEPAGE = 'https://doi.org/10.5281/zenodo.7709052'
  METADATA_FORMAT = 'starss23'

  def split_sources(self, manual_dir: epath.Path):
    cfg = self.builder_config
    return builder_utils.starss_split_sources(
        manual_dir, cfg.audio_format, cfg.video
    )

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

"""dcase2025_stereo dataset: the DCASE2025 Task 3 stereo SELD dataset.

5-s stereo clips (24 kHz) and regular-view video cut from STARSS23 at random
viewing directions. One example per clip (`seld_jax.records`): raw stereo
audio, the events (100-ms frames, 13 classes, azimuth folded to the front
half-plane, elevation 0, distance in metres, on-screen flag) and, in the
video config, one video frame per label frame.
"""

from etils import epath
import tensorflow_datasets as tfds

from seld_jax import builder_utils


def _config(name: str, video: bool, description: str):
  return builder_utils.SeldConfig(
      name=name,
      description=description,
      audio_format='stereo',
      num_channels=2,
      sample_rate=24000,
      audio_dtype='int16',
      video=video,
  )


class Builder(builder_utils.SeldBuilder):
  """DatasetBuilder for the DCASE2025 Task 3 stereo SELD dataset."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
  Download the DCASE2025 Task 3 Stereo SELD Dataset from Zenodo
  (https://zenodo.org/records/15087603: stereo_dev.zip, metadata_dev.zip,
  video_dev.zip; optionally the evaluation set) and unzip them into the
  manual_dir:

    stereo_dev/dev-{train,test}-*/*.wav
    metadata_dev/dev-{train,test}-*/*.csv    (header frame,class,source,...)
    video_dev/dev-{train,test}-*/*.mp4      (stereo_video config only)
    stereo_eval/eval/*.wav, video_eval/eval/*.mp4   (optional)

  Then: tfds build data_builders/dcase2025_stereo --manual_dir DIR \\
          --file_format array_record [--config stereo]
  """
  BUILDER_CONFIGS = [
      _config('stereo', False, 'Stereo audio.'),
      _config(
          'stereo_video',
          True,
          'Stereo audio and video frames at the label rate.',
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'stereo'

  DATASET = 'dcase2025_stereo'
  HOMEPAGE = 'https://zenodo.org/records/15087603'
  METADATA_FORMAT = 'dcase2025'

  def split_sources(self, manual_dir: epath.Path):
    return builder_utils.starss_split_sources(
        manual_dir, 'stereo', self.builder_config.video
    )

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

"""starss23 dataset."""

import numpy as np
import soundfile
import tensorflow_datasets as tfds

from data_builders.starss23 import starss23_dataset_builder
from seld_jax import formats
from seld_jax import records
from seld_jax.testing import dummy_data


class Starss23Test(tfds.testing.DatasetBuilderTestCase):
  """Tests for starss23 dataset."""

  DATASET_CLASS = starss23_dataset_builder.Builder
  SPLITS = {
      'train': 3,  # dev-train-sony (2) + dev-train-tau (1)
      'test': 2,  # dev-test-sony + dev-test-tau
      'eval': 1,  # foa_eval / mic_eval, no labels
  }
  # soundfile and PyAV open files natively (as the nsynth builder does).
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

  def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase.test_session is a context manager, not a test: without
  # this pytest collects it and reports it as skipped.
  test_session.__test__ = False

  def test_content_matches_the_files(self):
    """Every field of every foa_video record against the source files."""
    builder = self._make_builder(config='foa_video')
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=self.dummy_data)
    )
    seen = set()
    for split in self.SPLITS:
      for ex in tfds.as_numpy(builder.as_dataset(split=split)):
        rid = records.as_text(ex['id'])
        seen.add(rid)
        prov = {k: v for k, v in ex['provenance'].items()}
        audio_path = self.dummy_data / records.as_text(prov['audio_path'])
        pcm, rate = soundfile.read(audio_path, dtype='int16', always_2d=True)
        np.testing.assert_array_equal(ex['audio'], pcm)
        self.assertEqual(ex['sample_rate'], rate)
        self.assertEqual(ex['num_frames'], int(np.ceil(len(pcm) / 2400)))
        self.assertEqual(records.as_text(prov['format']), 'foa')
        self.assertEqual(records.as_text(prov['pcm_subtype']), 'PCM_16')
        np.testing.assert_allclose(
            records.audio_from_example(ex), pcm.T / 32768.0
        )
        table = records.events_from_example(ex)
        if split == 'eval':
          self.assertFalse(prov['labeled'])
          self.assertEqual(len(table), 0)
          self.assertEqual(records.as_text(prov['metadata_path']), '')
        else:
          self.assertTrue(prov['labeled'])
          csv = self.dummy_data / records.as_text(prov['metadata_path'])
          self.assertTrue(table.equals(formats.read_metadata(csv, 'starss23')))
          self.assertTrue(table.has_distance)
          folder, stem = rid.split('/')
          self.assertEqual(records.as_text(prov['split_folder']), folder)
          self.assertEqual(prov['fold'], 3 if split == 'train' else 4)
          self.assertIn(f'_room{prov["room"]}_', stem)
        # One video frame per label frame: the frame on screen at k * 0.1 s.
        video = ex['video']
        self.assertEqual(video.shape, (ex['num_frames'], 180, 360, 3))
        for k in range(len(video)):
          i = int(np.floor(k * 0.1 * dummy_data.VIDEO_FPS + 1e-6))
          self.assertAlmostEqual(
              float(video[k].mean()), dummy_data.video_level(i), delta=3
          )
    self.assertEqual(len(seen), sum(self.SPLITS.values()))
    self.assertIn('dev-train-sony/fold3_room21_mix001', seen)
    self.assertIn('eval/mix001', seen)


if __name__ == '__main__':
  tfds.testing.test_main()

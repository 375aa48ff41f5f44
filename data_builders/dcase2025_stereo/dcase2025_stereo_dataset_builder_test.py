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

"""dcase2025_stereo dataset."""

import numpy as np
import tensorflow_datasets as tfds

from data_builders.dcase2025_stereo import dcase2025_stereo_dataset_builder
from seld_jax import records
from seld_jax.testing import dummy_data


class Dcase2025StereoTest(tfds.testing.DatasetBuilderTestCase):
  """Tests for dcase2025_stereo dataset."""

  DATASET_CLASS = dcase2025_stereo_dataset_builder.Builder
  SPLITS = {
      'train': 2,  # dev-train-sony + dev-train-tau
      'test': 1,  # dev-test-sony
      'eval': 1,  # stereo_eval/eval, no labels
  }
  # soundfile and PyAV open files natively (as the nsynth builder does).
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

  def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase.test_session is a context manager, not a test: without
  # this pytest collects it and reports it as skipped.
  test_session.__test__ = False

  def test_content_matches_the_files(self):
    builder = self._make_builder(config='stereo_video')
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=self.dummy_data)
    )
    found = dummy_data.check_records_match_files(
        builder, self.dummy_data, 'dcase2025', list(self.SPLITS)
    )
    self.assertLen(found, sum(self.SPLITS.values()))
    self.assertIn('eval/mix001', found)
    for rid, item in found.items():
      ex = item['example']
      self.assertEqual(ex['audio'].shape[1], 2, rid)
      self.assertEqual(records.as_text(ex['provenance']['format']), 'stereo')
      self.assertEqual(ex['video'].shape[0], ex['num_frames'], rid)
      table = records.events_from_example(ex)
      if item['split'] != 'eval':
        self.assertTrue(table.has_onscreen and table.has_distance, rid)
        self.assertTrue(np.all(np.abs(table.azimuth) <= 90), rid)
        self.assertTrue(np.all(table.elevation == 0), rid)


if __name__ == '__main__':
  tfds.testing.test_main()

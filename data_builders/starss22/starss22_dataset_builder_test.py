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

"""starss22 dataset."""

import numpy as np
import tensorflow_datasets as tfds

from data_builders.starss22 import starss22_dataset_builder
from seld_jax import records
from seld_jax.testing import dummy_data


class Starss22Test(tfds.testing.DatasetBuilderTestCase):
  """Tests for starss22 dataset."""

  DATASET_CLASS = starss22_dataset_builder.Builder
  SPLITS = {
      'train': 3,  # dev-train-sony (2) + dev-train-tau (1)
      'test': 2,  # dev-test-sony + dev-test-tau
      'eval': 1,  # foa_eval / mic_eval, no labels
  }
  # soundfile opens files natively (as the nsynth builder does).
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

  def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase.test_session is a context manager, not a test: without
  # this pytest collects it and reports it as skipped.
  test_session.__test__ = False

  def test_content_matches_the_files(self):
    for config in ('foa', 'mic'):
      builder = self._make_builder(config=config)
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(
              manual_dir=self.dummy_data
          )
      )
      found = dummy_data.check_records_match_files(
          builder, self.dummy_data, 'starss22', list(self.SPLITS)
      )
      self.assertLen(found, sum(self.SPLITS.values()))
      for rid, item in found.items():
        ex = item['example']
        self.assertEqual(records.as_text(ex['provenance']['format']), config)
        self.assertTrue(
            records.as_text(ex['provenance']['audio_path']).startswith(
                f'{config}_'
            )
        )
        if item['split'] != 'eval':
          self.assertTrue(np.all(np.isnan(ex['events']['distance'])), rid)
      self.assertEqual(builder.info.metadata['class_names'][0], 'female_speech')


if __name__ == '__main__':
  tfds.testing.test_main()

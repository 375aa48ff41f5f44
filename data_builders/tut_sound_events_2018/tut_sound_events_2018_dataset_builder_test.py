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

"""tut_sound_events_2018 dataset."""

import tensorflow_datasets as tfds

from data_builders.tut_sound_events_2018 import (
    tut_sound_events_2018_dataset_builder,
)
from seld_jax import formats
from seld_jax import records
from seld_jax.testing import dummy_data

_MODULE = tut_sound_events_2018_dataset_builder


class TutSoundEvents2018Test(tfds.testing.DatasetBuilderTestCase):
  """Tests for tut_sound_events_2018 dataset."""

  DATASET_CLASS = _MODULE.Builder
  SPLITS = {
      'ov1_split1_train': 2,
      'ov1_split1_test': 1,
      'ov2_split3_train': 1,
      'ov2_split3_test': 1,
  }
  # soundfile opens files natively (as the nsynth builder does).
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

  def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase.test_session is a context manager, not a test: without
  # this pytest collects it and reports it as skipped.
  test_session.__test__ = False

  def test_content_matches_the_files(self):
    for config, channels, real in (
        ('ansyn', 4, False),
        ('real', 4, True),
        ('cresyn', 8, False),
        ('mansyn', 4, False),
        ('mreal', 4, True),
    ):
      builder = self._make_builder(config=config)
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(
              manual_dir=self.dummy_data
          )
      )
      found = {}
      for split in self.SPLITS:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
          found[(split, records.as_text(ex['id']))] = ex
      self.assertLen(found, 5)
      for (split, rid), ex in found.items():
        self.assertEqual(ex['audio'].shape[1], channels, rid)
        self.assertEqual(ex['sample_rate'], 44100)
        self.assertAlmostEqual(float(ex['label_rate']), 44100 / 512)
        prov = ex['provenance']
        self.assertEqual(prov['fold'], int(split.split('_')[1][-1]))
        self.assertTrue(rid.startswith(split.rsplit('_', 1)[0] + '/'))
        csv = self.dummy_data / records.as_text(prov['metadata_path'])
        expected = formats.read_metadata(csv, 'tut2018')
        expected = expected.select(expected.frame < ex['num_frames'])
        table = records.events_from_example(ex)
        self.assertTrue(table.equals(expected), (config, rid))
      names = builder.info.metadata['class_names']
      self.assertEqual(names[0], 'car_horn' if real else 'knock')
    # The audio and frame counts against the wavs for one variant.
    dummy_data.check_records_match_files(
        builder, self.dummy_data, 'tut2018', list(self.SPLITS), False
    )


if __name__ == '__main__':
  tfds.testing.test_main()

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

"""synthetic_seld dataset.

The builder downloads nothing and needs no fake data: it renders its scenes.
The tests build small custom configs instead (`_small`: 3 train + 2 test
scenes of 6 s, the rest of the named config unchanged), which is how any
size is built (`tfds build --config '{"name": ..., "num_train": ...}'`);
`SPLITS` is exact for them.
"""

import dataclasses
import pathlib
from unittest import mock

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from data_builders.synthetic_seld import synthetic_seld_dataset_builder
from seld_jax import events
from seld_jax import input_pipeline
from seld_jax import records
from seld_jax import stereo_view
from seld_jax.synth import render
from seld_jax.synth import video

Builder = synthetic_seld_dataset_builder.Builder


def _small(
    name: str, **changes
) -> synthetic_seld_dataset_builder.SyntheticSeldConfig:
  """The named config with 3 train + 2 test scenes of 6 s (3 + 1 rooms)."""
  return dataclasses.replace(
      Builder.builder_configs[name],
      name=f'{name}_small',
      description=f'{name} with 3 train and 2 test scenes of 6 s.',
      num_train=3,
      num_test=2,
      duration=6.0,
      train_rooms=3,
      test_rooms=1,
      **changes,
  )


class SyntheticSeldTest(tfds.testing.DatasetBuilderTestCase):
  """Tests for synthetic_seld dataset."""

  DATASET_CLASS = Builder
  BUILDER_CONFIG_NAMES_TO_TEST = [
      _small(n) for n in ('foa', 'mic', 'foa_video', 'stereo_video')
  ]
  SPLITS = {'train': 3, 'test': 2}
  # No dummy_data/: nothing is downloaded or read. DatasetBuilderTestCase
  # still mocks the download dir with this folder; the builder never uses it.
  EXAMPLE_DIR = pathlib.Path(synthetic_seld_dataset_builder.__file__).parent
  # The builder opens no files, but asks `os` how many CPUs it may use,
  # which this mock would replace.
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

  def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase.test_session is a context manager, not a test: without
  # this pytest collects it and reports it as skipped.
  test_session.__test__ = False

  def setUp(self):
    super().setUp()
    # Five 6-s scenes render faster here than worker processes start; the
    # worker path is compared with this one in
    # test_python_build_is_deterministic_and_feeds_the_pipeline.
    self.enter_context(mock.patch.object(Builder, 'NUM_WORKERS', 1))

  def test_default_size(self):
    cfg = Builder.builder_configs['foa'].synth_config()
    self.assertEqual((cfg.num_train, cfg.num_test), (136, 16))
    self.assertEqual(cfg.duration, 60.0)
    self.assertEqual(cfg.formats, ('foa',))
    large = Builder.builder_configs['foa_large'].synth_config()
    self.assertEqual((large.num_train, large.num_test), (400, 40))

  def test_records_are_the_rendered_scenes(self):
    """Every field of every foa_video record against `render.render_job`."""
    config = _small('foa_video')
    builder = self._make_builder(config=config)
    builder.download_and_prepare()
    synth = config.synth_config()
    jobs = {f'{j.subdir}/{j.name}': j for j in render.scene_plan(synth)}
    meta = builder.info.metadata
    self.assertEqual(meta['class_names'], list(events.STARSS_CLASSES))
    self.assertEqual(meta['label_rate'], 10.0)
    self.assertEqual(meta['metadata_format'], 'starss23')
    self.assertEqual(meta['synth_config']['seed'], 0)
    seen = []
    for split in self.SPLITS:
      for ex in tfds.as_numpy(builder.as_dataset(split=split)):
        rid = records.as_text(ex['id'])
        seen.append(rid)
        job = jobs[rid]
        self.assertEqual(job.split, split)
        audio, table = render.render_job(synth, job)
        np.testing.assert_array_equal(ex['audio'], audio['foa'])
        self.assertEqual(ex['audio'].shape, (6 * 24000, 4))
        self.assertEqual(ex['sample_rate'], 24000)
        self.assertEqual(ex['num_frames'], 60)
        self.assertTrue(records.events_from_example(ex).equals(table))
        self.assertGreater(len(table), 0)
        frames = video.render_frames(table, 60, 128, 64)
        # JPEG on disk: close to the drawn frames, not equal.
        self.assertEqual(ex['video'].shape, frames.shape)
        error = np.abs(ex['video'].astype(float) - frames).mean()
        self.assertLess(error, 4.0)
        prov = ex['provenance']
        self.assertEqual(records.as_text(prov['dataset']), 'synthetic_seld')
        self.assertEqual(records.as_text(prov['format']), 'foa')
        self.assertEqual(records.as_text(prov['split_folder']), job.subdir)
        self.assertEqual(records.as_text(prov['pcm_subtype']), 'PCM_16')
        self.assertEqual(prov['fold'], 1 if split == 'train' else 2)
        self.assertEqual(prov['room'], job.room)
        self.assertTrue(prov['labeled'])
    self.assertCountEqual(seen, jobs)
    self.assertIn('dev-train-synth/fold1_room1_mix001', seen)
    self.assertIn('dev-test-synth/fold2_room4_mix002', seen)
    # The same scenes as `python -m seld_jax.synth` writes (both formats).
    both = dataclasses.replace(synth, formats=('foa', 'mic'))
    audio, _ = render.render_job(both, jobs[seen[0]])
    ex = next(iter(tfds.as_numpy(builder.as_dataset(split='train'))))
    self.assertEqual(records.as_text(ex['id']), seen[0])
    np.testing.assert_array_equal(ex['audio'], audio['foa'])

  def test_stereo_view_records_are_the_converted_scenes(self):
    """stereo_video: each FOA scene seen from its own viewing azimuth."""
    config = _small('stereo_video')
    builder = self._make_builder(config=config)
    builder.download_and_prepare()
    self.assertEqual(builder.info.metadata['metadata_format'], 'dcase2025')
    self.assertEqual(builder.info.metadata['audio_format'], 'stereo')
    synth = config.synth_config()
    jobs = {f'{j.subdir}/{j.name}': j for j in render.scene_plan(synth)}
    yaws, onscreen = set(), []
    for ex in tfds.as_numpy(builder.as_dataset(split='train')):
      job = jobs[records.as_text(ex['id'])]
      yaw = config.view_yaw(job)
      yaws.add(round(yaw, 6))
      audio, table = render.render_job(synth, job)
      foa = audio['foa'].astype(np.float64)
      stereo = stereo_view.mid_side_stereo(stereo_view.rotate_foa(foa, yaw))
      self.assertEqual(ex['audio'].shape, (6 * 24000, 2))
      np.testing.assert_allclose(ex['audio'], stereo, atol=0.5 + 1e-9)
      labels = records.events_from_example(ex)
      self.assertTrue(
          labels.equals(stereo_view.view_labels(table, yaw, 100.0, config.vfov))
      )
      self.assertTrue(np.all(np.abs(labels.azimuth) <= 90.0))
      np.testing.assert_array_equal(labels.elevation, 0.0)
      onscreen.extend(labels.onscreen)
      self.assertEqual(ex['video'].shape, (60, 72, 128, 3))
      self.assertEqual(records.as_text(ex['provenance']['format']), 'stereo')
    # Scenes face different ways; some events are on screen, some not.
    self.assertLen(yaws, 3)
    self.assertEqual(set(onscreen), {0, 1})

  def test_stereo_clips_are_cut_views_of_the_scenes(self):
    """clip_seconds: each clip its own example, seen from its own azimuth."""
    config = _small('stereo_video_clips', clip_seconds=3.0)
    self.assertEqual(config.clip_frames, 30)
    builder = self._make_builder(config=config)
    builder.download_and_prepare()
    synth = config.synth_config()
    jobs = {f'{j.subdir}/{j.name}': j for j in render.scene_plan(synth)}
    counts = {'train': 0, 'test': 0}
    yaws = set()
    for split in counts:
      for ex in tfds.as_numpy(builder.as_dataset(split=split)):
        counts[split] += 1
        rid = records.as_text(ex['id'])
        scene, clip = rid.rsplit('_clip', 1)
        k = int(clip)
        job = jobs[scene]
        yaw = config.view_yaw(job, k)
        self.assertNotEqual(yaw, config.view_yaw(job, 1 - k))
        yaws.add(round(yaw, 6))
        audio, table = render.render_job(synth, job)
        foa = audio['foa'][k * 72000 : (k + 1) * 72000].astype(np.float64)
        stereo = stereo_view.mid_side_stereo(stereo_view.rotate_foa(foa, yaw))
        self.assertEqual(ex['audio'].shape, (3 * 24000, 2))
        np.testing.assert_allclose(ex['audio'], stereo, atol=0.5 + 1e-9)
        self.assertEqual(ex['num_frames'], 30)
        rows = table.select(
            (table.frame >= 30 * k) & (table.frame < 30 * k + 30)
        )
        rows = rows.replace(frame=rows.frame - 30 * k)
        labels = records.events_from_example(ex)
        self.assertTrue(
            labels.equals(
                stereo_view.view_labels(rows, yaw, 100.0, config.vfov)
            )
        )
        self.assertTrue(np.all((labels.frame >= 0) & (labels.frame < 30)))
        # The camera's view of this clip's 360-degree frames (JPEG: close).
        full = video.render_frames(table, 60, 360, 180)[30 * k : 30 * k + 30]
        frames = stereo_view.perspective_frames(full, yaw, 100.0, 128, 72)
        self.assertEqual(ex['video'].shape, (30, 72, 128, 3))
        error = np.abs(ex['video'].astype(float) - frames).mean()
        self.assertLess(error, 4.0)
        self.assertEqual(records.as_text(ex['provenance']['format']), 'stereo')
    # Two clips per 6-s scene; every clip faces its own way.
    self.assertEqual(counts, {'train': 6, 'test': 4})
    self.assertLen(yaws, 10)

  def test_clip_seconds_must_cut_whole_frames_of_the_scene(self):
    base = Builder.builder_configs['stereo_video_clips']
    self.assertEqual(base.clip_frames, 50)
    for bad in (0.0, 0.25, 7.0):
      with self.assertRaisesRegex(ValueError, 'clip_seconds'):
        dataclasses.replace(base, clip_seconds=bad)
    with self.assertRaisesRegex(ValueError, 'stereo_view=True'):
      dataclasses.replace(Builder.builder_configs['foa'], clip_seconds=5.0)

  def test_python_build_is_deterministic_and_feeds_the_pipeline(self):
    """tfds.builder(...).download_and_prepare(), as datasets.ensure_built."""
    config = _small('foa')
    dirs = []
    for workers in (2, 1):
      data_dir = pathlib.Path(self.tmp_dir) / f'workers{workers}'
      with mock.patch.object(Builder, 'NUM_WORKERS', workers):
        tfds.builder(
            'synthetic_seld',
            config=config,
            data_dir=data_dir,
            file_format='array_record',
        ).download_and_prepare()
      dirs.append(str(data_dir))
    for split, count in self.SPLITS.items():
      a, b = (
          tfds.data_source('synthetic_seld/foa_small', split=split, data_dir=d)
          for d in dirs
      )
      self.assertLen(a, count)
      for i in range(count):
        self.assertEqual(
            records.as_text(a[i]['id']), records.as_text(b[i]['id'])
        )
        np.testing.assert_array_equal(a[i]['audio'], b[i]['audio'])
        for name in records.EVENT_DTYPES:
          np.testing.assert_array_equal(
              a[i]['events'][name], b[i]['events'][name]
          )

    shard = input_pipeline.open_shard(
        'synthetic_seld/foa_small', 'train', dirs[0]
    )
    self.assertEqual(shard.class_names[2], 'clapping')
    self.assertEqual((shard.sample_rate, shard.label_rate), (24000, 10.0))
    pipeline_config = ml_collections.ConfigDict({
        'dataset': 'synthetic_seld/foa_small',
        'data_dir': dirs[0],
        'train_split': 'train',
        'window_seconds': 5.0,
        'batch_size': 4,
        'target': 'multi_accdoa',
        'num_classes': 13,
        'seed': 0,
    })
    batch = next(iter(input_pipeline.create_train_dataset(pipeline_config)))
    self.assertEqual(batch['audio'].shape, (4, 4, 24000 * 5))
    self.assertEqual(batch['audio'].dtype, np.float32)
    self.assertEqual(batch['target'].shape, (4, 10 * 5, 6, 4, 13))
    self.assertGreater(np.abs(batch['target']).sum(), 0)
    np.testing.assert_array_equal(batch['mask'], 1.0)


if __name__ == '__main__':
  tfds.testing.test_main()

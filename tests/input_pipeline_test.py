"""Tests for seld_jax.input_pipeline on the starss23 dummy data.

The starss23 builder's `dummy_data/` (3 train, 2 test, 1 eval recordings of
0.6-1.2 s) is built once into a temporary data dir as ArrayRecord, and read
back through `tfds.data_source` and grain. Windows are 0.5 s (5 label
frames) so that recordings hold several.
"""

import io
import os
import pathlib
import subprocess
import sys
import textwrap

import grain
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorflow_datasets as tfds

from data_builders.starss23 import starss23_dataset_builder
from seld_jax import features
from seld_jax import input_pipeline
from seld_jax import records

REPO = pathlib.Path(__file__).resolve().parents[1]
DUMMY = pathlib.Path(starss23_dataset_builder.__file__).parent / 'dummy_data'


def _prepare(data_dir, config):
  builder = starss23_dataset_builder.Builder(
      data_dir=data_dir, config=config, file_format='array_record'
  )
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=DUMMY)
  )


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('tfds')
  _prepare(path, 'foa')
  return str(path)


def _config(data_dir, **overrides):
  config = ml_collections.ConfigDict({
      'dataset': 'starss23/foa',
      'data_dir': data_dir,
      'train_split': 'train',
      'eval_split': 'test',
      'window_seconds': 0.5,
      'eval_hop_seconds': 0.3,
      'batch_size': 4,
      'eval_batch_size': 4,
      'target': 'multi_accdoa',
      'num_classes': 13,
      'seed': 7,
      'sampling': 'time',
      'windows_per_read': 1,
      'num_workers': 0,
  })
  config.update(overrides)
  return config


def _source(data_dir, split='train'):
  return tfds.data_source('starss23/foa', split=split, data_dir=data_dir)


def _by_global_index(data_dir, split):
  src = _source(data_dir, split)
  return {i: src[i] for i in range(len(src))}


def _expected_window(example, start, t, target, num_classes=13):
  """The window as computed directly from a whole record."""
  hop = 2400
  audio = records.audio_from_example(example)
  window = np.zeros((4, t * hop), np.float32)
  piece = audio[:, start * hop : (start + t) * hop]
  window[:, : piece.shape[1]] = piece
  table = records.events_from_example(example)
  rows = (table.frame >= start) & (table.frame < start + t)
  shifted = table.select(rows).replace(frame=table.frame[rows] - start)
  return window, input_pipeline.make_target(shifted, t, target, num_classes)


# Shards
# -----------------------------------------------------------------------------


def test_open_shard_indexes_the_split(data_dir):
  shard = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
  assert len(shard.recordings) == 3
  assert shard.sample_rate == 24000 and shard.label_rate == 10.0
  assert shard.samples_per_frame == 2400 and shard.num_channels == 4
  assert shard.class_names[2] == 'clapping'
  src = _source(data_dir)
  for r in shard.recordings:
    ex = src[r.index]
    assert r.id == records.as_text(ex['id'])
    assert r.num_frames == ex['num_frames']
    assert r.num_samples == ex['audio'].shape[0]
    assert r.global_index == r.index


def test_process_shards_partition_the_split(data_dir):
  ids = []
  for p in range(2):
    shard = input_pipeline.open_shard(
        'starss23/foa', 'train', data_dir, process_index=p, process_count=2
    )
    ids += [(r.global_index, r.id) for r in shard.recordings]
  full = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
  assert sorted(ids) == sorted((r.global_index, r.id) for r in full.recordings)


def test_more_processes_than_recordings(data_dir):
  shards = [
      input_pipeline.open_shard(
          'starss23/foa', 'train', data_dir, process_index=p, process_count=4
      )
      for p in range(4)
  ]
  assert [len(s.recordings) for s in shards] == [1, 1, 1, 0]
  assert [s.offset for s in shards] == [0, 1, 2, 3]
  empty = shards[3]
  assert empty.sample_rate == 24000 and empty.num_channels == 4
  # Evaluation pads an empty shard; training refuses it.
  data = input_pipeline.create_eval_dataset(_config(data_dir), shard=empty)
  (batch,) = list(data)
  assert np.all(batch['record_index'] == -1) and not np.any(batch['mask'])
  with pytest.raises(ValueError, match='no training recordings'):
    input_pipeline.create_train_dataset(_config(data_dir), shard=empty)


# Training
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'target, shape',
    [
        ('multi_accdoa', (4, 5, 6, 4, 13)),
        ('multi_accdoa_distance', (4, 5, 6, 5, 13)),
        ('multi_accdoa_stereo', (4, 5, 6, 4, 13)),
        ('single_accdoa', (4, 5, 39)),
        ('sed_doa', {'sed': (4, 5, 13), 'doa': (4, 5, 39)}),
    ],
)
def test_train_batches_match_the_records(data_dir, target, shape):
  ds = input_pipeline.create_train_dataset(_config(data_dir, target=target))
  it = iter(ds)
  records_by_index = _by_global_index(data_dir, 'train')
  for _ in range(3):
    batch = next(it)
    assert batch['audio'].shape == (4, 4, 12000)
    assert batch['audio'].dtype == np.float32
    got_shape = jax.tree.map(lambda x: x.shape, batch['target'])
    assert got_shape == shape
    for b in range(4):
      ex = records_by_index[int(batch['record_index'][b])]
      start = int(batch['start_frame'][b])
      assert 0 <= start <= max(0, ex['num_frames'] - 5)
      audio, tgt = _expected_window(ex, start, 5, target)
      np.testing.assert_array_equal(batch['audio'][b], audio)
      jax.tree.map(
          lambda x, y: np.testing.assert_array_equal(x[b], y),
          batch['target'],
          tgt,
      )
      valid = min(5, int(ex['num_frames']) - start)
      np.testing.assert_array_equal(batch['mask'][b], np.arange(5) < valid)


def test_train_stream_is_deterministic_and_seeded(data_dir):
  first = lambda cfg: [
      next(it)
      for it in [iter(input_pipeline.create_train_dataset(cfg))]
      for _ in range(5)
  ]
  a = first(_config(data_dir))
  b = first(_config(data_dir))
  c = first(_config(data_dir, seed=8))
  for x, y in zip(a, b):
    jax.tree.map(np.testing.assert_array_equal, x, y)
  picks = lambda batches: [
      (int(r), int(s))
      for bt in batches
      for r, s in zip(bt['record_index'], bt['start_frame'])
  ]
  assert picks(a) != picks(c)
  # Not the same batch over and over: the windows vary.
  assert len(set(picks(a))) > 5


def test_sampling_policies(data_dir):
  shard = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
  frames = {r.global_index: r.num_frames for r in shard.recordings}
  positions = {k: max(1, n - 5 + 1) for k, n in frames.items()}

  def counts(sampling):
    ds = input_pipeline.create_train_dataset(
        _config(data_dir, sampling=sampling, batch_size=20), shard=shard
    )
    it = iter(ds)
    picks = np.concatenate([next(it)['record_index'] for _ in range(60)])
    return {k: np.mean(picks == k) for k in frames}

  uniform = counts('recording')
  for k in frames:
    assert abs(uniform[k] - 1 / 3) < 0.05, uniform
  weighted = counts('time')
  total = sum(positions.values())
  for k in frames:
    assert abs(weighted[k] - positions[k] / total) < 0.05, (weighted, positions)
  # The dummy recordings differ in length, so the two policies differ.
  assert len(set(positions.values())) > 1


def test_windows_per_read_groups_windows_of_one_recording(data_dir):
  ds = input_pipeline.create_train_dataset(
      _config(data_dir, windows_per_read=4, batch_size=8)
  )
  it = iter(ds)
  for _ in range(3):
    rec = next(it)['record_index'].reshape(2, 4)
    assert np.all(rec == rec[:, :1])


def test_global_arrays_and_window_length_errors(data_dir):
  mesh = jax.make_mesh((1,), ('data',))
  sharding = jax.sharding.NamedSharding(mesh, jax.P('data'))
  ds = input_pipeline.create_train_dataset(_config(data_dir), sharding)
  batch = next(iter(ds))
  assert isinstance(batch['audio'], jax.Array)
  assert batch['audio'].sharding == sharding
  with pytest.raises(ValueError, match='window=0.55 s is not'):
    input_pipeline.create_train_dataset(_config(data_dir, window_seconds=0.55))


@pytest.mark.parametrize('num_workers', [0, 1])
def test_checkpointed_iterator_resumes_to_the_same_batch(
    data_dir, tmp_path, num_workers
):
  mesh = jax.make_mesh((1,), ('data',))
  sharding = jax.sharding.NamedSharding(mesh, jax.P('data'))
  config = _config(data_dir, num_workers=num_workers, sampling='recording')
  it = iter(input_pipeline.create_train_dataset(config, sharding))
  k = 3
  for _ in range(k):
    next(it)
  manager = ocp.CheckpointManager(tmp_path / 'ckpt')
  manager.save(
      k,
      args=ocp.args.Composite(
          state=ocp.args.StandardSave({'step': np.array(k, np.int32)}),
          data=grain.checkpoint.CheckpointSave(it),
      ),
  )
  manager.wait_until_finished()
  expected = [next(it) for _ in range(2)]

  fresh = iter(input_pipeline.create_train_dataset(config, sharding))
  first = next(fresh)  # Advance it elsewhere: restore must reposition it.
  restored = ocp.CheckpointManager(tmp_path / 'ckpt').restore(
      k,
      args=ocp.args.Composite(
          state=ocp.args.StandardRestore({'step': np.array(0, np.int32)}),
          data=grain.checkpoint.CheckpointRestore(fresh),
      ),
  )
  assert int(restored.state['step']) == k
  for want in expected:
    got = next(fresh)
    jax.tree.map(
        lambda x, y: np.testing.assert_array_equal(np.asarray(x), y), got, want
    )
  assert not np.array_equal(first['audio'], expected[0]['audio'])


# Evaluation
# -----------------------------------------------------------------------------


def test_window_starts():
  assert input_pipeline.window_starts(100, 50, 25) == [0, 25, 50]
  assert input_pipeline.window_starts(30, 50, 25) == [0]
  assert input_pipeline.window_starts(12, 5, 3) == [0, 3, 6, 9]
  assert input_pipeline.window_starts(5, 5, 5) == [0]


@pytest.mark.parametrize('target', ['multi_accdoa_distance', 'sed_doa'])
def test_eval_windows_stitch_back_to_whole_recordings(data_dir, target):
  config = _config(data_dir, target=target)
  data = input_pipeline.create_eval_dataset(config)
  batches = list(data)
  assert len(batches) == data.num_batches
  cat = jax.tree.map(lambda *x: np.concatenate(x), *batches)
  np.testing.assert_array_equal(cat['record_index'], data.windows[:, 0])
  np.testing.assert_array_equal(cat['start_frame'], data.windows[:, 1])
  pad = cat['record_index'] < 0
  assert np.all(cat['mask'][pad] == 0) and np.all(cat['audio'][pad] == 0)
  src = _by_global_index(data_dir, 'test')
  assert set(data.recordings) == set(src)
  for leaf_name in (['target'] if target != 'sed_doa' else ['sed', 'doa']):
    outputs = cat['target'] if target != 'sed_doa' else cat['target'][leaf_name]
    whole = input_pipeline.stitch(
        outputs,
        cat['record_index'],
        cat['start_frame'],
        cat['mask'],
        data.num_frames(),
    )
    for k, ex in src.items():
      n = int(ex['num_frames'])
      expected = input_pipeline.make_target(
          records.events_from_example(ex), n, target, 13
      )
      if target == 'sed_doa':
        expected = expected[leaf_name]
      np.testing.assert_allclose(whole[k], expected, atol=1e-6)
  # Audio stitched back is the recording itself.
  audio = np.moveaxis(cat['audio'].reshape(len(cat['audio']), 4, 5, 2400), 2, 1)
  whole = input_pipeline.stitch(
      audio,
      cat['record_index'],
      cat['start_frame'],
      cat['mask'],
      data.num_frames(),
  )
  for k, ex in src.items():
    pcm = records.audio_from_example(ex)
    flat = np.moveaxis(whole[k], 1, 0).reshape(4, -1)[:, : pcm.shape[1]]
    np.testing.assert_allclose(flat, pcm, atol=1e-7)


def test_stitch_averages_overlaps():
  outputs = np.stack([np.full((4, 2), 1.0), np.full((4, 2), 3.0)])
  mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.float32)
  out = input_pipeline.stitch(
      outputs, np.array([5, 5]), np.array([0, 2]), mask, {5: 5, 6: 3}
  )
  assert list(out) == [5]
  np.testing.assert_allclose(out[5][:, 0], [1, 1, 2, 2, 0])


@pytest.fixture(scope='module')
def video_data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('tfds_video')
  _prepare(path, 'foa_video')
  return str(path)


def _video_config(data_dir, **overrides):
  return _config(
      data_dir,
      **({'dataset': 'starss23/foa_video', 'visual': 'frames'} | overrides),
  )


def _expected_frames(example, start, t=5):
  """Frames [start, start + t) of a whole record, zero after its end."""
  frames = np.zeros((t, 180, 360, 3), np.uint8)
  piece = np.asarray(example['video'][start : start + t])
  frames[: len(piece)] = piece
  return frames


def test_train_batches_with_video_frames(video_data_dir):
  ds = input_pipeline.create_train_dataset(_video_config(video_data_dir))
  src = dict(
      enumerate(
          tfds.data_source(
              'starss23/foa_video', split='train', data_dir=video_data_dir
          )
      )
  )
  batch = next(iter(ds))
  assert batch['visual'].shape == (4, 5, 180, 360, 3)
  assert batch['visual'].dtype == np.uint8
  assert 'video' not in batch
  for b in range(4):
    ex = src[int(batch['record_index'][b])]
    s = int(batch['start_frame'][b])
    np.testing.assert_array_equal(batch['visual'][b], _expected_frames(ex, s))
    audio, _ = _expected_window(ex, s, 5, 'multi_accdoa')
    np.testing.assert_array_equal(batch['audio'][b], audio)
  assert batch['visual'].std() > 10  # real pictures, not zeros


def test_eval_batches_with_video_frames_stitch_back(video_data_dir):
  config = _video_config(video_data_dir)
  data = input_pipeline.create_eval_dataset(config)
  batches = list(data)
  cat = jax.tree.map(lambda *x: np.concatenate(x), *batches)
  assert cat['visual'].shape[1:] == (5, 180, 360, 3)
  pad = cat['record_index'] < 0
  assert pad.any() and not np.any(cat['visual'][pad])
  # Frames are aligned with the label frames: stitched back (overlaps
  # averaged) they are each recording's video, and the target is unchanged
  # by the visual input.
  flat = cat['visual'].reshape(cat['visual'].shape[:2] + (-1,))
  whole = input_pipeline.stitch(
      flat.astype(np.float32),
      cat['record_index'],
      cat['start_frame'],
      cat['mask'],
      data.num_frames(),
  )
  audio_only = jax.tree.map(
      lambda *x: np.concatenate(x),
      *input_pipeline.create_eval_dataset(
          _config(video_data_dir, dataset='starss23/foa_video')
      ),
  )
  np.testing.assert_array_equal(cat['target'], audio_only['target'])
  np.testing.assert_array_equal(cat['audio'], audio_only['audio'])
  src = tfds.data_source(
      'starss23/foa_video', split='test', data_dir=video_data_dir
  )
  assert set(whole) == set(range(len(src))) == {0, 1}
  for k in whole:
    video = np.asarray(src[k]['video'])
    n = int(src[k]['num_frames'])
    want = np.zeros((n, 180 * 360 * 3), np.float32)
    want[: len(video)] = video[:n].reshape(min(n, len(video)), -1)
    np.testing.assert_array_equal(whole[k], want)


def test_visual_mode_errors(data_dir, video_data_dir):
  with pytest.raises(ValueError, match="visual='frames' but starss23/foa has"):
    input_pipeline.create_train_dataset(_config(data_dir, visual='frames'))
  with pytest.raises(ValueError, match='visual must be one of'):
    input_pipeline.create_train_dataset(
        _video_config(video_data_dir, visual='video')
    )
  with pytest.raises(input_pipeline.VisualStoreError, match='needs config'):
    input_pipeline.create_train_dataset(_config(data_dir, visual='embeddings'))


def test_video_frames_pads_after_the_video():
  import PIL.Image  # pylint: disable=g-import-not-at-top

  frames = np.random.default_rng(0).integers(0, 255, (3, 8, 16, 3), np.uint8)
  encoded = []
  for f in frames:
    buf = io.BytesIO()
    PIL.Image.fromarray(f).save(buf, format='PNG')  # lossless
    encoded.append(buf.getvalue())
  out = input_pipeline.video_frames(encoded, 1, 4)
  assert out.shape == (4, 8, 16, 3)
  np.testing.assert_array_equal(out[:2], frames[1:])
  assert not out[2:].any()
  buf = np.full((2, 8, 16, 3), 7, np.uint8)
  input_pipeline.video_frames(encoded, 2, 2, out=buf)
  np.testing.assert_array_equal(buf[0], frames[2])
  assert not buf[1].any()


# The visual embedding store
# -----------------------------------------------------------------------------


def _rows(recording_id, num_frames, shape=(3, 2)):
  """Distinct, recognisable float16 rows of one recording."""
  seed = sum(map(ord, recording_id))
  base = np.arange(num_frames * np.prod(shape)).reshape((num_frames,) + shape)
  return (base / 7.0 + seed % 97).astype(np.float16)


def _write_store(root, data_dir, splits=('train', 'test'), **meta):
  recordings = {}
  for split in splits:
    for ex in _source(data_dir, split):
      rid, n = records.as_text(ex['id']), int(ex['num_frames'])
      input_pipeline.write_store_rows(root, rid, _rows(rid, n))
      recordings[rid] = n
  meta = {
      'format': input_pipeline.STORE_FORMAT,
      'version': input_pipeline.STORE_VERSION,
      'dataset': 'starss23/foa',
      'label_rate': 10.0,
      'frame_shape': [180, 360, 3],
      'frontend': {'name': 'test', 'pooling': 'mean'},
      'weights': None,
      'shape': [3, 2],
      'dtype': 'float16',
      'recordings': recordings,
  } | meta
  input_pipeline.write_store_meta(root, meta)
  return recordings


def _store_config(data_dir, root, **overrides):
  config = _config(
      data_dir, visual='embeddings', visual_embeddings=str(root), **overrides
  )
  config.model_kwargs = {'visual_frontend': {'name': 'test', 'pooling': 'mean'}}
  return config


def test_store_file_layout_and_ids(tmp_path):
  assert input_pipeline.store_file(tmp_path, 'dev-test-sony/mix1') == str(
      tmp_path / 'dev-test-sony' / 'mix1.npy'
  )
  for bad in ('../x', 'a//b', '/abs', 'a/./b', ''):
    with pytest.raises(input_pipeline.VisualStoreError, match='cannot name'):
      input_pipeline.store_file(tmp_path, bad)


def test_embeddings_in_train_and_eval_batches(data_dir, tmp_path):
  root = tmp_path / 'store'
  _write_store(root, data_dir)
  # No temporary files are left next to the written ones.
  assert not [p for p in root.rglob('*') if p.name.startswith('.')]
  config = _store_config(data_dir, root)
  train_src = _by_global_index(data_dir, 'train')
  batch = next(iter(input_pipeline.create_train_dataset(config)))
  assert batch['visual'].shape == (4, 5, 3, 2)
  assert batch['visual'].dtype == np.float32
  for b in range(4):
    ex = train_src[int(batch['record_index'][b])]
    rid, n = records.as_text(ex['id']), int(ex['num_frames'])
    s = int(batch['start_frame'][b])
    want = np.zeros((5, 3, 2), np.float32)
    piece = _rows(rid, n)[s : s + 5]
    want[: len(piece)] = piece
    np.testing.assert_array_equal(batch['visual'][b], want)

  data = input_pipeline.create_eval_dataset(config)
  cat = jax.tree.map(lambda *x: np.concatenate(x), *list(data))
  assert not np.any(cat['visual'][cat['record_index'] < 0])
  whole = input_pipeline.stitch(
      cat['visual'].reshape(len(cat['visual']), 5, 6),
      cat['record_index'],
      cat['start_frame'],
      cat['mask'],
      data.num_frames(),
  )
  # The windows' rows stitch back to the store's rows of each recording;
  # windows running past the end are zero there (and masked).
  src = _by_global_index(data_dir, 'test')
  for k, ex in src.items():
    rid, n = records.as_text(ex['id']), int(ex['num_frames'])
    np.testing.assert_array_equal(
        whole[k], _rows(rid, n).reshape(n, 6).astype(np.float32)
    )
  last = cat['start_frame'] + 5 > np.array(
      [src[int(r)]['num_frames'] if r >= 0 else 0 for r in cat['record_index']]
  )
  tail = cat['visual'][last & (cat['record_index'] >= 0)]
  assert tail.size and not tail[:, -1].any()


def _expect_store_error(config, match):
  with pytest.raises(input_pipeline.VisualStoreError, match=match):
    input_pipeline.create_train_dataset(config)


def test_store_errors_name_the_file(data_dir, tmp_path):
  root = tmp_path / 'store'
  meta_path = str(root / 'meta.json')
  _expect_store_error(_store_config(data_dir, root), f'{meta_path} not found')
  recordings = _write_store(root, data_dir, splits=('test',))
  # Only the test split extracted: the training split is missing.
  _expect_store_error(_store_config(data_dir, root), 'has no recording')
  # Mismatches with the run: dataset, front end, label rate.
  recordings = _write_store(root, data_dir)
  config = _store_config(data_dir, root)
  config.model_kwargs.visual_frontend.name = 'resnet50'
  _expect_store_error(config, 'extracted with visual_frontend')
  _write_store(root, data_dir, dataset='starss23/mic')
  _expect_store_error(_store_config(data_dir, root), "holds 'starss23/mic'")
  _write_store(root, data_dir, label_rate=50.0)
  _expect_store_error(_store_config(data_dir, root), 'label rate is 50.0')
  _write_store(root, data_dir, format='something else')
  _expect_store_error(_store_config(data_dir, root), 'is not a seld_jax')
  (root / 'meta.json').write_text('{"format": ')
  _expect_store_error(_store_config(data_dir, root), 'unreadable')
  # A wrong frame count in meta.json.
  rid = next(iter(recordings))
  _write_store(
      root, data_dir, recordings=recordings | {rid: recordings[rid] + 1}
  )
  _expect_store_error(_store_config(data_dir, root), 'rows, the dataset')
  # Row files: missing, of the wrong length, truncated.
  _write_store(root, data_dir)
  path = input_pipeline.store_file(root, rid)
  os.unlink(path)
  _expect_store_error(_store_config(data_dir, root), f'{path} not found')
  input_pipeline.write_store_rows(root, rid, _rows(rid, recordings[rid] - 1))
  _expect_store_error(_store_config(data_dir, root), f'{path}: float16')
  input_pipeline.write_store_rows(
      root, rid, _rows(rid, recordings[rid]).astype(np.float32)
  )
  _expect_store_error(_store_config(data_dir, root), 'need float16')
  input_pipeline.write_store_rows(root, rid, _rows(rid, recordings[rid]))
  data = pathlib.Path(path).read_bytes()
  pathlib.Path(path).write_bytes(data[: len(data) - 10])
  _expect_store_error(_store_config(data_dir, root), f'{path}: unreadable')


# Normalisation statistics
# -----------------------------------------------------------------------------


def test_normalization_stats_over_the_training_split(data_dir, tmp_path):
  config = _config(data_dir)
  params = {'num_mels': 16}
  stats = input_pipeline.compute_normalization_stats(
      config, 'foa_logmel_iv', params, batch_size=3
  )
  # Reference: every training window's features, padding frames dropped.
  frames = []
  for ex in _source(data_dir).__iter__():
    audio = records.audio_from_example(ex)
    n = audio.shape[1]
    for s in input_pipeline.window_starts(int(ex['num_frames']), 5, 5):
      piece = audio[:, s * 2400 : (s + 5) * 2400]
      padded = np.zeros((1, 4, 12000), np.float32)
      padded[0, :, : piece.shape[1]] = piece
      f = np.asarray(
          features.compute('foa_logmel_iv', padded, 24000, **params)
      )[0]
      valid = min(12000, n - s * 2400) // 480
      frames.append(f[:, :valid].astype(np.float64))
  ref = np.concatenate(frames, axis=1)  # [C, frames, F]
  assert stats.count == ref.shape[1]
  assert stats.mean.shape == (7, 16)
  np.testing.assert_allclose(stats.mean, ref.mean(axis=1), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats.std, ref.std(axis=1), rtol=1e-4, atol=1e-6)
  assert stats.metadata['split'] == 'train'

  path = tmp_path / 'run' / 'norm_stats.npz'
  input_pipeline.save_normalization_stats(path, stats)
  back = input_pipeline.load_normalization_stats(path)
  np.testing.assert_array_equal(back.mean, stats.mean)
  np.testing.assert_array_equal(back.std, stats.std)
  assert back.count == stats.count and back.metadata == stats.metadata
  x = np.ones((2, 7, 3, 16), np.float32)
  np.testing.assert_allclose(
      input_pipeline.normalize(x, back),
      np.broadcast_to(
          (1 - stats.mean[None, :, None]) / stats.std[None, :, None], x.shape
      ),
  )


@pytest.mark.parametrize(
    'train_split, eval_split',
    [('train+test', 'test'), ('test[:50%]', 'test'), ('train', 'train')],
)
def test_normalization_stats_refuse_the_evaluation_split(
    data_dir, train_split, eval_split
):
  config = _config(data_dir, train_split=train_split, eval_split=eval_split)
  with pytest.raises(ValueError, match='must not see the evaluation data'):
    input_pipeline.compute_normalization_stats(config, 'log_mel')


# 8 forced CPU devices (a subprocess: this process already has 1 device)
# -----------------------------------------------------------------------------

_SHARDED_SCRIPT = textwrap.dedent("""
    import sys
    import jax
    import ml_collections
    import numpy as np
    from seld_jax import input_pipeline

    assert jax.device_count() == 8, jax.devices()
    data_dir = sys.argv[1]
    config = ml_collections.ConfigDict(dict(
        dataset='starss23/foa', data_dir=data_dir, train_split='train',
        eval_split='test', window_seconds=0.5, eval_hop_seconds=0.3,
        batch_size=8, target='multi_accdoa', num_classes=13, seed=3))
    mesh = jax.make_mesh((8,), ('data',))
    sharding = jax.sharding.NamedSharding(mesh, jax.P('data'))
    local = iter(input_pipeline.create_train_dataset(config))
    glob = iter(input_pipeline.create_train_dataset(config, sharding))
    for _ in range(2):
      want, got = next(local), next(glob)
      for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert isinstance(x, jax.Array) and x.sharding == sharding
        assert x.shape == y.shape and x.shape[0] == 8
        assert len(x.addressable_shards) == 8
        assert all(s.data.shape[0] == 1 for s in x.addressable_shards)
        np.testing.assert_array_equal(np.asarray(x), y)
        np.testing.assert_array_equal(input_pipeline.process_local_rows(x), y)
    # A jitted reduction over the sharded batch.
    total = jax.jit(lambda b: b['mask'].sum())(got)
    assert float(total) == float(want['mask'].sum())
    data = input_pipeline.create_eval_dataset(config, sharding)
    n = 0
    for batch in data:
      assert batch['audio'].sharding == sharding
      assert batch['audio'].shape == (8, 4, 12000)
      n += 1
    assert n == data.num_batches
    config.batch_size = 12  # 12 rows do not split over 8 devices
    try:
      input_pipeline.create_train_dataset(config, sharding)
      raise AssertionError('batch 12 over 8 devices was accepted')
    except ValueError:
      pass
    print('OK', n)
""")


def test_sharded_batches_on_8_cpu_devices(data_dir):
  env = dict(os.environ)
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
  env['JAX_PLATFORMS'] = 'cpu'
  env['PYTHONPATH'] = os.pathsep.join(
      [str(REPO)]
      + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
  )
  result = subprocess.run(
      [sys.executable, '-c', _SHARDED_SCRIPT, data_dir],
      env=env,
      capture_output=True,
      text=True,
      timeout=300,
      check=False,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  assert result.stdout.strip().startswith('OK')


def test_stereo_av_target_keeps_the_onscreen_element():
  from seld_jax import evaluate  # pylint: disable=g-import-not-at-top
  from seld_jax import events as events_lib  # pylint: disable=g-import-not-at-top

  table = events_lib.EventTable.from_columns(
      np.array([0, 1, 1]),
      np.array([2, 2, 5]),
      np.array([30.0, -45.0, 60.0]),
      source=np.array([0, 0, 1]),
      distance=np.array([1.5, 2.0, 3.0]),
      onscreen=np.array([1, 0, 1]),
  )
  tgt = input_pipeline.make_target(table, 3, 'multi_accdoa_stereo_av', 13)
  assert tgt.shape == (3, 6, 5, 13)
  # Frame 0, class 2, single event: slot 0 holds act, cos, sin, dist, on.
  np.testing.assert_allclose(
      tgt[0, 0, :, 2],
      [1.0, np.cos(np.pi / 6), np.sin(np.pi / 6), 1.5, 1.0],
      rtol=1e-6,
  )
  assert tgt[1, 0, 4, 2] == 0.0 and tgt[1, 0, 4, 5] == 1.0
  # The decoder reads the on-screen element back (the official int() of the
  # probability: 1 only for exactly 1.0).
  out = np.zeros((3, 3, 4, 13), np.float32)
  out[1, 0, :, 5] = [np.cos(np.pi / 3), np.sin(np.pi / 3), 3.0, 1.0]
  config = ml_collections.ConfigDict(
      dict(
          target='multi_accdoa_stereo_av',
          num_classes=13,
          threshold=0.5,
          unify_degrees=15.0,
          label_rate=10.0,
      )
  )
  events = evaluate.decode_output(out.reshape(3, -1), config)
  assert list(events.frame) == [1] and list(events.class_index) == [5]
  assert list(events.onscreen) == [1]
  np.testing.assert_allclose(events.azimuth, [60.0], atol=1e-4)
  # A probability under 1.0 is written as 0, unless `onscreen_threshold`
  # is set.
  out[1, 0, 3, 5] = 0.8
  assert list(evaluate.decode_output(out.reshape(3, -1), config).onscreen) == [
      0
  ]
  config.onscreen_threshold = 0.5
  assert list(evaluate.decode_output(out.reshape(3, -1), config).onscreen) == [
      1
  ]

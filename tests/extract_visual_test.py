"""Tests for seld_jax.extract_visual: the embedding store, written and read.

A tiny synthetic_seld 'foa_video' dataset (3 train + 2 test scenes of 3 s,
64x128 frames, 30 label frames each) is built once; a small CNN front end
embeds its frames.
"""

import json
import os
import pathlib
import subprocess
import sys
from unittest import mock

from flax import nnx
import jax
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from seld_jax import extract_visual
from seld_jax import input_pipeline
from seld_jax import records
from seld_jax import train_step
from seld_jax.models import visual

REPO = pathlib.Path(__file__).resolve().parents[1]
DATASET = 'synthetic_seld/foa_video_tiny'
FRONTEND = {'name': 'small_cnn', 'pooling': 'avg', 'channels': (4, 8)}


@pytest.fixture(scope='module')
def data_dir(foa_video_tiny_dir):
  return foa_video_tiny_dir  # conftest: built once for the session


def _config(data_dir, **overrides):
  config = ml_collections.ConfigDict({
      'dataset': DATASET,
      'data_dir': data_dir,
      'train_split': 'train',
      'eval_split': 'test',
      'test_split': 'test',
      'window_seconds': 1.0,
      'eval_hop_seconds': 0.7,
      'batch_size': 4,
      'target': 'multi_accdoa',
      'num_classes': 13,
      'seed': 3,
      'model_kwargs': {'visual_frontend': FRONTEND},
  })
  config.update(overrides)
  return config


def _frames(data_dir, split):
  """recording id -> all its decoded frames [30, 64, 128, 3]."""
  src = tfds.data_source(DATASET, split=split, data_dir=data_dir)
  return {records.as_text(ex['id']): np.asarray(ex['video']) for ex in src}


@pytest.fixture(scope='module')
def store(data_dir, tmp_path_factory):
  out = tmp_path_factory.mktemp('store') / 'emb'
  meta = extract_visual.extract(_config(data_dir), out, batch_size=16)
  return out, meta


def test_store_layout_and_meta(store, data_dir):
  out, meta = store
  assert meta == json.loads((out / 'meta.json').read_text())
  ids = sorted(_frames(data_dir, 'train') | _frames(data_dir, 'test'))
  assert sorted(meta['recordings']) == ids and len(ids) == 5
  assert set(meta['recordings'].values()) == {30}
  assert meta['dataset'] == DATASET and meta['label_rate'] == 10.0
  assert meta['frame_shape'] == [64, 128, 3]
  assert meta['frontend'] == {
      'name': 'small_cnn',
      'pooling': 'avg',
      'channels': [4, 8],
  }
  assert meta['weights'] is None and meta['init_seed'] == 3
  assert meta['shape'] == [8] and meta['dtype'] == 'float16'
  assert meta['batch_size'] == 16
  files = sorted(out.rglob('*.npy'))
  assert [str(f.relative_to(out))[:-4] for f in files] == ids
  # 30 rows x 8 float16 values + the .npy header, per recording.
  sizes = [f.stat().st_size for f in files]
  assert all(30 * 8 * 2 < s <= 30 * 8 * 2 + 128 for s in sizes)
  assert meta['bytes'] == sum(sizes) and meta['seconds'] == 15.0
  assert meta['bytes_per_hour'] == pytest.approx(sum(sizes) / 15.0 * 3600)
  # Nothing temporary is left behind.
  assert not [p for p in out.rglob('*') if p.name.startswith('.')]


def test_rows_are_the_front_end_of_the_frames(store, data_dir):
  out, _ = store
  frontend = visual.create_frontend(
      'small_cnn', pooling='avg', channels=(4, 8), rngs=nnx.Rngs(3)
  )
  for rid, frames in _frames(data_dir, 'test').items():
    rows = np.load(input_pipeline.store_file(out, rid))
    assert rows.dtype == np.float16 and rows.shape == (30, 8)
    # All 30 frames in one chunk: the 16-frame chunks give the same rows.
    want = visual.embed_frames(frontend, frames, batch_size=30)
    np.testing.assert_allclose(rows, want, rtol=2e-3, atol=1e-3)
    assert np.abs(want).max() > 0.01 and rows.std(axis=0).max() > 0


def test_the_pipeline_reads_the_store_back(store, data_dir):
  out, _ = store
  config = _config(data_dir, visual='embeddings', visual_embeddings=str(out))
  data = input_pipeline.create_eval_dataset(config)
  cat = jax.tree.map(lambda *x: np.concatenate(x), *list(data))
  assert cat['visual'].shape[1:] == (10, 8)
  assert cat['visual'].dtype == np.float32
  whole = input_pipeline.stitch(
      cat['visual'],
      cat['record_index'],
      cat['start_frame'],
      cat['mask'],
      data.num_frames(),
  )
  src = tfds.data_source(DATASET, split='test', data_dir=data_dir)
  for k, rows in whole.items():
    rid = records.as_text(src[k]['id'])
    stored = np.load(input_pipeline.store_file(out, rid))
    np.testing.assert_array_equal(rows, stored.astype(np.float32))
  batch = next(iter(input_pipeline.create_train_dataset(config)))
  train_src = tfds.data_source(DATASET, split='train', data_dir=data_dir)
  for b in range(4):
    rid = records.as_text(train_src[int(batch['record_index'][b])]['id'])
    s = int(batch['start_frame'][b])
    stored = np.load(input_pipeline.store_file(out, rid))
    np.testing.assert_array_equal(batch['visual'][b], stored[s : s + 10])


def test_rerun_resumes_and_refuses_another_extraction(data_dir, tmp_path):
  out = tmp_path / 'emb'
  config = _config(data_dir)
  extract_visual.extract(config, out, splits=['test'], batch_size=16)
  meta = json.loads((out / 'meta.json').read_text())
  assert len(meta['recordings']) == 2
  # An interrupted run: one recording done and listed, one not listed.
  first, second = sorted(meta['recordings'])
  del meta['recordings'][second]
  (out / 'meta.json').write_text(json.dumps(meta))
  done = pathlib.Path(input_pipeline.store_file(out, first))
  os.utime(done, (1, 1))
  meta = extract_visual.extract(
      config, out, splits=['test', 'train'], batch_size=16
  )
  assert len(meta['recordings']) == 5
  assert done.stat().st_mtime == 1  # kept, not extracted again
  done.write_bytes(done.read_bytes()[:-8])  # a damaged file is redone
  extract_visual.extract(config, out, splits=['test'], batch_size=16)
  assert np.load(done).shape == (30, 8)
  # Another front end (or batch, dtype, weights) into the same store.
  other = _config(data_dir)
  other.model_kwargs.visual_frontend.channels = (4, 6)
  with pytest.raises(
      input_pipeline.VisualStoreError, match='meta.json holds another'
  ):
    extract_visual.extract(other, out, splits=['test'], batch_size=16)
  with pytest.raises(input_pipeline.VisualStoreError, match='batch_size'):
    extract_visual.extract(config, out, splits=['test'], batch_size=8)
  meta = extract_visual.extract(
      other, out, splits=['test'], batch_size=16, overwrite=True
  )
  assert meta['shape'] == [6] and len(meta['recordings']) == 2
  # The run config names the old front end: the pipeline refuses the store.
  with pytest.raises(
      input_pipeline.VisualStoreError, match='extracted with visual_frontend'
  ):
    input_pipeline.create_eval_dataset(
        _config(data_dir, visual='embeddings', visual_embeddings=str(out))
    )


def test_a_crash_leaves_no_partial_file(data_dir, tmp_path):
  out = tmp_path / 'emb'
  real_save = np.save
  calls = []

  def failing_save(f, array, *args, **kwargs):
    calls.append(array.shape)
    if len(calls) == 2:
      f.write(b'\x93NUMPY partial')
      raise OSError('disk full')
    return real_save(f, array, *args, **kwargs)

  with (
      mock.patch.object(np, 'save', failing_save),
      pytest.raises(OSError, match='disk full'),
  ):
    extract_visual.extract(
        _config(data_dir), out, splits=['test'], batch_size=16
    )
  meta = json.loads((out / 'meta.json').read_text())
  assert len(meta['recordings']) == 1
  files = [p for p in out.rglob('*') if p.is_file()]
  assert sorted(p.name for p in files) == sorted(
      ['meta.json', pathlib.Path(next(iter(meta['recordings']))).name + '.npy']
  )


def test_errors(data_dir, tmp_path):
  audio_only = _config(data_dir)
  audio_only.model_kwargs = {}
  with pytest.raises(ValueError, match='names no visual front end'):
    extract_visual.extract(audio_only, tmp_path / 'a')
  with pytest.raises(ValueError, match='dtype must be one of'):
    extract_visual.extract(_config(data_dir), tmp_path / 'a', dtype='int8')
  with pytest.raises(ValueError, match='No weights importer'):
    extract_visual.build_frontend(FRONTEND, seed=0, weights=tmp_path / 'w')


def test_command_line(data_dir, tmp_path):
  out = tmp_path / 'cli'
  env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS='cpu')
  res = subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.extract_visual',
          '--config',
          str(REPO / 'configs' / 'av_baseline_synthetic.py'),
          f'--config.dataset={DATASET}',
          f'--config.data_dir={data_dir}',
          '--config.model_kwargs.visual_frontend.channels=(4,8)',
          '--out',
          str(out),
          '--split',
          'test',
          '--batch',
          '32',
          '--dtype',
          'float32',
      ],
      env=env,
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert res.returncode == 0, res.stderr[-3000:]
  assert 'wrote' in res.stdout and 'MB per hour of video' in res.stdout
  meta = json.loads((out / 'meta.json').read_text())
  assert meta['dtype'] == 'float32' and meta['num_recordings'] == 2
  assert meta['frontend']['channels'] == [4, 8] and meta['batch_size'] == 32


def _torchvision_state_dict(path, width=8, layers=(1, 1, 1, 1)):
  """A small torchvision-named ResNet-50 `state_dict` saved with torch.

  The names and shapes are the model's own variables in torchvision's
  layout (the full network's fc classifier included, which is skipped).
  """
  import torch  # pylint: disable=g-import-not-at-top

  model = visual.ResNet50(width=width, layers=layers, rngs=nnx.Rngs(9))
  rng = np.random.default_rng(1)
  torch_names = {
      'kernel': 'weight',
      'scale': 'weight',
      'bias': 'bias',
      'mean': 'running_mean',
      'var': 'running_var',
  }
  state = {}
  for p, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(model))[0]:
    keys = train_step.param_path(p).removesuffix('.value').split('.')
    shape = np.shape(leaf)
    if keys[-1] == 'kernel':
      shape = (shape[3], shape[2], shape[0], shape[1])
    value = rng.normal(scale=0.1, size=shape)
    if keys[-1] in ('scale', 'var'):
      value = 1.0 + np.abs(value)
    name = '.'.join(keys[:-1] + [torch_names[keys[-1]]])
    state[name] = torch.tensor(value, dtype=torch.float32)
  state['fc.weight'] = torch.zeros(10, model.out_channels)
  state['fc.bias'] = torch.zeros(10)
  torch.save(state, path)
  return path


def test_weights_are_loaded_and_recorded(data_dir, tmp_path):
  weights = _torchvision_state_dict(tmp_path / 'resnet.pth')
  frontend = {
      'name': 'resnet50',
      'pooling': 'avg',
      'width': 8,
      'layers': (1, 1, 1, 1),
  }
  config = _config(data_dir, model_kwargs={'visual_frontend': frontend})
  config.model_kwargs.visual_frontend = frontend
  out = tmp_path / 'emb'
  meta = extract_visual.extract(
      config, out, splits=['test'], batch_size=32, weights=weights
  )
  assert meta['weights'] == {
      'file': str(weights),
      'sha256': extract_visual.sha256(weights),
  }
  assert meta['init_seed'] is None and meta['shape'] == [256]
  # The rows are those of the imported network.
  import torch  # pylint: disable=g-import-not-at-top

  loaded = extract_visual.build_frontend(frontend, seed=0, weights=weights)
  conv1 = torch.load(weights)['conv1.weight'].numpy()
  np.testing.assert_array_equal(
      loaded.encoder.conv1.kernel[...], conv1.transpose(2, 3, 1, 0)
  )
  rid, frames = next(iter(_frames(data_dir, 'test').items()))
  rows = np.load(input_pipeline.store_file(out, rid)).astype(np.float32)
  want = visual.embed_frames(loaded, frames, batch_size=32)
  np.testing.assert_allclose(rows, want, rtol=2e-3, atol=2e-3)
  assert np.abs(rows).max() > 0.1 and rows.std(axis=0).max() > 1e-3
  # Other weights into the same store are another extraction.
  other = _torchvision_state_dict(tmp_path / 'other.pth')
  other.write_bytes(other.read_bytes() + b'\0')
  with pytest.raises(input_pipeline.VisualStoreError, match='weights'):
    extract_visual.extract(
        config, out, splits=['test'], batch_size=32, weights=other
    )

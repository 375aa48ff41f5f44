"""Tests for the two-stage CRNN (seld_jax.models.two_stage) and its recipe."""

import os

from flax import nnx
import jax
import ml_collections
import numpy as np
import pytest

from configs import test as test_config
from configs import two_stage_dcase2019
from configs import two_stage_synthetic
from seld_jax import checkpointing
from seld_jax import sharding
from seld_jax import train
from seld_jax import train_step
from seld_jax.models import two_stage


def _tiny(stage):
  config = test_config.get_config()
  config.features = 'mic_logmel_gcc'
  config.feature_params.num_mels = 16
  config.model = 'two_stage'
  config.target = 'sed_doa'
  config.model_kwargs = ml_collections.ConfigDict(
      dict(
          channels=(4, 4, 8, 8),
          t_pool=(5, 1, 1, 1),
          f_pool=(2, 2, 2, 1),
          rnn_size=8,
          frozen=(),
      )
  )
  return two_stage_synthetic.apply_stage(config, stage)


def _batch(seed):
  rng = np.random.default_rng(seed)
  sed = np.zeros((8, 10, 13), np.float32)
  sed[:, :5, 2] = 1.0
  doa = np.zeros((8, 10, 39), np.float32)
  doa[:, :5, 13 + 2] = 1.0  # y of class 2
  return {
      'audio': rng.normal(scale=0.1, size=(8, 4, 24000)).astype(np.float32),
      'target': {'sed': sed, 'doa': doa},
      'mask': np.ones((8,), np.float32),
  }


def _flat(tree):
  return {
      train_step.param_path(p): np.asarray(v)
      for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]
      if jax.numpy.issubdtype(v.dtype, jax.numpy.floating)
  }


def test_shapes_with_time_pooling_and_upsampling():
  model = two_stage.TwoStageCRNN(
      10,
      16,
      11,
      channels=(4, 4, 8, 8),
      t_pool=(2, 2, 2, 1),
      upsample=8,
      rnn_size=8,
      rngs=nnx.Rngs(0),
  )
  out = model(np.ones((2, 10, 40, 16), np.float32))
  assert out['sed'].shape == (2, 40, 11)
  assert out['doa'].shape == (2, 40, 33)
  assert model.output_frames(40) == 40


def test_configs_output_label_frames():
  for config in (
      two_stage_synthetic.get_config('stage1'),
      two_stage_dcase2019.get_config('stage2'),
  ):
    spec = train_step.feature_spec(config, None)
    shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
    model = train_step.create_model(config, shape)
    assert model.output_frames(shape[1]) == round(
        config.window_seconds * config.label_rate
    )
  stage2 = two_stage_synthetic.get_config('stage2')
  assert stage2.init_map == (('doa_branch.conv', 'sed_branch.conv'),)
  assert stage2.freeze == ('sed_branch',)
  with pytest.raises(ValueError, match='stage'):
    two_stage_synthetic.get_config('stage3')


def test_stage2_starts_from_stage1_and_keeps_the_sed_branch(tmp_path):
  mesh = sharding.make_mesh()
  # Stage 1: train the SED branch a few steps and checkpoint it.
  config1 = _tiny('stage1')
  run1 = train_step.setup(config1, mesh)
  batch = sharding.to_global(_batch(0), mesh)
  state = run1.state
  losses = []
  for _ in range(4):
    state, metrics = run1.train_step(state, batch)
    losses.append(float(metrics['loss']))
  assert losses[-1] < losses[0]
  stage1 = {**_flat(state.params), **_flat(state.rest)}
  workdir = str(tmp_path / 'stage1')
  ckpt = checkpointing.Checkpointer(
      os.path.join(workdir, train.CHECKPOINT_DIR), asynchronous=False
  )
  ckpt.save(4, state, force=True)
  ckpt.wait_until_finished()
  ckpt.close()

  # Stage 2: initialised from stage 1.
  config2 = _tiny('stage2')
  config2.init_from = workdir
  run2 = train_step.setup(config2, mesh, init_params=train.initializer(config2))
  start = {**_flat(run2.state.params), **_flat(run2.state.rest)}
  conv = [k for k in start if k.startswith('doa_branch.conv.')]
  assert conv and any(k.endswith('.mean') for k in conv)  # BN statistics too
  for k in conv:
    src = 'sed_branch.conv.' + k[len('doa_branch.conv.') :]
    np.testing.assert_array_equal(start[k], stage1[src])
  for k, v in start.items():
    if k.startswith('sed_branch.'):
      np.testing.assert_array_equal(v, stage1[k])

  state2 = run2.state
  losses = []
  for _ in range(4):
    state2, metrics = run2.train_step(state2, batch)
    losses.append(float(metrics['loss']))
  assert losses[-1] < losses[0]
  end = {**_flat(state2.params), **_flat(state2.rest)}
  for k, v in end.items():
    if k.startswith('sed_branch.'):  # parameters and BatchNorm statistics
      np.testing.assert_array_equal(v, stage1[k], err_msg=k)
  assert not np.array_equal(
      end['doa_branch.head.kernel'], start['doa_branch.head.kernel']
  )
  assert not np.array_equal(
      end['doa_branch.conv.0.conv1.kernel'],
      start['doa_branch.conv.0.conv1.kernel'],
  )

"""Tests for seld_jax.train_step: one jitted, sharded, donated step."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import test as test_config
from seld_jax import sharding
from seld_jax import train_step

REPO = pathlib.Path(__file__).resolve().parents[1]


def _batch(rng, b=8, seconds=1.0, classes=13):
  n = int(24000 * seconds)
  t = int(10 * seconds)
  audio = rng.normal(scale=0.1, size=(b, 4, n)).astype(np.float32)
  target = np.zeros((b, t, 6, 4, classes), np.float32)
  target[:, :, 0, 0, 3] = 1.0
  target[:, :, 0, 1, 3] = 1.0  # class 3 in front
  return {'audio': audio, 'target': target, 'mask': np.ones((b,), np.float32)}


def _setup(config, mesh):
  run = train_step.setup(config, mesh)
  return run.model_def, run.state, run.train_step, run.eval_step


def test_step_trains_and_compiles_once():
  config = test_config.get_config()
  mesh = sharding.make_mesh()
  _, state, jtrain, jeval = _setup(config, mesh)
  rng = np.random.default_rng(0)
  batch = sharding.to_global(_batch(rng), mesh)
  losses = []
  for _ in range(6):
    state, metrics = jtrain(state, batch)
    losses.append(float(metrics['loss']))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0]
  assert int(state.step) == 6
  # One compilation for all steps: the jit cache holds a single entry.
  assert jtrain._cache_size() == 1  # pylint: disable=protected-access
  out = jeval(state, batch)
  assert out['output'].shape == (8, 10, 117)
  assert float(out['count']) == 80.0  # 8 windows x 10 label frames


def test_state_is_donated():
  config = test_config.get_config()
  mesh = sharding.make_mesh()
  _, state, jtrain, _ = _setup(config, mesh)
  batch = sharding.to_global(_batch(np.random.default_rng(1)), mesh)
  old_leaf = jax.tree.leaves(state.params)[0]
  state, _ = jtrain(state, batch)
  assert old_leaf.is_deleted()


def test_masked_examples_do_not_contribute():
  config = test_config.get_config()
  mesh = sharding.make_mesh()
  _, state, _, jeval = _setup(config, mesh)
  rng = np.random.default_rng(2)
  batch = _batch(rng)
  full = jeval(state, sharding.to_global(batch, mesh))
  float(full['loss_sum'])  # CPU arrays may alias the numpy inputs: finish
  batch = {k: v.copy() for k, v in batch.items()}
  batch['mask'][4:] = 0.0
  batch['audio'][4:] = 1e3  # garbage in padded slots must not matter
  half = jeval(state, sharding.to_global(batch, mesh))
  assert float(half['count']) == 40.0
  # Per-example losses of the first half are unchanged.
  first_half = dict(batch, mask=np.r_[np.ones(4), np.zeros(4)])
  ref = jeval(
      state,
      sharding.to_global(
          dict(_batch(np.random.default_rng(2)), mask=first_half['mask']), mesh
      ),
  )
  np.testing.assert_allclose(
      float(half['loss_sum']), float(ref['loss_sum']), rtol=1e-5
  )
  assert float(full['loss_sum']) > float(half['loss_sum'])


def test_optimizer_and_schedules():
  config = test_config.get_config()
  config.schedule = 'cosine'
  config.warmup_steps = 5
  config.num_train_steps = 20
  sched = train_step.learning_rate_schedule(config)
  assert float(sched(0)) == 0.0
  assert float(sched(5)) == pytest.approx(config.learning_rate)
  assert float(sched(20)) == pytest.approx(0.0, abs=1e-9)
  config.optimizer = 'adamw'
  config.grad_clip_norm = 1.0
  assert train_step.create_optimizer(config) is not None
  config.optimizer = 'sgd'
  with pytest.raises(ValueError, match='optimizer'):
    train_step.create_optimizer(config)


def test_eight_devices_match_one_device():
  """Same global batch on 8 forced CPU devices and on 1 device."""
  env = dict(os.environ)
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
  env['PYTHONPATH'] = str(REPO)
  out = subprocess.run(
      [sys.executable, str(REPO / 'tests' / 'helpers' / 'sharded_steps.py')],
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result['devices'] == 8
  np.testing.assert_allclose(
      result['losses_8'], result['losses_1'], rtol=1e-4, atol=1e-6
  )


def test_freeze_keeps_parameters_fixed():
  config = test_config.get_config()
  config.freeze = ('conv_blocks', 'gru')
  mesh = sharding.make_mesh()
  run = train_step.setup(config, mesh)
  before = jax.tree.map(np.asarray, run.state.params)
  batch = sharding.to_global(_batch(np.random.default_rng(3)), mesh)
  state, _ = run.train_step(run.state, batch)
  after = jax.tree.map(np.asarray, state.params)
  flat_before = jax.tree_util.tree_flatten_with_path(before)[0]
  flat_after = jax.tree.leaves(after)
  changed = {}
  for (path, a), b in zip(flat_before, flat_after, strict=True):
    changed[train_step.param_path(path)] = not np.array_equal(a, b)
  assert not any(
      v for k, v in changed.items() if k.startswith(('conv_blocks', 'gru'))
  )
  assert changed['head.kernel'] and changed['fnn.0.kernel']


def test_sed_doa_outputs_are_flattened():
  out = {
      'sed': np.zeros((2, 3, 4), np.float32),
      'doa': np.ones((2, 3, 12), np.float32),
  }
  flat = np.asarray(train_step.flatten_output(out))
  assert flat.shape == (2, 3, 16)
  np.testing.assert_allclose(flat[..., :4], 0.5)
  np.testing.assert_allclose(flat[..., 4:], 1.0)

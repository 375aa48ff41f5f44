"""Tests for seld_jax.train_step: one jitted, sharded, donated step."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import test as test_config
from seld_jax import models
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


def _run_steps(jtrain, state, batch, num_steps):
  """(state after `num_steps` steps on `batch`, their losses)."""
  losses = []
  for _ in range(num_steps):
    state, metrics = jtrain(state, batch)
    losses.append(float(metrics['loss']))
  return state, losses


def _setup(config, mesh):
  run = train_step.setup(config, mesh)
  return run.model_def, run.state, run.train_step, run.eval_step


def test_step_trains_and_compiles_once():
  config = test_config.get_config()
  mesh = sharding.make_mesh()
  _, state, jtrain, jeval = _setup(config, mesh)
  rng = np.random.default_rng(0)
  batch = sharding.to_global(_batch(rng), mesh)
  state, losses = _run_steps(jtrain, state, batch, 6)
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


def test_muon_dimension_numbers_of_the_crnn():
  config = test_config.get_config()
  _, state, _ = train_step.create_train_state(config, (7, 50, 64))
  specs = train_step.muon_dimension_numbers(state.params, ('head',))
  flat = {
      train_step.param_path(p): v
      for p, v in jax.tree_util.tree_flatten_with_path(
          specs,
          is_leaf=lambda x: x is None
          or isinstance(x, optax.contrib.MuonDimensionNumbers),
      )[0]
  }
  dims = optax.contrib.MuonDimensionNumbers
  # A 3x3 conv kernel is the (3 * 3 * C_in) x C_out matrix.
  assert flat['conv_blocks.0.conv.kernel'] == dims((0, 1, 2), 3)
  # Attention kernels [in, heads, head_dim] are in x (heads * head_dim).
  assert flat['attention_blocks.0.attention.query.kernel'] == dims(0, (1, 2))
  assert flat['attention_blocks.0.attention.out.kernel'] == dims((0, 1), 2)
  assert flat['fnn.0.kernel'] == dims((0,), 1)
  # Biases, BatchNorm, the GRU and the excluded output layer are Adam's.
  for name in (
      'conv_blocks.0.conv.bias',
      'conv_blocks.0.bn.scale',
      'gru.b_hh.0',
      'gru.w_ih.0',
      'head.kernel',
      'head.bias',
  ):
    assert flat[name] is None, name
  with pytest.raises(ValueError, match='muon_exclude.*hed'):
    train_step.muon_dimension_numbers(state.params, ('hed',), strict=True)


def test_muon_orthogonalises_matrix_updates_and_trains():
  config = test_config.get_config()
  config.optimizer = 'muon'
  config.schedule = 'constant'
  config.warmup_steps = 0
  config.learning_rate = 1e-3
  params = {
      'fnn': {'kernel': jnp.zeros((32, 16)), 'bias': jnp.zeros((16,))},
      'head': {'kernel': jnp.zeros((16, 4))},
  }
  tx = train_step.create_optimizer(config, params)
  grads = jax.tree.map(
      lambda x: jax.random.normal(jax.random.key(x.size), x.shape), params
  )
  updates, _ = tx.update(grads, tx.init(params), params)
  w = np.asarray(updates['fnn']['kernel'])
  # Newton-Schulz leaves the singular values near equal (not exactly 1: the
  # quintic iteration trades accuracy for speed), scaled to RMS muon_rms * lr.
  sv = np.linalg.svd(w, compute_uv=False)
  raw = np.linalg.svd(np.asarray(grads['fnn']['kernel']), compute_uv=False)
  assert raw.max() / raw.min() > 4.0
  assert sv.max() / sv.min() < 2.0
  np.testing.assert_allclose(
      np.sqrt(np.mean(w**2)), config.muon_rms * 1e-3, rtol=0.35
  )
  # Adam (Nesterov) on the rest: the first step is a constant times
  # -sign(g).
  head = np.asarray(updates['head']['kernel'])
  np.testing.assert_array_equal(
      np.sign(head), -np.sign(np.asarray(grads['head']['kernel']))
  )
  np.testing.assert_allclose(np.abs(head), np.abs(head).flat[0], rtol=1e-5)
  assert 1e-3 <= abs(head.flat[0]) < 2e-3
  with pytest.raises(ValueError, match='muon_exclude'):
    config.muon_exclude = ('output',)
    train_step.create_optimizer(config, params)
  # The whole jitted step trains the CRNN with it.
  config = test_config.get_config()
  config.optimizer = 'muon'
  mesh = sharding.make_mesh()
  _, state, jtrain, _ = _setup(config, mesh)
  batch = sharding.to_global(_batch(np.random.default_rng(1)), mesh)
  state, losses = _run_steps(jtrain, state, batch, 6)
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0]


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
  for prefix in ('', 'muon_'):  # Adam, and Muon's Newton-Schulz updates
    np.testing.assert_allclose(
        result[prefix + 'losses_8'],
        result[prefix + 'losses_1'],
        rtol=1e-4,
        atol=1e-6,
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


def test_freeze_prefix_matching_nothing_is_an_error():
  params = {'gru': {'kernel': np.zeros(2)}, 'head': {'kernel': np.zeros(2)}}
  labels = train_step.freeze_labels(params, ['gru'])
  assert labels == {'gru': {'kernel': 'frozen'}, 'head': {'kernel': 'trained'}}
  with pytest.raises(ValueError, match=r"\['conv_block'\] match no param"):
    train_step.freeze_labels(params, ['gru', 'conv_block'])


def test_sed_doa_outputs_are_flattened():
  out = {
      'sed': np.zeros((2, 3, 4), np.float32),
      'doa': np.ones((2, 3, 12), np.float32),
  }
  flat = np.asarray(train_step.flatten_output(out))
  assert flat.shape == (2, 3, 16)
  np.testing.assert_allclose(flat[..., :4], 0.5)
  np.testing.assert_allclose(flat[..., 4:], 1.0)


# Audio-visual batches
# -----------------------------------------------------------------------------


class _AVDouble(nnx.Module):
  """A test double of an audio-visual model: it records its inputs.

  Output: w_a * tanh(mean audio feature / 100) + w_v * mean visual value
  (0..1) per label frame, broadcast over the multi-ACCDOA outputs; it refuses a visual input
  that is not one row per label frame.
  """

  calls = []

  def __init__(
      self, in_channels, num_freq_bins, num_classes, *, output, dtype=None, rngs
  ):
    del in_channels, num_freq_bins, output, dtype, rngs
    self.num_outputs = 9 * num_classes
    self.w = nnx.Param(jnp.array([0.5, 0.5]))

  def __call__(self, feats, visual):
    b, _, t, _ = feats.shape
    frames = t // 5
    _AVDouble.calls.append((feats.shape, visual.shape, visual.dtype))
    assert visual.shape[:2] == (b, frames), (visual.shape, feats.shape)
    a = feats.reshape(b, feats.shape[1], frames, 5, -1).mean(axis=(1, 3, 4))
    v = visual.astype(jnp.float32).reshape(b, frames, -1).mean(axis=-1) / 255
    y = self.w[0] * jnp.tanh(a / 100) + self.w[1] * v
    return jnp.broadcast_to(y[..., None], (b, frames, self.num_outputs))


@pytest.fixture
def av_double(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'av_double', _AVDouble)
  _AVDouble.calls.clear()
  config = test_config.get_config()
  config.model = 'av_double'
  config.model_kwargs = {}
  config.visual = 'frames'
  return config


def _av_batch(rng, b=8):
  batch = _batch(rng, b)
  batch['visual'] = rng.integers(0, 255, (b, 10, 8, 16, 3), dtype=np.uint8)
  return batch


def test_visual_batches_call_the_model_with_visual(av_double):
  mesh = sharding.make_mesh()
  run = train_step.setup(av_double, mesh)
  rng = np.random.default_rng(4)
  batch = _av_batch(rng)
  state = run.state
  for _ in range(3):
    state, metrics = run.train_step(state, sharding.to_global(batch, mesh))
  assert np.isfinite(float(metrics['loss']))
  assert run.train_step._cache_size() == 1  # pylint: disable=protected-access
  # Traced once for the gradient step: features [8, 7, 50, 64], frames.
  assert _AVDouble.calls[0][1:] == ((8, 10, 8, 16, 3), jnp.uint8)
  out = run.eval_step(state, sharding.to_global(batch, mesh))
  assert out['output'].shape == (8, 10, 117)
  # The output follows the visual input: brighter frames, larger output.
  brighter = dict(batch, visual=np.full_like(batch['visual'], 255))
  darker = dict(batch, visual=np.zeros_like(batch['visual']))
  hi = run.eval_step(state, sharding.to_global(brighter, mesh))['output']
  lo = run.eval_step(state, sharding.to_global(darker, mesh))['output']
  assert float(np.min(np.asarray(hi) - np.asarray(lo))) > 0.1


def test_audio_augment_gets_and_returns_the_visual(av_double):
  seen = []

  def augment(key, audio, target, visual=None):
    del key
    seen.append(visual.shape)
    return audio, target, jnp.zeros_like(visual)  # black frames

  spec = train_step.feature_spec(av_double, None)
  model_def, state, tx = train_step.create_train_state(
      av_double, spec.shape(24000)
  )
  with_aug = jax.jit(
      train_step.make_train_step(
          model_def, tx, spec, 'multi_accdoa', audio_augment=augment
      )
  )
  plain = jax.jit(
      train_step.make_train_step(model_def, tx, spec, 'multi_accdoa')
  )
  rng = np.random.default_rng(5)
  batch = _av_batch(rng)
  black = dict(batch, visual=np.zeros_like(batch['visual']))
  _, m_aug = with_aug(state, batch)
  _, m_black = plain(state, black)
  _, m_plain = plain(state, batch)
  assert seen == [(8, 10, 8, 16, 3)]
  # The step used the augmented (black) frames, not the batch's.
  np.testing.assert_allclose(float(m_aug['loss']), float(m_black['loss']))
  assert abs(float(m_aug['loss']) - float(m_plain['loss'])) > 1e-4


def _real_av_config(visual):
  config = test_config.get_config()
  config.model = 'av_seld_crnn'
  config.visual = visual
  config.model_kwargs.update(
      num_decoder_layers=1,
      decoder_heads=2,
      decoder_ffn_dim=16,
      decoder_dropout=0.0,
  )
  config.model_kwargs.visual_frontend = {
      'name': 'small_cnn',
      'pooling': 'avg',
      'channels': (4, 8),
  }
  return config


def test_model_kwargs_follow_the_visual_mode(tmp_path):
  config = _real_av_config('frames')
  assert 'visual_size' not in train_step.model_kwargs(config)
  config.visual_frame_shape = [8, 16, 3]  # recorded by train from the data
  assert train_step.model_kwargs(config)['visual_size'] == (8, 16)
  config.model_kwargs.visual_size = (4, 4)  # the config's own wins
  assert train_step.model_kwargs(config)['visual_size'] == (4, 4)
  config = _real_av_config('embeddings')
  config.visual_embeddings = str(tmp_path)
  with pytest.raises(ValueError, match='meta.json not found'):
    train_step.model_kwargs(config)
  (tmp_path / 'meta.json').write_text(
      '{"format": "seld_jax.visual_embeddings", "version": 1, '
      '"shape": [7, 7], "dtype": "float16"}'
  )
  kwargs = train_step.model_kwargs(config)
  assert kwargs['visual_frontend'] is None and kwargs['visual_dim'] == 49
  config.visual_store = {'shape': [5], 'dtype': 'float16'}  # config.json's
  assert train_step.model_kwargs(config)['visual_dim'] == 5
  config.visual = ''
  assert train_step.model_kwargs(config)['visual_frontend']['name'] == (
      'small_cnn'
  )


_AV_SHARDED_SCRIPT = textwrap.dedent("""
    import json
    from flax import nnx
    import jax
    import jax.numpy as jnp
    import numpy as np
    from configs import test as test_config
    from seld_jax import models, sharding, train_step

    class Double(nnx.Module):
      def __init__(self, cin, bins, classes, *, output, dtype=None, rngs):
        self.w = nnx.Param(jnp.array([0.5, 0.5]))
        self.n = 9 * classes

      def __call__(self, feats, visual):
        b, t = feats.shape[0], feats.shape[2] // 5
        a = feats.reshape(b, feats.shape[1], t, 5, -1).mean(axis=(1, 3, 4))
        v = visual.astype(jnp.float32).reshape(b, t, -1).mean(-1) / 255
        y = self.w[0] * jnp.tanh(a / 100) + self.w[1] * v
        return jnp.broadcast_to(y[..., None], (b, t, self.n))

    models.MODELS['double'] = Double
    config = test_config.get_config()
    config.model, config.model_kwargs, config.visual = 'double', {}, 'frames'
    rng = np.random.default_rng(0)
    batch = {
        'audio': rng.normal(size=(8, 4, 24000)).astype(np.float32) * 0.1,
        'target': np.zeros((8, 10, 6, 4, 13), np.float32),
        'mask': np.ones(8, np.float32),
        'visual': rng.integers(0, 255, (8, 10, 8, 16, 3), dtype=np.uint8),
    }
    out = {}
    for n in (8, 1):
      mesh = sharding.make_mesh(devices=jax.devices()[:n])
      run = train_step.setup(config, mesh)
      glob = sharding.to_global(batch, mesh)
      shards = [s.data.shape for s in glob['visual'].addressable_shards]
      losses = []
      state = run.state
      for _ in range(3):
        state, m = run.train_step(state, glob)
        losses.append(float(m['loss']))
      out[n] = {'losses': losses, 'shards': shards}
    print(json.dumps(out))
""")


def test_visual_batches_shard_over_8_devices():
  env = dict(os.environ)
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
  env['JAX_PLATFORMS'] = 'cpu'
  env['PYTHONPATH'] = str(REPO)
  res = subprocess.run(
      [sys.executable, '-c', _AV_SHARDED_SCRIPT],
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert res.returncode == 0, res.stderr[-3000:]
  out = json.loads(res.stdout.strip().splitlines()[-1])
  # The 5-D frames split over the data axis: one window per device.
  assert out['8']['shards'] == [[1, 10, 8, 16, 3]] * 8
  assert out['1']['shards'] == [[8, 10, 8, 16, 3]]
  np.testing.assert_allclose(out['8']['losses'], out['1']['losses'], rtol=1e-5)
  assert out['8']['losses'][-1] < out['8']['losses'][0]

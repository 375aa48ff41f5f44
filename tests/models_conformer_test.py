"""Tests for the ResNet-Conformer (seld_jax.models.conformer)."""

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import conformer_starss23
from configs import conformer_synthetic
from configs import test as test_config
from seld_jax import sharding
from seld_jax import train_step
from seld_jax.models import conformer

_TINY = dict(
    stem_channels=4,
    stage_channels=(4, 8),
    blocks_per_stage=1,
    t_pool=(5, 1),
    f_pool=(4, 4),
    d_model=16,
    num_layers=2,
    num_heads=2,
    kernel_size=5,
)


@pytest.mark.parametrize(
    'output,positions,size',
    [
        ('multi_accdoa', 'sinusoidal', 117),
        ('multi_accdoa_distance', 'relative', 156),
    ],
)
def test_shapes_and_ranges(output, positions, size):
  model = conformer.ResNetConformer(
      7, 64, 13, output=output, positions=positions, rngs=nnx.Rngs(0), **_TINY
  )
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, 7, 50, 64)) * 3
  y = model(x)
  assert y.shape == (2, 10, size)
  if output == 'multi_accdoa':
    assert float(jnp.max(jnp.abs(y))) <= 1.0
  np.testing.assert_array_equal(y, model(x))  # eval is deterministic


def test_configs_output_label_frames():
  for config, size in (
      (conformer_synthetic.get_config(), 117),
      (conformer_starss23.get_config(), 156),
  ):
    spec = train_step.feature_spec(config, None)
    shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
    model = train_step.create_model(config, shape)
    model.eval()
    out = jax.eval_shape(model, jax.ShapeDtypeStruct((1,) + shape, jnp.float32))
    assert out.shape == (1, 50, size)


def test_sinusoidal_positions():
  pe = conformer.sinusoidal_positions(10, 8)
  assert pe.shape == (10, 8)
  np.testing.assert_allclose(pe[0, 0::2], 0.0)
  np.testing.assert_allclose(pe[0, 1::2], 1.0)
  np.testing.assert_allclose(pe[3, 0], np.sin(3.0), rtol=1e-6)


def test_relative_bias_changes_attention():
  attn = conformer.SelfAttention(8, 2, 0.0, 4, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(1), (1, 6, 8))
  before = attn(x)
  attn.relative[...] = jnp.arange(9 * 2, dtype=jnp.float32).reshape(9, 2)
  assert not np.allclose(before, attn(x))


def test_training_steps_reduce_the_loss():
  config = test_config.get_config()
  config.model = 'resnet_conformer'
  config.model_kwargs = ml_collections.ConfigDict(dict(_TINY, dropout=0.0))
  mesh = sharding.make_mesh()
  run = train_step.setup(config, mesh)
  rng = np.random.default_rng(0)
  target = np.zeros((8, 10, 6, 4, 13), np.float32)
  target[:, :, 0, 0, 3] = 1.0
  target[:, :, 0, 1, 3] = 1.0
  batch = {
      'audio': rng.normal(scale=0.1, size=(8, 4, 24000)).astype(np.float32),
      'target': target,
      'mask': np.ones((8,), np.float32),
  }
  batch = sharding.to_global(batch, mesh)
  state = run.state
  losses = []
  for _ in range(6):
    state, metrics = run.train_step(state, batch)
    losses.append(float(metrics['loss']))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0]

"""Tests for the DCASE baseline CRNN (seld_jax.models.crnn)."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seld_jax import losses
from seld_jax.models import crnn


def _num_params(model):
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.mark.parametrize(
    'kwargs,expected',
    [
        (dict(in_channels=7), 737_141),  # 2023 FOA
        (dict(in_channels=10), 738_869),  # 2023 MIC-GCC
        (dict(in_channels=7, num_freq_bins=382), 1_179_509),  # SALSA-lite
        (dict(in_channels=7, output='multi_accdoa_distance'), 742_172),  # 2024
        (dict(in_channels=2, output='multi_accdoa_stereo'), 734_261),  # 2025
    ],
)
def test_parameter_counts_equal_the_references(kwargs, expected):
  model = crnn.SeldCRNN(**kwargs, rngs=nnx.Rngs(0))
  assert _num_params(model) == expected


@pytest.mark.parametrize(
    'output,size',
    [
        ('multi_accdoa', 117),
        ('multi_accdoa_distance', 156),
        ('single_accdoa', 39),
        ('multi_accdoa_stereo_av', 156),
    ],
)
def test_shapes_and_output_ranges(output, size):
  cin = 2 if 'stereo' in output else 7
  model = crnn.SeldCRNN(cin, 64, 13, output=output, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (2, cin, 251, 64)) * 3
  y = model(x)
  assert y.shape == (2, 50, size)  # floor(251 / 5) frames (2025 clips)
  if output in ('multi_accdoa', 'single_accdoa'):
    assert float(jnp.max(jnp.abs(y))) <= 1.0
  if output == 'multi_accdoa_stereo_av':
    y = y.reshape(2, 50, 3, 4, 13)
    assert float(jnp.min(y[:, :, :, 2])) >= 0.0  # ReLU distance
    on = y[:, :, :, 3]
    assert float(jnp.min(on)) > 0.0 and float(jnp.max(on)) < 1.0


def test_eval_is_deterministic_and_train_uses_dropout():
  model = crnn.SeldCRNN(rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(1), (1, 7, 50, 64))
  model.eval()
  np.testing.assert_array_equal(model(x), model(x))
  model.train()
  assert not np.allclose(model(x), model(x))


def test_input_errors():
  model = crnn.SeldCRNN(rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match=r'Expected features \[B, 7'):
    model(jnp.zeros((1, 10, 50, 64)))
  with pytest.raises(ValueError, match='frequency bins'):
    model(jnp.zeros((1, 7, 50, 32)))
  with pytest.raises(ValueError, match='Unknown output'):
    crnn.SeldCRNN(output='doa', rngs=nnx.Rngs(0))


def test_bf16_compute_is_close_to_float32():
  model = crnn.SeldCRNN(rngs=nnx.Rngs(0))
  model.eval()
  x = jax.random.normal(jax.random.key(2), (2, 7, 100, 64))
  ref = model(x)
  _, state = nnx.split(model)
  m16 = crnn.SeldCRNN(dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
  nnx.update(m16, state)
  m16.eval()
  y = m16(x)
  assert y.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(y - ref))) < 0.1


def test_a_few_training_steps_reduce_the_adpit_loss():
  rng = np.random.default_rng(0)
  model = crnn.SeldCRNN(7, 64, 3, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
  x = jnp.asarray(rng.normal(size=(4, 7, 50, 64)).astype(np.float32))
  target = np.zeros((4, 10, 6, 4, 3), np.float32)
  target[:, :, 0, 0, 1] = 1.0  # class 1 active, direction +y
  target[:, :, 0, 2, 1] = 1.0
  target = jnp.asarray(target)

  @nnx.jit
  def step(model, optimizer):
    def loss_fn(m):
      return losses.adpit(m(x), target)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  first = float(step(model, optimizer))
  for _ in range(15):
    last = float(step(model, optimizer))
  assert last < 0.5 * first

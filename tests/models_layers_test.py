"""Tests for seld_jax.models.layers: the convolution and pooling kernels."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seld_jax.models import layers

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _reference_conv(x, w, padding=((1, 1), (1, 1)), strides=(1, 1)):
  return jax.lax.conv_general_dilated(
      x, w, strides, padding, dimension_numbers=_NHWC
  )


def _im2col(x, w, padding=((1, 1), (1, 1)), strides=(1, 1)):
  numbers = jax.lax.conv_dimension_numbers(x.shape, w.shape, _NHWC)
  return layers.im2col_conv(x, w, strides, padding, dimension_numbers=numbers)


@pytest.mark.parametrize(
    'kernel,padding',
    [
        ((3, 3), ((1, 1), (1, 1))),
        ((3, 5), ((1, 1), (2, 2))),
        ((2, 3), ((0, 1), (1, 1))),
    ],
)
def test_im2col_conv_equals_lax_conv(kernel, padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 11, 9, 7), np.float32))
  w = jnp.asarray(rng.standard_normal(kernel + (7, 5), np.float32))
  got = _im2col(x, w, padding)
  want = _reference_conv(x, w, padding)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_im2col_conv_gradients_equal_lax_conv():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.standard_normal((3, 10, 8, 4), np.float32))
  w = jnp.asarray(rng.standard_normal((3, 3, 4, 6), np.float32))
  g = jnp.asarray(rng.standard_normal((3, 10, 8, 6), np.float32))

  def grads(conv):
    return jax.grad(lambda x, w: jnp.sum(conv(x, w) * g), argnums=(0, 1))(x, w)

  for got, want in zip(grads(_im2col), grads(_reference_conv)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_im2col_conv_falls_back_for_strides():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.standard_normal((1, 9, 9, 3), np.float32))
  w = jnp.asarray(rng.standard_normal((3, 3, 3, 2), np.float32))
  got = _im2col(x, w, strides=(2, 2))
  want = _reference_conv(x, w, strides=(2, 2))
  assert got.shape == (1, 5, 5, 2)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('in_channels', [7, 64])
def test_conv_block_kernel_choice_and_output(in_channels):
  block = layers.ConvBlock(in_channels, 8, (5, 4), 0.0, rngs=nnx.Rngs(0))
  uses_im2col = block.conv.conv_general_dilated is layers.im2col_conv
  assert uses_im2col == (in_channels <= layers.IM2COL_MAX_CHANNELS)
  x = jnp.asarray(
      np.random.default_rng(3).standard_normal((2, 20, 16, in_channels))
  ).astype(jnp.float32)
  block.eval()
  y = block(x)
  # Eval-mode BatchNorm with fresh statistics is the identity (up to eps).
  conv = _reference_conv(x, block.conv.kernel[...]) + block.conv.bias[...]
  pooled = jnp.max(conv.reshape(2, 4, 5, 4, 4, 8), axis=(2, 4))
  want = jax.nn.relu(pooled / np.sqrt(1.0 + 1e-5))
  np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


def test_pool2d_equals_reduce_window_floor_mode():
  x = jnp.asarray(
      np.random.default_rng(4).standard_normal((2, 11, 9, 3), np.float32)
  )
  got = layers.pool2d(x, (5, 4))
  want = jax.lax.reduce_window(
      x[:, :10, :8], -jnp.inf, jax.lax.max, (1, 5, 4, 1), (1, 5, 4, 1), 'VALID'
  )
  np.testing.assert_array_equal(got, want)
  avg = layers.pool2d(x, (5, 4), 'avg')
  np.testing.assert_allclose(
      avg, x[:, :10, :8].reshape(2, 2, 5, 2, 4, 3).mean(axis=(2, 4)), rtol=1e-6
  )
  with pytest.raises(ValueError, match='larger than the input'):
    layers.pool2d(x, (12, 1))


def _batch_norm(channels, rng):
  bn = nnx.BatchNorm(channels, momentum=0.9, epsilon=1e-5, rngs=nnx.Rngs(0))
  # Scales of both signs: a negative scale turns the max into a min.
  bn.scale[...] = jnp.asarray(rng.standard_normal(channels), jnp.float32)
  bn.bias[...] = jnp.asarray(rng.standard_normal(channels), jnp.float32)
  bn.mean[...] = jnp.asarray(rng.standard_normal(channels), jnp.float32)
  bn.var[...] = jnp.asarray(rng.uniform(0.5, 2, channels), jnp.float32)
  return bn


@pytest.mark.parametrize('pool', [(5, 4), (1, 2), (2, 3), (1, 1)])
@pytest.mark.parametrize('train', [True, False])
def test_batch_norm_max_pool_equals_pool_of_batch_norm(pool, train):
  rng = np.random.default_rng(1)
  bn = _batch_norm(6, rng)
  assert float(jnp.min(bn.scale[...])) < 0 < float(jnp.max(bn.scale[...]))
  if not train:
    bn.eval()
  fused = nnx.clone(bn)
  x = jnp.asarray(rng.standard_normal((3, 11, 13, 6)) * 2 + 0.5, jnp.float32)
  want = layers.pool2d(bn(x), pool)
  got = layers.batch_norm_max_pool(fused, x, pool)
  assert got.shape == want.shape
  # The same floating-point values, not only close ones.
  np.testing.assert_array_equal(got, want)
  # The same running statistics afterwards (updated only in training).
  np.testing.assert_array_equal(fused.mean[...], bn.mean[...])
  np.testing.assert_array_equal(fused.var[...], bn.var[...])
  moved = float(
      jnp.max(
          jnp.abs(
              fused.mean[...]
              - _batch_norm(6, np.random.default_rng(1)).mean[...]
          )
      )
  )
  assert (moved > 0) == train

  graph, params, rest = nnx.split(bn, nnx.Param, ...)

  def loss(params, x, fn):
    model = nnx.merge(graph, params, rest, copy=True)
    return jnp.sum(jnp.sin(fn(model, x)))

  def reference(m, x):
    return layers.pool2d(m(x), pool)

  def fused_fn(m, x):
    return layers.batch_norm_max_pool(m, x, pool)

  want_grads = jax.grad(loss, argnums=(0, 1))(params, x, reference)
  got_grads = jax.grad(loss, argnums=(0, 1))(params, x, fused_fn)
  for w, g in zip(jax.tree.leaves(want_grads), jax.tree.leaves(got_grads)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('train', [True, False])
def test_batch_norm_max_pool_with_shift_equals_normalising_the_sum(train):
  rng = np.random.default_rng(2)
  bn = _batch_norm(5, rng)
  if not train:
    bn.eval()
  fused = nnx.clone(bn)
  x = jnp.asarray(rng.standard_normal((2, 10, 8, 5)), jnp.float32)
  shift = jnp.asarray(rng.standard_normal(5) * 3, jnp.float32)
  want = layers.pool2d(bn(x + shift), (5, 4))
  got = layers.batch_norm_max_pool(fused, x, (5, 4), shift=shift)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      fused.mean[...], bn.mean[...], rtol=1e-5, atol=1e-6
  )
  np.testing.assert_allclose(fused.var[...], bn.var[...], rtol=1e-5)


def test_conv_block_equals_its_modules_in_sequence():
  rng = np.random.default_rng(3)
  block = layers.ConvBlock(4, 6, (5, 2), 0.0, rngs=nnx.Rngs(0))
  block.bn.scale[...] = jnp.asarray(rng.standard_normal(6), jnp.float32)
  reference = nnx.clone(block)
  x = jnp.asarray(rng.standard_normal((3, 10, 8, 4)), jnp.float32)
  want = jax.nn.relu(
      layers.pool2d(reference.bn(reference.conv(x)), reference.pool)
  )
  np.testing.assert_allclose(block(x), want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      block.bn.mean[...], reference.bn.mean[...], rtol=1e-5, atol=1e-6
  )
  block.eval()
  reference.eval()
  want = jax.nn.relu(
      layers.pool2d(reference.bn(reference.conv(x)), reference.pool)
  )
  np.testing.assert_allclose(block(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('pool', [(5, 4), (1, 1)])
@pytest.mark.parametrize('train', [True, False])
def test_batch_norm_max_pool_with_channel_gates(pool, train):
  # Squeeze-and-excitation: positive gates of the normalised map's channel
  # means, applied before the pooling.
  rng = np.random.default_rng(4)
  bn = _batch_norm(6, rng)
  if not train:
    bn.eval()
  fused = nnx.clone(bn)
  w = jnp.asarray(rng.standard_normal((6, 6)), jnp.float32)

  def gates(squeezed):
    return jax.nn.sigmoid(squeezed @ w)

  x = jnp.asarray(rng.standard_normal((3, 10, 8, 6)), jnp.float32)
  shift = jnp.asarray(rng.standard_normal(6), jnp.float32)
  z = bn(x + shift)
  want = layers.pool2d(z * gates(jnp.mean(z, axis=(1, 2)))[:, None, None], pool)
  got = layers.batch_norm_max_pool(
      fused, x, pool, shift=shift, channel_gate=gates
  )
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      fused.mean[...], bn.mean[...], rtol=1e-5, atol=1e-6
  )


def test_modality_dropout_blanks_whole_examples_unscaled():
  drop = layers.ModalityDropout(0.5, rngs=nnx.Rngs(0, dropout=1))
  x = jnp.arange(400 * 3 * 2, dtype=jnp.float32).reshape(400, 3, 2) + 1.0
  y = np.asarray(drop(x))
  kept = np.all(y == np.asarray(x), axis=(1, 2))
  dropped = np.all(y == 0.0, axis=(1, 2))
  assert np.all(kept | dropped)  # whole examples, never rescaled
  assert 0.4 < dropped.mean() < 0.6
  assert not np.array_equal(np.asarray(drop(x)), y)  # a new draw per call
  drop.eval()
  np.testing.assert_array_equal(drop(x), x)
  np.testing.assert_array_equal(
      layers.ModalityDropout(0.0, rngs=nnx.Rngs(0))(x), x
  )
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    layers.ModalityDropout(1.0, rngs=nnx.Rngs(0))

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

"""Layers shared by the SELD models, laid out like their PyTorch originals.

The DCASE baselines are PyTorch networks; these layers keep the PyTorch
parameterisation (GRU with both input and hidden biases, torch's default
uniform initialisation) so that parameter counts equal the references and
published `state_dict`s import one-to-one (see `seld_jax.convert`).
"""

from __future__ import annotations

from collections.abc import Callable
import math

from flax import nnx
import jax
import jax.numpy as jnp


def torch_uniform(fan_in: int):
  """torch's default Linear/Conv/GRU init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def linear(
    in_features: int,
    out_features: int,
    *,
    rngs: nnx.Rngs,
    dtype=None,
    use_bias: bool = True,
) -> nnx.Linear:
  """`nnx.Linear` initialised as `torch.nn.Linear`."""
  return nnx.Linear(
      in_features,
      out_features,
      use_bias=use_bias,
      kernel_init=torch_uniform(in_features),
      bias_init=torch_uniform(in_features),
      dtype=dtype,
      rngs=rngs,
  )


class BiGRU(nnx.Module):
  """A multi-layer bidirectional GRU with PyTorch's gate equations.

  r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
  Per layer the two directions are scanned together (one `lax.scan` of T
  steps); the input projection of all steps is a single matmul. Dropout is
  applied between layers (not after the last), as `torch.nn.GRU(dropout=p)`.

  Parameters per layer: `w_ih [2, I, 3H]`, `w_hh [2, H, 3H]`, `b_ih [2, 3H]`,
  `b_hh [2, 3H]` (direction 0 forward, 1 backward; gates r, z, n).
  """

  def __init__(
      self,
      in_features: int,
      hidden: int,
      num_layers: int = 2,
      dropout: float = 0.0,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.hidden = hidden
    self.num_layers = num_layers
    self.dtype = dtype
    init = torch_uniform(hidden)
    self.w_ih = nnx.List()
    self.w_hh = nnx.List()
    self.b_ih = nnx.List()
    self.b_hh = nnx.List()
    for layer in range(num_layers):
      fan = in_features if layer == 0 else 2 * hidden
      self.w_ih.append(nnx.Param(init(rngs.params(), (2, fan, 3 * hidden))))
      self.w_hh.append(nnx.Param(init(rngs.params(), (2, hidden, 3 * hidden))))
      self.b_ih.append(nnx.Param(init(rngs.params(), (2, 3 * hidden))))
      self.b_hh.append(nnx.Param(init(rngs.params(), (2, 3 * hidden))))
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def _layer(self, x, w_ih, w_hh, b_ih, b_hh):
    h = self.hidden
    dtype = self.dtype or x.dtype
    x = x.astype(dtype)
    w_ih, w_hh = w_ih.astype(dtype), w_hh.astype(dtype)
    # [2, B, T, 3H]; the backward direction reads time reversed.
    xi = jnp.einsum('bti,dik->dbtk', x, w_ih) + b_ih[:, None, None].astype(
        dtype
    )
    xi = jnp.stack([xi[0], xi[1, :, ::-1]])
    xi = jnp.moveaxis(xi, 2, 0)  # [T, 2, B, 3H]
    b_hh = b_hh[:, None].astype(dtype)

    def step(state, xt):
      hh = jnp.einsum('dbh,dhk->dbk', state, w_hh) + b_hh
      r = jax.nn.sigmoid(xt[..., :h] + hh[..., :h])
      z = jax.nn.sigmoid(xt[..., h : 2 * h] + hh[..., h : 2 * h])
      n = jnp.tanh(xt[..., 2 * h :] + r * hh[..., 2 * h :])
      new = (1.0 - z) * n + z * state
      return new, new

    init = jnp.zeros(xi.shape[1:3] + (h,), dtype)
    _, hs = jax.lax.scan(step, init, xi)  # [T, 2, B, H]
    fwd = jnp.moveaxis(hs[:, 0], 0, 1)
    bwd = jnp.moveaxis(hs[::-1, 1], 0, 1)
    return jnp.concatenate([fwd, bwd], axis=-1)  # [B, T, 2H]

  def __call__(self, x: jax.Array) -> jax.Array:
    """x [B, T, I] -> [B, T, 2H] (forward half, then backward half)."""
    for layer in range(self.num_layers):
      if layer > 0:
        x = self.dropout(x)
      x = self._layer(
          x,
          self.w_ih[layer][...],
          self.w_hh[layer][...],
          self.b_ih[layer][...],
          self.b_hh[layer][...],
      )
    return x


def check_features(
    x: jax.Array, in_channels: int, num_freq_bins: int, dtype=None
) -> jax.Array:
  """Validates model input features [B, C, T, F]; casts them to `dtype`."""
  if x.ndim != 4 or x.shape[1] != in_channels:
    raise ValueError(
        f'Expected features [B, {in_channels}, T, F], got {x.shape}.'
    )
  if x.shape[3] != num_freq_bins:
    raise ValueError(
        f'Expected {num_freq_bins} frequency bins, got {x.shape[3]}.'
    )
  return x if dtype is None else x.astype(dtype)


def pool2d(x: jax.Array, pool, kind: str = 'max') -> jax.Array:
  """Non-overlapping 2-D pooling of NHWC `x`, floor mode (torch's default).

  Written as crop -> reshape -> reduce rather than `lax.reduce_window`: on
  XLA:CPU the gradient of a windowed max is a select-and-scatter that cost
  the DCASE CRNN's train step nearly half of its time; the reshaped
  reduction differentiates into fused elementwise code (measured: the
  baseline's forward+backward at batch 32 went from 1.78 to 0.97
  CPU-seconds).
  """
  pt, pf = (int(p) for p in pool)
  if (pt, pf) == (1, 1):
    return x
  b, t, f, c = x.shape
  t_out, f_out = t // pt, f // pf
  if t_out < 1 or f_out < 1:
    raise ValueError(f'pool {pool} is larger than the input {x.shape[1:3]}.')
  x = x[:, : t_out * pt, : f_out * pf].reshape(b, t_out, pt, f_out, pf, c)
  if kind == 'max':
    return jnp.max(x, axis=(2, 4))
  if kind == 'avg':
    return jnp.mean(x, axis=(2, 4))
  raise ValueError(f"pool kind must be 'max' or 'avg', got {kind!r}.")


def batch_norm_max_pool(
    bn: nnx.BatchNorm,
    x: jax.Array,
    pool,
    shift: jax.Array | None = None,
    channel_gate: Callable[[jax.Array], jax.Array] | None = None,
) -> jax.Array:
  """`pool2d(bn(x + shift), pool)` for NHWC `x`, normalising after pooling.

  BatchNorm is, per channel, `(x - mean) * m + bias` with
  `m = scale / sqrt(var + eps)`: monotone in x, increasing where the scale
  is >= 0 and decreasing where it is negative. So the max of a window of
  the normalised values is the normalised max of `x * sign(scale)` times
  the sign, the same floating-point value as normalising first (the
  rounding is monotone too). The batch statistics (and the running-average
  update, in training) are `bn`'s own; only the normalisation moves after
  the pooling. On XLA:CPU this saves the full-resolution normalised tensor
  and its gradient passes: the DCASE CRNN's first block at batch 32 of
  1.2-s windows writes 20x fewer normalised values.

  `shift` (per channel; a convolution's bias) is added to the input before
  the BatchNorm. In training it cancels against the batch mean and only
  enters the running mean, so the full-resolution `x + shift` is never
  formed; the result then equals normalising `x + shift` up to float
  rounding (the statistics are taken of `x`).

  `channel_gate` (squeeze-and-excitation) maps the per-example spatial mean
  of the normalised map [B, C] to POSITIVE gates [B, C] that scale its
  channels before the pooling; a positive gate commutes with the max, and
  the spatial mean of the normalised map is the normalised spatial mean.
  """
  pt, pf = (int(p) for p in pool)
  if (pt, pf) == (1, 1) or bn.axis not in (-1, x.ndim - 1):
    z = bn(x if shift is None else x + shift)
    if channel_gate is not None:
      z = z * channel_gate(jnp.mean(z, axis=(1, 2)))[:, None, None, :]
    return pool2d(z, pool)
  scale = bn.scale[...] if bn.scale is not None else None
  bias = bn.bias[...] if bn.bias is not None else None
  x, mean, var, scale, bias = bn.promote_dtype(
      (x, bn.mean[...], bn.var[...], scale, bias), dtype=bn.dtype
  )
  if not bn.use_running_average:
    batch_mean, batch_var = nnx.nn.normalization._compute_stats(  # pylint: disable=protected-access
        x,
        tuple(range(x.ndim - 1)),
        dtype=bn.dtype,
        use_fast_variance=bn.use_fast_variance,
    )
    input_mean = batch_mean if shift is None else batch_mean + shift
    bn.mean[...] = jax.lax.stop_gradient(
        bn.momentum * mean + (1 - bn.momentum) * input_mean
    )
    bn.var[...] = jax.lax.stop_gradient(
        bn.momentum * var + (1 - bn.momentum) * batch_var
    )
    mean, var = batch_mean, batch_var
  elif shift is not None:
    mean = mean - shift  # the running mean of x + shift, as one of x
  mul = jax.lax.rsqrt(var + bn.epsilon)
  sign = 1.0
  if scale is not None:
    mul = mul * scale
    sign = jax.lax.stop_gradient(jnp.where(scale < 0, -1.0, 1.0)).astype(
        x.dtype
    )
  picked = pool2d(x * sign, pool) * sign
  y = (picked - mean) * mul
  if bias is not None:
    y = y + bias
  if channel_gate is not None:
    squeezed = (jnp.mean(x, axis=(1, 2)) - mean) * mul
    if bias is not None:
      squeezed = squeezed + bias
    y = y * channel_gate(squeezed)[:, None, None, :]
  return y.astype(bn.dtype or y.dtype)


def im2col_conv(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    precision=None,
    **kwargs,
) -> jax.Array:
  """`lax.conv_general_dilated` as one matmul over im2col patches.

  A drop-in `conv_general_dilated` for `nnx.Conv` (NHWC input, HWIO kernel,
  stride 1, no dilation, one group, explicit padding); anything else goes
  to `lax.conv_general_dilated`. The kernel taps are gathered into the
  channel axis, `[B, H, W, kh * kw * Cin] @ [kh * kw * Cin, Cout]`.

  For convolutions with few input channels (the first layer of the DCASE
  CRNN: 7 feature maps of 250 x 64) XLA:CPU's convolution gradient with
  respect to the kernel runs at a fraction of its matmul speed; as one
  matmul the first block's forward + kernel gradient went from ~85 to ~35
  ms (batch 8, 2 cores).
  """
  ndim = lhs.ndim
  nhwc = jax.lax.conv_dimension_numbers(
      lhs.shape, rhs.shape, ('NHWC', 'HWIO', 'NHWC')
  )
  if (
      ndim != 4
      or isinstance(padding, str)
      or dimension_numbers is None
      or jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
      != nhwc
      or any(s != 1 for s in window_strides)
      or any(d != 1 for d in lhs_dilation or (1, 1))
      or any(d != 1 for d in rhs_dilation or (1, 1))
      or feature_group_count != 1
  ):
    return jax.lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        precision=precision,
        **kwargs,
    )
  kh, kw, cin, cout = rhs.shape
  (pt0, pt1), (pf0, pf1) = padding
  x = jnp.pad(lhs, ((0, 0), (pt0, pt1), (pf0, pf1), (0, 0)))
  b = x.shape[0]
  t = x.shape[1] - kh + 1
  f = x.shape[2] - kw + 1
  # Stacked on a new axis, then merged (as the STFT frames): XLA:CPU copies
  # that faster than a concatenation along the narrow channel axis.
  cols = jnp.stack(
      [x[:, i : i + t, j : j + f] for i in range(kh) for j in range(kw)],
      axis=-2,
  ).reshape(b * t * f, kh * kw * cin)
  y = jnp.dot(cols, rhs.reshape(kh * kw * cin, cout), precision=precision)
  return y.reshape(b, t, f, cout)


# At most this many input channels, `ConvBlock` convolves by `im2col_conv`
# (measured faster for the 4-10 feature channels of the SELD inputs; for 64
# channels XLA's own convolution is as fast).
IM2COL_MAX_CHANNELS = 16


class ConvBlock(nnx.Module):
  """Conv2d(3x3, pad 1) -> BatchNorm -> ReLU -> MaxPool -> Dropout2d (NHWC).

  The DCASE baseline block; BatchNorm as torch (eps 1e-5, momentum 0.1, i.e.
  flax momentum 0.9); Dropout2d drops whole channels.
  """

  def __init__(
      self,
      in_channels: int,
      out_channels: int,
      pool: tuple[int, int],
      dropout: float,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    fan_in = in_channels * 9
    self.conv = nnx.Conv(
        in_channels,
        out_channels,
        kernel_size=(3, 3),
        padding=((1, 1), (1, 1)),
        kernel_init=torch_uniform(fan_in),
        bias_init=torch_uniform(fan_in),
        dtype=dtype,
        rngs=rngs,
        conv_general_dilated=(
            im2col_conv
            if in_channels <= IM2COL_MAX_CHANNELS
            else jax.lax.conv_general_dilated
        ),
    )
    self.bn = nnx.BatchNorm(
        out_channels, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs
    )
    self.pool = tuple(pool)
    self.dropout = nnx.Dropout(dropout, broadcast_dims=(1, 2), rngs=rngs)

  def convolve(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`self.conv` without its bias, and the bias: (y, bias)."""
    conv = self.conv
    x, kernel = conv.promote_dtype((x, conv.kernel[...]), dtype=conv.dtype)
    y = conv.conv_general_dilated(
        x,
        kernel,
        (1, 1),
        conv.padding,
        dimension_numbers=jax.lax.conv_dimension_numbers(
            x.shape, kernel.shape, ('NHWC', 'HWIO', 'NHWC')
        ),
        precision=conv.precision,
    )
    return y, conv.bias[...]

  def __call__(self, x: jax.Array) -> jax.Array:
    # max_pool(relu(x)) == relu(max_pool(x)): the ReLU runs on the pooled,
    # smaller tensor; the BatchNorm too (`batch_norm_max_pool`), with the
    # convolution's bias as its input shift.
    y, bias = self.convolve(x)
    x = batch_norm_max_pool(self.bn, y, self.pool, shift=bias)
    return self.dropout(jax.nn.relu(x))


def conv_stack(
    in_channels: int,
    conv_channels: int,
    num_freq_bins: int,
    t_pool,
    f_pool,
    dropout: float,
    *,
    rngs: nnx.Rngs,
    dtype=None,
) -> tuple[nnx.List, int, int]:
  """The baseline's ConvBlock stack, one block per (t_pool, f_pool) pair.

  Returns:
    (blocks, total time pooling, frequency bins after pooling).
  """
  if len(t_pool) != len(f_pool):
    raise ValueError('t_pool and f_pool need one entry per conv block.')
  blocks = nnx.List([
      ConvBlock(
          in_channels if i == 0 else conv_channels,
          conv_channels,
          (t, f),
          dropout,
          rngs=rngs,
          dtype=dtype,
      )
      for i, (t, f) in enumerate(zip(t_pool, f_pool))
  ])
  time_pool = math.prod(t_pool)
  freq_out = num_freq_bins
  for f in f_pool:
    freq_out //= f
  if freq_out < 1:
    raise ValueError(
        f'{num_freq_bins} frequency bins pool to zero with f_pool={f_pool}.'
    )
  return blocks, time_pool, freq_out


class SelfAttentionBlock(nnx.Module):
  """torch `MultiheadAttention(x, x, x)` + residual + post LayerNorm."""

  def __init__(
      self,
      dim: int,
      num_heads: int,
      dropout: float,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.attention = nnx.MultiHeadAttention(
        num_heads=num_heads,
        in_features=dim,
        qkv_features=dim,
        out_features=dim,
        dropout_rate=dropout,
        deterministic=False,
        kernel_init=jax.nn.initializers.xavier_uniform(),
        out_kernel_init=torch_uniform(dim),
        bias_init=jax.nn.initializers.zeros,
        decode=False,
        dtype=dtype,
        rngs=rngs,
    )
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.norm(self.attention(x) + x)


class ModalityDropout(nnx.Module):
  """Blanks a whole input per example in training (ModDrop, Neverova 2015).

  x [B, ...] -> x with each example kept or set to zero with probability
  `rate`, unscaled (zero is what the model sees for a missing modality, as
  the `blind` controls). Identity in eval mode (`model.eval()`) and at rate
  0.
  """

  def __init__(self, rate: float, *, rngs: nnx.Rngs):
    if not 0.0 <= rate < 1.0:
      raise ValueError(f'Modality dropout rate must be in [0, 1), got {rate}.')
    self.rate = float(rate)
    self.dropout = nnx.Dropout(rate, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    if self.rate == 0.0:
      return x
    ones = jnp.ones((x.shape[0],) + (1,) * (x.ndim - 1), x.dtype)
    keep = (self.dropout(ones) > 0).astype(x.dtype)  # 0 or 1 per example
    return x * keep

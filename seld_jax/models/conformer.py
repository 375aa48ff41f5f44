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

"""ResNet-Conformer SELD encoder with a multi-ACCDOA head.

The family of the DCASE2023/2024 top systems (e.g. the ResNet-Conformer of
Wang et al. / the USTC DCASE2024 system and Berghi et al. 2024):

  input  features [B, C, T, F] (FOA log-mel + IV, MIC log-mel + GCC, ...)
  ResNet front end: Conv3x3 -> BN -> ReLU, then per stage
      `blocks` x BasicBlock (Conv3x3-BN-ReLU-Conv3x3-BN + shortcut, ReLU)
      followed by an average pool (t, f); the time pools multiply to the
      feature/label frame ratio (5 for 50-fps features, 10-fps labels)
  [B, T', C * F'] -> Linear -> d_model (+ sinusoidal positions)
  N x Conformer block (Gulati et al. 2020):
      x + FFN/2 -> x + MHSA -> x + ConvModule -> x + FFN/2 -> LayerNorm
      FFN: LN -> Linear(4d) -> Swish -> Dropout -> Linear(d) -> Dropout
      ConvModule: LN -> Linear(2d) -> GLU -> depthwise Conv1d(k) -> BN
          -> Swish -> Linear(d) -> Dropout
  Linear -> multi-ACCDOA (tanh) or multi-ACCDOA + distance (linear), as
  `crnn.OUTPUTS`.

Positions: 'sinusoidal' adds absolute sinusoidal encodings before the
blocks; 'relative' adds a learned per-head bias over clipped relative
distances to the attention logits of each MHSA (a T5-style simplification of
the Transformer-XL relative attention of the original Conformer).
"""

from __future__ import annotations

from collections.abc import Sequence
import math

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from seld_jax.models import crnn
from seld_jax.models import layers


def _bn(n: int, rngs: nnx.Rngs, dtype) -> nnx.BatchNorm:
  return nnx.BatchNorm(n, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs)


def _conv3x3(cin: int, cout: int, rngs: nnx.Rngs, dtype) -> nnx.Conv:
  return nnx.Conv(
      cin,
      cout,
      kernel_size=(3, 3),
      padding=((1, 1), (1, 1)),
      use_bias=False,
      kernel_init=jax.nn.initializers.he_normal(),
      dtype=dtype,
      rngs=rngs,
  )


class BasicBlock(nnx.Module):
  """ResNet basic block (NHWC) with a 1x1 projection when widths differ."""

  def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs, dtype=None):
    self.conv1 = _conv3x3(cin, cout, rngs, dtype)
    self.bn1 = _bn(cout, rngs, dtype)
    self.conv2 = _conv3x3(cout, cout, rngs, dtype)
    self.bn2 = _bn(cout, rngs, dtype)
    if cin != cout:
      self.proj = nnx.Conv(
          cin, cout, (1, 1), use_bias=False, dtype=dtype, rngs=rngs
      )
      self.proj_bn = _bn(cout, rngs, dtype)
    else:
      self.proj = None
      self.proj_bn = None

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jax.nn.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    if self.proj is not None:
      x = self.proj_bn(self.proj(x))
    return jax.nn.relu(x + y)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
  """The Transformer's sinusoidal position encodings, [length, dim]."""
  pos = np.arange(length)[:, None]
  inv = np.exp(-math.log(10000.0) * np.arange(0, dim, 2) / dim)
  out = np.zeros((length, dim), np.float32)
  out[:, 0::2] = np.sin(pos * inv)
  out[:, 1::2] = np.cos(pos * inv[: dim // 2])
  return out


class FeedForward(nnx.Module):
  """LN -> Linear(mult * d) -> Swish -> Dropout -> Linear(d) -> Dropout."""

  def __init__(self, dim, mult, dropout, *, rngs: nnx.Rngs, dtype=None):
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
    self.fc1 = layers.linear(dim, mult * dim, rngs=rngs, dtype=dtype)
    self.fc2 = layers.linear(mult * dim, dim, rngs=rngs, dtype=dtype)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def __call__(self, x):
    x = self.dropout(jax.nn.swish(self.fc1(self.norm(x))))
    return self.dropout(self.fc2(x))


class ConvModule(nnx.Module):
  """Conformer convolution module on [B, T, d]."""

  def __init__(self, dim, kernel_size, dropout, *, rngs: nnx.Rngs, dtype=None):
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
    self.pointwise1 = layers.linear(dim, 2 * dim, rngs=rngs, dtype=dtype)
    self.depthwise = nnx.Conv(
        dim,
        dim,
        kernel_size=(kernel_size,),
        padding='SAME',
        feature_group_count=dim,
        kernel_init=layers.torch_uniform(kernel_size),
        bias_init=layers.torch_uniform(kernel_size),
        dtype=dtype,
        rngs=rngs,
    )
    self.bn = _bn(dim, rngs, dtype)
    self.pointwise2 = layers.linear(dim, dim, rngs=rngs, dtype=dtype)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def __call__(self, x):
    x = jax.nn.glu(self.pointwise1(self.norm(x)), axis=-1)
    x = jax.nn.swish(self.bn(self.depthwise(x)))
    return self.dropout(self.pointwise2(x))


class SelfAttention(nnx.Module):
  """Multi-head self-attention, optionally with a relative position bias.

  The relative bias is a learned per-head scalar for each relative distance
  clipped to +-max_distance, added to the attention logits.
  """

  def __init__(
      self,
      dim: int,
      num_heads: int,
      dropout: float,
      max_distance: int | None,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    if dim % num_heads:
      raise ValueError(f'd_model {dim} is not divisible by {num_heads} heads.')
    self.num_heads = num_heads
    self.max_distance = max_distance
    self.qkv = layers.linear(dim, 3 * dim, rngs=rngs, dtype=dtype)
    self.out = layers.linear(dim, dim, rngs=rngs, dtype=dtype)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.relative = (
        nnx.Param(jnp.zeros((2 * max_distance + 1, num_heads), jnp.float32))
        if max_distance
        else None
    )

  def __call__(self, x: jax.Array) -> jax.Array:
    b, t, d = x.shape
    h = self.num_heads
    q, k, v = jnp.split(self.qkv(x).reshape(b, t, 3, h, d // h), 3, axis=2)
    q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]  # [B, T, H, Dh]
    logits = jnp.einsum('bqhd,bkhd->bhqk', q, k) / math.sqrt(d // h)
    if self.relative is not None:
      pos = np.arange(t)
      rel = np.clip(
          pos[None, :] - pos[:, None], -self.max_distance, self.max_distance
      )
      bias = self.relative[...][rel + self.max_distance]  # [T, T, H]
      logits = logits + jnp.transpose(bias, (2, 0, 1)).astype(logits.dtype)
    weights = self.dropout(jax.nn.softmax(logits, axis=-1))
    y = jnp.einsum('bhqk,bkhd->bqhd', weights, v).reshape(b, t, d)
    return self.out(y)


class ConformerBlock(nnx.Module):
  """FFN/2 -> MHSA -> ConvModule -> FFN/2 -> LayerNorm (each residual)."""

  def __init__(
      self,
      dim: int,
      num_heads: int,
      ffn_mult: int,
      kernel_size: int,
      dropout: float,
      relative_distance: int | None,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.ffn1 = FeedForward(dim, ffn_mult, dropout, rngs=rngs, dtype=dtype)
    self.attn_norm = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
    self.attention = SelfAttention(
        dim, num_heads, dropout, relative_distance, rngs=rngs, dtype=dtype
    )
    self.attn_dropout = nnx.Dropout(dropout, rngs=rngs)
    self.conv = ConvModule(dim, kernel_size, dropout, rngs=rngs, dtype=dtype)
    self.ffn2 = FeedForward(dim, ffn_mult, dropout, rngs=rngs, dtype=dtype)
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    x = x + 0.5 * self.ffn1(x)
    x = x + self.attn_dropout(self.attention(self.attn_norm(x)))
    x = x + self.conv(x)
    x = x + 0.5 * self.ffn2(x)
    return self.norm(x)


class ResNetConformer(nnx.Module):
  """ResNet front end + Conformer encoder + multi-ACCDOA head."""

  def __init__(
      self,
      in_channels: int = 7,
      num_freq_bins: int = 64,
      num_classes: int = 13,
      *,
      output: str = 'multi_accdoa',
      stem_channels: int = 64,
      stage_channels: Sequence[int] = (64, 128, 256, 256),
      blocks_per_stage: int = 2,
      t_pool: Sequence[int] = (1, 5, 1, 1),
      f_pool: Sequence[int] = (2, 2, 2, 2),
      d_model: int = 256,
      num_layers: int = 4,
      num_heads: int = 8,
      ffn_mult: int = 4,
      kernel_size: int = 31,
      dropout: float = 0.1,
      positions: str = 'sinusoidal',
      max_relative_distance: int = 64,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if output not in crnn.OUTPUTS:
      raise ValueError(
          f'Unknown output {output!r}; known: {sorted(crnn.OUTPUTS)}.'
      )
    if not len(stage_channels) == len(t_pool) == len(f_pool):
      raise ValueError('stage_channels, t_pool, f_pool: one entry per stage.')
    if positions not in ('sinusoidal', 'relative'):
      raise ValueError(
          f"positions must be 'sinusoidal' or 'relative', got {positions!r}."
      )
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.output = output
    self.positions = positions
    self.dtype = dtype
    self.pools = tuple(zip(t_pool, f_pool))
    self.time_pool = 1
    for t in t_pool:
      self.time_pool *= t
    self.stem = _conv3x3(in_channels, stem_channels, rngs, dtype)
    self.stem_bn = _bn(stem_channels, rngs, dtype)
    blocks = []
    cin = stem_channels
    for cout in stage_channels:
      stage = []
      for _ in range(blocks_per_stage):
        stage.append(BasicBlock(cin, cout, rngs=rngs, dtype=dtype))
        cin = cout
      blocks.append(nnx.List(stage))
    self.stages = nnx.List(blocks)
    freq_out = num_freq_bins
    for f in f_pool:
      freq_out //= f
    if freq_out < 1:
      raise ValueError(
          f'{num_freq_bins} frequency bins pool to zero with f_pool={f_pool}.'
      )
    self.proj = layers.linear(cin * freq_out, d_model, rngs=rngs, dtype=dtype)
    self.blocks = nnx.List([
        ConformerBlock(
            d_model,
            num_heads,
            ffn_mult,
            kernel_size,
            dropout,
            max_relative_distance if positions == 'relative' else None,
            rngs=rngs,
            dtype=dtype,
        )
        for _ in range(num_layers)
    ])
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = layers.linear(
        d_model, crnn.output_size(output, num_classes), rngs=rngs, dtype=dtype
    )

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def embed(self, x: jax.Array) -> jax.Array:
    """Features [B, Cin, T, F] -> encoder output [B, T', d_model]."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC
    x = jax.nn.relu(self.stem_bn(self.stem(x)))
    for stage, pool in zip(self.stages, self.pools):
      for block in stage:
        x = block(x)
      x = layers.pool2d(x, pool, 'avg')
    b, t, f, c = x.shape
    x = self.proj(jnp.transpose(x, (0, 1, 3, 2)).reshape(b, t, c * f))
    if self.positions == 'sinusoidal':
      x = x + jnp.asarray(sinusoidal_positions(t, x.shape[-1]), x.dtype)
    x = self.dropout(x)
    for block in self.blocks:
      x = block(x)
    return x

  def __call__(self, x: jax.Array) -> jax.Array:
    """Features [B, Cin, T, F] -> [B, T', tracks * elements * K]."""
    y = self.head(self.embed(x))
    y = crnn.apply_output_activation(y, self.output, self.num_classes)
    return y.astype(jnp.float32)

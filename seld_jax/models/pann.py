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

"""PANN CNN14 (Kong et al. 2020) as a SED backbone.

  input  log-mel [B, C, T, F] (C = 1 for the AudioSet model)
  bn0: BatchNorm over the F mel bins (as PANN, which normalises each bin)
  6 x ConvBlock: 2 x (Conv3x3, no bias -> BN -> ReLU) -> 2x2 average pool
      -> dropout 0.2; channels 64-128-256-512-1024-2048, no pool after the
      last block
  mean over frequency -> [B, T', 2048]
  clip head (AudioSet tagging): max + mean over time -> dropout 0.5 ->
      ReLU(fc1 2048 -> 2048) = embedding -> fc_audioset -> sigmoid

`Cnn14(include_top=False)` drops the clip head; `frame_embeddings` returns the
frame-level map `[B, T', C_last]` that SELD models build on. Pools and widths
are arguments: a SELD backbone keeps the time resolution (pools `(1, 2)`) and
the CPU tests use a few channels. The public checkpoint
(`Cnn14_mAP=0.431.pth`) imports with `seld_jax.convert.torch_pann`.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import layers

CNN14_CHANNELS = (64, 128, 256, 512, 1024, 2048)
CNN14_POOLS = ((2, 2),) * 5 + ((1, 1),)


def _pool(x: jax.Array, pool: tuple[int, int], pool_type: str) -> jax.Array:
  """2-D pooling of NHWC `x` (floor, as torch `avg_pool2d`/`max_pool2d`)."""
  pool = tuple(pool)
  if pool == (1, 1):
    return x
  if pool_type in ('avg', 'max'):
    return layers.pool2d(x, pool, pool_type)
  if pool_type == 'avg+max':
    return layers.pool2d(x, pool, 'avg') + layers.pool2d(x, pool, 'max')
  raise ValueError(f"pool_type must be 'avg', 'max' or 'avg+max': {pool_type}")


class DoubleConvBlock(nnx.Module):
  """PANN `ConvBlock`: 2 x (Conv3x3 without bias -> BN -> ReLU) -> pool.

  NHWC. Also the block of the two-stage CRNN (Cao et al. 2019), whose code
  derives from the same source. BatchNorm as torch (eps 1e-5, momentum 0.1).
  """

  def __init__(
      self,
      in_channels: int,
      out_channels: int,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    def conv(cin):
      return nnx.Conv(
          cin,
          out_channels,
          kernel_size=(3, 3),
          padding=((1, 1), (1, 1)),
          use_bias=False,
          kernel_init=jax.nn.initializers.xavier_uniform(),
          dtype=dtype,
          rngs=rngs,
      )

    def bn():
      return nnx.BatchNorm(
          out_channels, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs
      )

    self.conv1 = conv(in_channels)
    self.bn1 = bn()
    self.conv2 = conv(out_channels)
    self.bn2 = bn()

  def __call__(
      self,
      x: jax.Array,
      pool: tuple[int, int] = (2, 2),
      pool_type: str = 'avg',
      use_running_average: bool | None = None,
  ) -> jax.Array:
    x = jax.nn.relu(self.bn1(self.conv1(x), use_running_average))
    x = jax.nn.relu(self.bn2(self.conv2(x), use_running_average))
    return _pool(x, pool, pool_type)


class Cnn14(nnx.Module):
  """PANN CNN14 on log-mel input `[B, C, T, F]` (NCHW, time = H)."""

  def __init__(
      self,
      in_channels: int = 1,
      num_freq_bins: int = 64,
      num_classes: int = 527,
      *,
      channels: Sequence[int] = CNN14_CHANNELS,
      pools: Sequence[tuple[int, int]] = CNN14_POOLS,
      pool_type: str = 'avg',
      use_bn0: bool = True,
      include_top: bool = True,
      embedding_size: int | None = None,
      dropout: float = 0.2,
      top_dropout: float = 0.5,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if len(channels) != len(pools):
      raise ValueError('channels and pools need one entry per conv block.')
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.pools = tuple(tuple(p) for p in pools)
    self.pool_type = pool_type
    self.include_top = include_top
    self.dtype = dtype
    self.out_channels = channels[-1]
    self.time_pool = 1
    for t, _ in self.pools:
      self.time_pool *= t
    self.bn0 = (
        nnx.BatchNorm(
            num_freq_bins, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs
        )
        if use_bn0
        else None
    )
    self.conv_blocks = nnx.List([
        DoubleConvBlock(cin, cout, rngs=rngs, dtype=dtype)
        for cin, cout in zip((in_channels,) + tuple(channels[:-1]), channels)
    ])
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.top_dropout = nnx.Dropout(top_dropout, rngs=rngs)
    if include_top:
      emb = embedding_size or channels[-1]
      self.fc1 = layers.linear(channels[-1], emb, rngs=rngs, dtype=dtype)
      self.fc_audioset = layers.linear(emb, num_classes, rngs=rngs, dtype=dtype)

  def frame_embeddings(
      self, x: jax.Array, *, frozen: bool = False
  ) -> jax.Array:
    """Log-mel `[B, C, T, F]` -> frame embeddings `[B, T', C_last]`.

    Args:
      x: the input features.
      frozen: run in inference mode whatever the model's train/eval mode
        (BatchNorm running averages, no dropout): a frozen module.

    Returns:
      The frequency-averaged output of the last conv block.
    """
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    ura = True if frozen else None
    det = True if frozen else None
    if self.bn0 is not None:
      x = self.bn0(x, ura)  # feature axis -1: each mel bin
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC [B, T, F, C]
    for block, pool in zip(self.conv_blocks, self.pools):
      x = block(x, pool, self.pool_type, ura)
      x = self.dropout(x, deterministic=det)
    return jnp.mean(x, axis=2)

  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    """PANN's forward: {'embedding': [B, E], 'clipwise_output': [B, K]}."""
    if not self.include_top:
      raise ValueError('Cnn14(include_top=False) has no clip head.')
    h = self.frame_embeddings(x)
    h = jnp.max(h, axis=1) + jnp.mean(h, axis=1)
    h = self.top_dropout(h)
    emb = jax.nn.relu(self.fc1(h))
    clip = jax.nn.sigmoid(self.fc_audioset(emb))  # as PANN: not dropped out
    return {
        'embedding': self.top_dropout(emb).astype(jnp.float32),
        'clipwise_output': clip.astype(jnp.float32),
    }

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

"""The two-stage SELD CRNN (Cao et al. 2019), target 'sed_doa'.

Two branches with the same layout (`CRNN9` of the authors' code, 8 conv
layers + a bidirectional GRU, plus the output layer):

  input  log-mel + GCC-PHAT [B, 10, T, F]  (`mic_logmel_gcc`)
  4 x DoubleConvBlock (2 x Conv3x3 + BN + ReLU, 2x2 average pool; no pool
      after the last block), channels 64-128-256-512
  mean over frequency -> 1-layer bidirectional GRU(256) -> Linear

`sed_branch` ends in K SED logits; `doa_branch` in 3K direction components
(x|y|z per class, tanh). Stage 1 trains the SED branch (`sed_weight=1,
doa_weight=0`, `doa_branch` frozen); stage 2 copies `sed_branch.conv` into
`doa_branch.conv` (`init_map`) and trains the DOA branch with the loss masked
by the reference activity, the SED branch frozen. A branch named in `frozen`
also runs its BatchNorm on the running statistics while training, so a
frozen branch stays exactly as trained. At inference the DOA is read only
where the predicted SED is active (`evaluate.decode_output`).

Time: the paper pools time by 8 and repeats the outputs back to the label
rate (`upsample`); `t_pool` / `upsample` generalise this, and the output has
`T // prod(t_pool) * upsample` frames.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import layers
from seld_jax.models import pann


class Branch(nnx.Module):
  """CNN (DoubleConvBlocks) -> frequency mean -> BiGRU -> Linear."""

  def __init__(
      self,
      in_channels: int,
      out_features: int,
      *,
      channels: Sequence[int],
      pools: Sequence[tuple[int, int]],
      rnn_size: int,
      dropout: float,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.pools = tuple(tuple(p) for p in pools)
    self.conv = nnx.List([
        pann.DoubleConvBlock(cin, cout, rngs=rngs, dtype=dtype)
        for cin, cout in zip((in_channels,) + tuple(channels[:-1]), channels)
    ])
    self.gru = layers.BiGRU(channels[-1], rnn_size, 1, rngs=rngs, dtype=dtype)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = layers.linear(
        2 * rnn_size, out_features, rngs=rngs, dtype=dtype
    )

  def __call__(self, x: jax.Array, frozen: bool = False) -> jax.Array:
    """NHWC features -> [B, T', out_features] (before the activation)."""
    ura = True if frozen else None
    for block, pool in zip(self.conv, self.pools):
      x = block(x, pool, 'avg', ura)
      x = self.dropout(x, deterministic=True if frozen else None)
    x = self.gru(jnp.mean(x, axis=2))
    return self.head(x)


class TwoStageCRNN(nnx.Module):
  """SED branch + DOA branch, trained in two stages."""

  def __init__(
      self,
      in_channels: int = 10,
      num_freq_bins: int = 64,
      num_classes: int = 11,
      *,
      output: str = 'sed_doa',
      channels: Sequence[int] = (64, 128, 256, 512),
      t_pool: Sequence[int] = (5, 1, 1, 1),
      f_pool: Sequence[int] = (2, 2, 2, 1),
      upsample: int = 1,
      rnn_size: int = 256,
      dropout: float = 0.0,
      frozen: Sequence[str] = (),
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if output != 'sed_doa':
      raise ValueError(f"TwoStageCRNN outputs 'sed_doa', not {output!r}.")
    if not len(channels) == len(t_pool) == len(f_pool):
      raise ValueError('channels, t_pool and f_pool need one entry per block.')
    unknown = set(frozen) - {'sed_branch', 'doa_branch'}
    if unknown:
      raise ValueError(f'frozen names unknown branches {sorted(unknown)}.')
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.frozen = tuple(frozen)
    self.upsample = upsample
    self.dtype = dtype
    self.time_pool = 1
    for t in t_pool:
      self.time_pool *= t
    kwargs = dict(
        channels=channels,
        pools=tuple(zip(t_pool, f_pool)),
        rnn_size=rnn_size,
        dropout=dropout,
        rngs=rngs,
        dtype=dtype,
    )
    self.sed_branch = Branch(in_channels, num_classes, **kwargs)
    self.doa_branch = Branch(in_channels, 3 * num_classes, **kwargs)

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool * self.upsample

  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    """Features [B, Cin, T, F] -> {'sed': [B, T', K], 'doa': [B, T', 3K]}."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC
    sed = self.sed_branch(x, 'sed_branch' in self.frozen)
    doa = jnp.tanh(self.doa_branch(x, 'doa_branch' in self.frozen))
    if self.upsample > 1:  # the paper's `interpolate`: repeat each frame
      sed = jnp.repeat(sed, self.upsample, axis=1)
      doa = jnp.repeat(doa, self.upsample, axis=1)
    return {'sed': sed.astype(jnp.float32), 'doa': doa.astype(jnp.float32)}

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

"""The DCASE2022-2025 baseline CRNN (`seldnet_model.py:SeldModel`, SPEC §3).

  input  [B, Cin, T, F]  (the layout `seld_jax.features` returns)
  3 x ConvBlock(64, 3x3) with max-pools (t: 5, 1, 1; f: 4, 4, 2)
  bidirectional 2-layer GRU(128) -> tanh -> backward half * forward half
  2 x (MultiheadAttention(8 heads) + residual + LayerNorm)   (2023+)
  Linear(128 -> 128) (no activation) -> Linear(128 -> out)
  output activation per year: tanh (2022/2023), none (2024), per element
  tanh/ReLU/sigmoid (2025 stereo).

Parameter counts equal the references (2023 FOA 737,141; MIC-GCC 738,869;
SALSA-lite 1,179,509; 2024 FOA 742,172; 2025 stereo 734,261). Internally NHWC
`[B, T, F, C]`; the CNN output is flattened channel-major (`c * F' + f`) as
torch's `transpose(1, 2).view(...)`, so torch weights import unchanged.
"""

from __future__ import annotations

import dataclasses

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import layers


@dataclasses.dataclass(frozen=True)
class OutputSpec:
  """How the head's vector is read: tracks x elements x classes."""

  tracks: int  # 3 for multi-ACCDOA, 1 for single-ACCDOA
  elements: int  # per track and class: 3 (xyz), 4 (xyz+dist), ...
  activation: str  # 'tanh', 'none' or 'stereo'


# The output representations a SELD head can produce.
OUTPUTS = {
    'multi_accdoa': OutputSpec(3, 3, 'tanh'),  # DCASE2022/2023
    'multi_accdoa_distance': OutputSpec(3, 4, 'none'),  # DCASE2024
    'multi_accdoa_stereo': OutputSpec(3, 3, 'stereo'),  # DCASE2025 audio
    'multi_accdoa_stereo_av': OutputSpec(3, 4, 'stereo'),  # DCASE2025 AV
    'single_accdoa': OutputSpec(1, 3, 'tanh'),  # DCASE2021
}


def output_size(output: str, num_classes: int) -> int:
  spec = OUTPUTS[output]
  return spec.tracks * spec.elements * num_classes


def apply_output_activation(
    y: jax.Array, output: str, num_classes: int
) -> jax.Array:
  """Applies the output activation of `output` to the flat head vector."""
  spec = OUTPUTS[output]
  if spec.activation == 'tanh':
    return jnp.tanh(y)
  if spec.activation == 'none':
    return y
  # DCASE2025: tanh on x, y; ReLU on distance; sigmoid on on-screen.
  shape = y.shape
  y = y.reshape(*shape[:-1], spec.tracks, spec.elements, num_classes)
  parts = [jnp.tanh(y[..., 0:2, :]), jax.nn.relu(y[..., 2:3, :])]
  if spec.elements == 4:
    parts.append(jax.nn.sigmoid(y[..., 3:4, :]))
  return jnp.concatenate(parts, axis=-2).reshape(shape)


class SeldCRNN(nnx.Module):
  """The DCASE baseline SELDnet CRNN with optional self-attention."""

  def __init__(
      self,
      in_channels: int = 7,
      num_freq_bins: int = 64,
      num_classes: int = 13,
      *,
      output: str = 'multi_accdoa',
      conv_channels: int = 64,
      t_pool: tuple[int, ...] = (5, 1, 1),
      f_pool: tuple[int, ...] = (4, 4, 2),
      rnn_size: int = 128,
      rnn_layers: int = 2,
      num_attention_layers: int = 2,
      num_heads: int = 8,
      fnn_layers: int = 1,
      fnn_size: int = 128,
      dropout: float = 0.05,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if output not in OUTPUTS:
      raise ValueError(f'Unknown output {output!r}; known: {sorted(OUTPUTS)}.')
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.output = output
    self.dtype = dtype
    self.conv_blocks, self.time_pool, freq_out = layers.conv_stack(
        in_channels,
        conv_channels,
        num_freq_bins,
        t_pool,
        f_pool,
        dropout,
        rngs=rngs,
        dtype=dtype,
    )
    self.gru = layers.BiGRU(
        conv_channels * freq_out,
        rnn_size,
        rnn_layers,
        dropout,
        rngs=rngs,
        dtype=dtype,
    )
    self.attention_blocks = nnx.List([
        layers.SelfAttentionBlock(
            rnn_size, num_heads, dropout, rngs=rngs, dtype=dtype
        )
        for _ in range(num_attention_layers)
    ])
    sizes = [rnn_size] + [fnn_size] * fnn_layers
    self.fnn = nnx.List([
        layers.linear(a, b, rngs=rngs, dtype=dtype)
        for a, b in zip(sizes[:-1], sizes[1:])
    ])
    self.head = layers.linear(
        sizes[-1], output_size(output, num_classes), rngs=rngs, dtype=dtype
    )

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def embed(self, x: jax.Array) -> jax.Array:
    """Features [B, Cin, T, F] -> the attention output [B, T', rnn_size]."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC [B, T, F, C]
    for block in self.conv_blocks:
      x = block(x)
    b, t, f, c = x.shape
    x = jnp.transpose(x, (0, 1, 3, 2)).reshape(b, t, c * f)  # channel-major
    x = jnp.tanh(self.gru(x))
    half = x.shape[-1] // 2
    x = x[..., half:] * x[..., :half]
    for block in self.attention_blocks:
      x = block(x)
    return x

  def head_output(self, x: jax.Array) -> jax.Array:
    for layer in self.fnn:
      x = layer(x)
    y = self.head(x)
    return apply_output_activation(y, self.output, self.num_classes)

  def __call__(self, x: jax.Array) -> jax.Array:
    """Features [B, Cin, T, F] -> [B, T // 5, tracks * elements * C]."""
    return self.head_output(self.embed(x)).astype(jnp.float32)

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

"""SELDnet (Adavanne et al. 2018, `seld-net/keras_model.py`), target 'sed_doa'.

  input  magnitude + phase spectrogram [B, 2M, T, F] (M audio channels)
  3 x { Conv2d(64, 3x3, 'same') -> BN -> ReLU -> MaxPool(1, f_pool[i])
        -> Dropout }          f_pool = (8, 8, 2): frequency only
  [B, T, 64 * F / 128] -> 2 x bidirectional GRU(64), the outputs of the two
      directions multiplied after each layer (Keras `merge_mode='mul'`)
  SED: Dense(128) -> Dropout -> Dense(K) -> sigmoid (logits returned; the
      loss is BCE with logits)
  DOA: Dense(128) -> Dropout -> Dense(3K) -> tanh (x|y|z per class)

The time axis is not pooled for TUT 2018 (labels at the STFT frame rate);
`t_pool` pools it to the label rate elsewhere (e.g. (5, 1, 1) for 50-fps
features and 10-fps labels). Returns `{'sed': logits [B, T', K], 'doa':
[B, T', 3K]}`; the 'sed_doa' loss masks the DOA error by the reference
activity.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import layers


class SELDnet(nnx.Module):
  """The SELDnet CRNN with an SED and a DOA head."""

  def __init__(
      self,
      in_channels: int = 8,
      num_freq_bins: int = 512,
      num_classes: int = 11,
      *,
      output: str = 'sed_doa',
      conv_channels: int = 64,
      f_pool: Sequence[int] = (8, 8, 2),
      t_pool: Sequence[int] = (1, 1, 1),
      rnn_size: int = 64,
      rnn_layers: int = 2,
      fnn_size: int = 128,
      dropout: float = 0.0,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if output != 'sed_doa':
      raise ValueError(f"SELDnet outputs 'sed_doa', not {output!r}.")
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
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
    # One Keras `Bidirectional(GRU, merge_mode='mul')` per layer: the next
    # layer reads the product of the two directions (rnn_size features).
    self.grus = nnx.List([
        layers.BiGRU(
            conv_channels * freq_out if i == 0 else rnn_size,
            rnn_size,
            1,
            rngs=rngs,
            dtype=dtype,
        )
        for i in range(rnn_layers)
    ])
    self.sed_fc = layers.linear(rnn_size, fnn_size, rngs=rngs, dtype=dtype)
    self.sed_head = layers.linear(fnn_size, num_classes, rngs=rngs, dtype=dtype)
    self.doa_fc = layers.linear(rnn_size, fnn_size, rngs=rngs, dtype=dtype)
    self.doa_head = layers.linear(
        fnn_size, 3 * num_classes, rngs=rngs, dtype=dtype
    )
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    """Features [B, Cin, T, F] -> {'sed': [B, T', K], 'doa': [B, T', 3K]}."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC [B, T, F, C]
    for block in self.conv_blocks:
      x = block(x)
    b, t, f, c = x.shape
    # Keras Permute((2, 1, 3)) + Reshape: channel-major, index c * F' + f.
    x = jnp.transpose(x, (0, 1, 3, 2)).reshape(b, t, c * f)
    for i, gru in enumerate(self.grus):
      if i > 0:
        x = self.dropout(x)
      x = gru(x)
      half = x.shape[-1] // 2
      x = x[..., :half] * x[..., half:]  # merge_mode='mul'
    sed = self.sed_head(self.dropout(self.sed_fc(x)))
    doa = jnp.tanh(self.doa_head(self.dropout(self.doa_fc(x))))
    return {'sed': sed.astype(jnp.float32), 'doa': doa.astype(jnp.float32)}

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

"""The SED / DOA / alignment "general architecture" (Nguyen et al. 2020).

Three parts, trained in stages (configs `general_*.py:sed|doa|align|
finetune`):

  sed_module   a PANN CNN14-style backbone (`pann.Cnn14`, may start from the
               AudioSet checkpoint) on the log-mel channels -> average pool
               of time to the label rate -> BiGRU -> SED head (K logits)
  doa_module   a smaller CNN (the same conv blocks) on log-mel + intensity
               vectors (or GCC-PHAT) -> time pool -> BiGRU -> DOA head (3K,
               tanh; loss masked by the reference activity)
  alignment    BiGRU over the concatenated SED and DOA embeddings (the GRU
               outputs of both modules) -> Linear -> ReLU -> Linear ->
               track-wise multi-ACCDOA (ADPIT handles the track
               permutation)

With `output='sed_doa'` the model returns the two module heads
`{'sed', 'doa'}` (stages 1 and 2, selected with the loss weights and
`freeze`); with a multi-ACCDOA output it returns the alignment network's
output (stage 3). `sed_pretrained` names a PANN CNN14 checkpoint (the
public `Cnn14_mAP=0.431.pth`) loaded into the SED backbone when the model is
built (the clip head and extractor tensors are skipped). Modules named in `frozen` run their BatchNorm on the
running statistics while training, so a frozen module stays as trained.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import crnn
from seld_jax.models import layers
from seld_jax.models import pann

_MODULES = ('sed_module', 'doa_module')


class EncoderModule(nnx.Module):
  """Conv backbone -> time pool -> BiGRU -> head, on a channel range."""

  def __init__(
      self,
      channels: tuple[int, int],
      num_freq_bins: int,
      out_features: int,
      *,
      widths: Sequence[int],
      f_pool: int,
      time_pool: int,
      use_bn0: bool,
      rnn_size: int,
      rnn_layers: int,
      dropout: float,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.channels = tuple(channels)
    self.time_pool = time_pool
    pools = ((1, f_pool),) * (len(widths) - 1) + ((1, 1),)
    self.backbone = pann.Cnn14(
        channels[1] - channels[0],
        num_freq_bins,
        channels=widths,
        pools=pools,
        use_bn0=use_bn0,
        include_top=False,
        dropout=dropout,
        rngs=rngs,
        dtype=dtype,
    )
    self.gru = layers.BiGRU(
        widths[-1], rnn_size, rnn_layers, rngs=rngs, dtype=dtype
    )
    self.head = layers.linear(
        2 * rnn_size, out_features, rngs=rngs, dtype=dtype
    )

  def embed(self, x: jax.Array, frozen: bool = False) -> jax.Array:
    """Features [B, C, T, F] -> embeddings [B, T // time_pool, 2 * rnn]."""
    x = x[:, self.channels[0] : self.channels[1]]
    x = self.backbone.frame_embeddings(x, frozen=frozen)  # [B, T, C]
    if self.time_pool > 1:
      x = nnx.avg_pool(x, (self.time_pool,), strides=(self.time_pool,))
    return self.gru(x)


class GeneralSELD(nnx.Module):
  """SED module + DOA module + alignment network."""

  def __init__(
      self,
      in_channels: int = 7,
      num_freq_bins: int = 64,
      num_classes: int = 14,
      *,
      output: str = 'multi_accdoa',
      sed_channels: Sequence[int] = (0, 1),
      doa_channels: Sequence[int] = (0, 7),
      sed_widths: Sequence[int] = pann.CNN14_CHANNELS,
      doa_widths: Sequence[int] = (64, 128, 256, 512),
      sed_use_bn0: bool = True,
      f_pool: int = 2,
      time_pool: int = 5,
      rnn_size: int = 128,
      rnn_layers: int = 2,
      align_size: int = 128,
      dropout: float = 0.2,
      sed_pretrained: str | None = None,
      frozen: Sequence[str] = (),
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if output != 'sed_doa' and output not in crnn.OUTPUTS:
      raise ValueError(f'Unknown output {output!r}.')
    unknown = set(frozen) - set(_MODULES)
    if unknown:
      raise ValueError(f'frozen names unknown modules {sorted(unknown)}.')
    for name, (lo, hi) in (('sed', sed_channels), ('doa', doa_channels)):
      if not 0 <= lo < hi <= in_channels:
        raise ValueError(
            f'{name}_channels {(lo, hi)} is not a range of the '
            f'{in_channels} feature channels.'
        )
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.output = output
    self.frozen = tuple(frozen)
    self.time_pool = time_pool
    self.dtype = dtype
    common = dict(
        num_freq_bins=num_freq_bins,
        f_pool=f_pool,
        time_pool=time_pool,
        rnn_size=rnn_size,
        rnn_layers=rnn_layers,
        dropout=dropout,
        rngs=rngs,
        dtype=dtype,
    )
    self.sed_module = EncoderModule(
        tuple(sed_channels),
        out_features=num_classes,
        widths=sed_widths,
        use_bn0=sed_use_bn0,
        **common,
    )
    self.doa_module = EncoderModule(
        tuple(doa_channels),
        out_features=3 * num_classes,
        widths=doa_widths,
        use_bn0=False,
        **common,
    )
    if sed_pretrained:
      # pylint: disable-next=g-import-not-at-top
      from seld_jax.convert import torch_pann

      torch_pann.load_into(self.sed_module.backbone, sed_pretrained)
    if output == 'sed_doa':
      self.alignment = None
      self.align_fc = None
      self.head = None
    else:
      self.alignment = layers.BiGRU(
          4 * rnn_size, align_size, 1, rngs=rngs, dtype=dtype
      )
      self.align_fc = layers.linear(
          2 * align_size, align_size, rngs=rngs, dtype=dtype
      )
      self.head = layers.linear(
          align_size,
          crnn.output_size(output, num_classes),
          rngs=rngs,
          dtype=dtype,
      )

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def __call__(self, x: jax.Array):
    """Features [B, C, T, F] -> {'sed', 'doa'} or multi-ACCDOA [B, T', D]."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    sed_emb = self.sed_module.embed(x, 'sed_module' in self.frozen)
    doa_emb = self.doa_module.embed(x, 'doa_module' in self.frozen)
    if self.output == 'sed_doa':
      sed = self.sed_module.head(sed_emb)
      doa = jnp.tanh(self.doa_module.head(doa_emb))
      return {'sed': sed.astype(jnp.float32), 'doa': doa.astype(jnp.float32)}
    h = self.alignment(jnp.concatenate([sed_emb, doa_emb], axis=-1))
    y = self.head(jax.nn.relu(self.align_fc(h)))
    y = crnn.apply_output_activation(y, self.output, self.num_classes)
    return y.astype(jnp.float32)

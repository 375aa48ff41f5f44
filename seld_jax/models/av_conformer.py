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

"""AV-Conformer and CMAF: fusion of audio and visual embeddings for SELD.

Berghi, Wu, Zhao, Wang, Jackson, "Fusion of audio and visual embeddings for
sound event localization and detection" (ICASSP 2024; code
dberghi/AV-SELD, `models/AV_SELD_model.py`, `models/audio_encoder.py`,
`models/CMAF.py`):

  audio encoder  4 x residual conv block (Conv3x3-BN-ReLU, Conv3x3-BN-ReLU,
                 average pool; shortcut: strided 1x1 conv + BN; widths
                 64-128-256-512), mean over frequency, a 4-layer Conformer
                 (d 512, 8 heads, feed-forward 1024, depthwise kernel 51,
                 dropout 0.1; torchaudio's, no positional encoding)
                 -> LayerNorm                                   [B, T, 512]
  visual         pre-extracted embeddings (ResNet-50 of the left and right
                 halves of the 360-degree frame, 2 x 2048 = 4096; or I3D,
                 2 x 1024 = 2048) -> Linear(-> 512) [-> Conformer, the
                 DCASE2024 report's variant] -> LayerNorm       [B, T, 512]
  fusion 'conformer' (AV-Conformer): concatenate along features [B, T, 1024]
                 -> a 4-layer Conformer (d 1024, 8 heads, feed-forward 1024,
                 kernel 51)
  fusion 'cmaf'  (cross-modal attentive fusion): 4 pairs of CMAF layers,
                 audio <- visual then visual <- the updated audio; a layer
                 adds sinusoidal positions to both inputs, then
                 x = LN(x + SelfAttn(x) + CrossAttn(x, y)),
                 x = LN(x + FFN(x)) (ReLU, 4 d); the two streams are
                 concatenated [B, T, 1024]
  fusion 'none'  the audio embedding alone (the audio-only model; pre-train
                 the audio encoder with it, as the paper pre-trains its
                 encoder on audio-only SELD)
  head           Linear(-> 128) -> Linear(128 -> out) (no activation in
                 between) -> the output activation of `crnn.OUTPUTS` (tanh for
                 multi-ACCDOA, as the paper).

The Conformer layers are `conformer.ConformerBlock` (the same parameters as
torchaudio's `ConformerLayer`); the residual conv block generalises the
paper's fixed 2x2 pool to per-block (time, frequency) pools so that the
features' frame rate can be pooled to the label rate (50 -> 10 fps: one
time pool of 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import av_baseline
from seld_jax.models import conformer
from seld_jax.models import crnn
from seld_jax.models import layers

FUSIONS = ('conformer', 'cmaf', 'none')


def _conv(cin, cout, kernel, stride, *, rngs, dtype) -> nnx.Conv:
  pad = kernel // 2
  return nnx.Conv(
      cin,
      cout,
      kernel_size=(kernel, kernel),
      strides=tuple(stride),
      padding=((pad, pad), (pad, pad)),
      use_bias=False,
      kernel_init=layers.torch_uniform(cin * kernel * kernel),
      dtype=dtype,
      rngs=rngs,
  )


def _bn(n: int, *, rngs, dtype) -> nnx.BatchNorm:
  return nnx.BatchNorm(n, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs)


def _ffn_mult(ffn_dim: int, dim: int) -> int:
  if ffn_dim % dim:
    raise ValueError(
        f'ffn_dim {ffn_dim} must be a multiple of the Conformer width {dim}.'
    )
  return ffn_dim // dim


class ResidualPoolBlock(nnx.Module):
  """The paper's audio conv block (NHWC).

  y = AvgPool(ReLU(BN(Conv3x3(ReLU(BN(Conv3x3(x)))))))
  out = y + BN(Conv1x1(x, stride=pool))      (no ReLU after the sum)
  """

  def __init__(
      self,
      in_channels: int,
      out_channels: int,
      pool: tuple[int, int],
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    kw = dict(rngs=rngs, dtype=dtype)
    self.pool = tuple(pool)
    self.shortcut = _conv(in_channels, out_channels, 1, self.pool, **kw)
    self.shortcut_bn = _bn(out_channels, **kw)
    self.conv1 = _conv(in_channels, out_channels, 3, (1, 1), **kw)
    self.bn1 = _bn(out_channels, **kw)
    self.conv2 = _conv(out_channels, out_channels, 3, (1, 1), **kw)
    self.bn2 = _bn(out_channels, **kw)

  def __call__(self, x: jax.Array) -> jax.Array:
    r = self.shortcut_bn(self.shortcut(x))
    y = jax.nn.relu(self.bn1(self.conv1(x)))
    y = jax.nn.relu(self.bn2(self.conv2(y)))
    y = layers.pool2d(y, self.pool, 'avg')
    # A strided 1x1 conv keeps ceil(n / s) rows, the pool floor(n / s).
    return y + r[:, : y.shape[1], : y.shape[2]]


class AudioEncoder(nnx.Module):
  """Features [B, C, T, F] -> [B, T', channels[-1]] (CNN, then Conformer)."""

  def __init__(
      self,
      in_channels: int,
      *,
      channels: Sequence[int] = (64, 128, 256, 512),
      t_pool: Sequence[int] = (1, 5, 1, 1),
      f_pool: Sequence[int] = (2, 2, 2, 2),
      num_layers: int = 4,
      num_heads: int = 8,
      ffn_dim: int = 1024,
      kernel_size: int = 51,
      dropout: float = 0.1,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    if not len(channels) == len(t_pool) == len(f_pool):
      raise ValueError('channels, t_pool, f_pool: one entry per block.')
    self.time_pool = math.prod(t_pool)
    cins = (in_channels, *channels[:-1])
    self.blocks = nnx.List([
        ResidualPoolBlock(cin, cout, (t, f), rngs=rngs, dtype=dtype)
        for cin, cout, t, f in zip(cins, channels, t_pool, f_pool)
    ])
    dim = channels[-1]
    mult = _ffn_mult(ffn_dim, dim)
    self.conformer = nnx.List([
        conformer.ConformerBlock(
            dim,
            num_heads,
            mult,
            kernel_size,
            dropout,
            None,
            rngs=rngs,
            dtype=dtype,
        )
        for _ in range(num_layers)
    ])

  def __call__(self, x: jax.Array) -> jax.Array:
    x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC [B, T, F, C]
    for block in self.blocks:
      x = block(x)
    x = jnp.mean(x, axis=2)  # over frequency -> [B, T', C]
    for block in self.conformer:
      x = block(x)
    return x


class CMAFLayer(nnx.Module):
  """One cross-modal attentive fusion layer: x attends to itself and to y.

  x, y = x + PE, y + PE                  (sinusoidal, with dropout)
  x = LN(x + SelfAttn(x) + CrossAttn(x, y))
  x = LN(x + Dropout(Linear(Dropout(ReLU(Linear(x))))))
  """

  def __init__(
      self,
      dim: int,
      num_heads: int,
      ffn_mult: int = 4,
      dropout: float = 0.1,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.self_attn = av_baseline.multi_head_attention(
        dim, num_heads, dropout, rngs=rngs, dtype=dtype
    )
    self.cross_attn = av_baseline.multi_head_attention(
        dim, num_heads, dropout, rngs=rngs, dtype=dtype
    )
    self.linear1 = layers.linear(dim, ffn_mult * dim, rngs=rngs, dtype=dtype)
    self.linear2 = layers.linear(ffn_mult * dim, dim, rngs=rngs, dtype=dtype)
    self.norm1 = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
    self.norm2 = nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def _positions(self, x: jax.Array) -> jax.Array:
    pe = conformer.sinusoidal_positions(x.shape[1], x.shape[2])
    return self.dropout(x + jnp.asarray(pe, x.dtype))

  def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
    x, y = self._positions(x), self._positions(y)
    x = self.norm1(x + self.self_attn(x) + self.cross_attn(x, y))
    h = self.linear2(self.dropout(jax.nn.relu(self.linear1(x))))
    return self.norm2(x + self.dropout(h))


class AVConformer(nnx.Module):
  """Audio encoder + visual projection + AV-Conformer / CMAF fusion + head."""

  def __init__(
      self,
      in_channels: int = 7,
      num_freq_bins: int = 64,
      num_classes: int = 13,
      *,
      output: str = 'multi_accdoa',
      fusion: str = 'conformer',
      visual_dim: int | None = 4096,
      visual_frontend: Mapping[str, Any] | None = None,
      visual_size: tuple[int, int] | None = None,
      audio_channels: Sequence[int] = (64, 128, 256, 512),
      t_pool: Sequence[int] = (1, 5, 1, 1),
      f_pool: Sequence[int] = (2, 2, 2, 2),
      audio_layers: int = 4,
      visual_width: int = 512,
      visual_layers: int = 0,
      fusion_layers: int = 4,
      num_heads: int = 8,
      ffn_dim: int = 1024,
      kernel_size: int = 51,
      cmaf_ffn_mult: int = 4,
      fnn_size: int = 128,
      dropout: float = 0.1,
      blind: bool = False,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    """Builds the model.

    Args:
      in_channels: feature channels (7 for FOA log-mel + IV).
      num_freq_bins: feature bins (must survive the frequency pools).
      num_classes: classes.
      output: a `crnn.OUTPUTS` name.
      fusion: 'conformer' (AV-Conformer), 'cmaf' or 'none' (audio only).
      visual_dim: values per label frame of pre-extracted embeddings (4096:
        ResNet-50 left + right; 2048: I3D left + right); ignored with a
        front end.
      visual_frontend: `dict(name=..., pooling=..., **kwargs)` to read raw
        uint8 frames through `seld_jax.models.visual`.
      visual_size: (height, width) of the raw frames (with a front end).
      audio_channels: widths of the residual conv blocks; the last one is
        the audio Conformer's width.
      t_pool: time pool of each block (their product: feature frames per
        output frame).
      f_pool: frequency pool of each block.
      audio_layers: Conformer layers of the audio encoder.
      visual_width: width of the projected visual embedding; must equal the
        audio width for 'cmaf'.
      visual_layers: Conformer layers on the projected visual embedding (0
        in the paper's code; the DCASE2024 report adds 4 for ResNet-50).
      fusion_layers: fusion Conformer layers ('conformer') or CMAF layer
        pairs ('cmaf').
      num_heads: attention heads everywhere.
      ffn_dim: feed-forward width of every Conformer layer.
      kernel_size: depthwise kernel of every Conformer layer.
      cmaf_ffn_mult: feed-forward expansion of the CMAF layers.
      fnn_size: hidden width of the head.
      dropout: dropout everywhere.
      blind: the audio-only control with the same parameters: the visual
        input is zeroed after the front end, so the fusion sees a constant
        visual stream (for measuring what the video adds at equal size and
        number of steps).
      dtype: computation dtype.
      rngs: initialisation and dropout.
    """
    if output not in crnn.OUTPUTS:
      raise ValueError(
          f'Unknown output {output!r}; known: {sorted(crnn.OUTPUTS)}.'
      )
    if fusion not in FUSIONS:
      raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}.')
    if blind and fusion == 'none':
      raise ValueError("blind needs a fusion; fusion='none' has no video.")
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.output = output
    self.fusion = fusion
    self.blind = bool(blind)
    self.dtype = dtype
    kw = dict(rngs=rngs, dtype=dtype)
    freq_out = num_freq_bins
    for f in f_pool:
      freq_out //= f
    if freq_out < 1:
      raise ValueError(
          f'{num_freq_bins} frequency bins pool to zero with f_pool={f_pool}.'
      )
    self.audio_encoder = AudioEncoder(
        in_channels,
        channels=audio_channels,
        t_pool=t_pool,
        f_pool=f_pool,
        num_layers=audio_layers,
        num_heads=num_heads,
        ffn_dim=ffn_dim,
        kernel_size=kernel_size,
        dropout=dropout,
        **kw,
    )
    self.time_pool = self.audio_encoder.time_pool
    audio_width = audio_channels[-1]
    self.audio_norm = nnx.LayerNorm(audio_width, epsilon=1e-5, **kw)

    if fusion == 'none':
      self.visual_frontend, self.visual_dim = None, None
      head_in = audio_width
    else:
      if fusion == 'cmaf' and visual_width != audio_width:
        raise ValueError(
            f"fusion='cmaf' needs visual_width == {audio_width} (the audio "
            f'width), got {visual_width}.'
        )
      self.visual_frontend, frontend_dim = av_baseline.create_visual_frontend(
          visual_frontend, visual_size, **kw
      )
      self.visual_dim = av_baseline.resolve_visual_dim(visual_dim, frontend_dim)
      self.visual_proj = layers.linear(self.visual_dim, visual_width, **kw)
      vmult = _ffn_mult(ffn_dim, visual_width) if visual_layers else 1
      self.visual_conformer = nnx.List([
          conformer.ConformerBlock(
              visual_width, num_heads, vmult, kernel_size, dropout, None, **kw
          )
          for _ in range(visual_layers)
      ])
      self.visual_norm = nnx.LayerNorm(visual_width, epsilon=1e-5, **kw)
      head_in = audio_width + visual_width
      if fusion == 'conformer':
        mult = _ffn_mult(ffn_dim, head_in)
        self.fusion_blocks = nnx.List([
            conformer.ConformerBlock(
                head_in, num_heads, mult, kernel_size, dropout, None, **kw
            )
            for _ in range(fusion_layers)
        ])
      else:
        self.audio_to_visual = nnx.List([
            CMAFLayer(audio_width, num_heads, cmaf_ffn_mult, dropout, **kw)
            for _ in range(fusion_layers)
        ])
        self.visual_to_audio = nnx.List([
            CMAFLayer(audio_width, num_heads, cmaf_ffn_mult, dropout, **kw)
            for _ in range(fusion_layers)
        ])
    self.fnn = layers.linear(head_in, fnn_size, **kw)
    self.head = layers.linear(
        fnn_size, crnn.output_size(output, num_classes), **kw
    )

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def embed_audio(self, x: jax.Array) -> jax.Array:
    """Features [B, C, T, F] -> normalised audio embedding [B, T', d]."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    return self.audio_norm(self.audio_encoder(x))

  def embed_visual(self, visual: jax.Array, num_frames: int) -> jax.Array:
    """Visual input -> normalised visual embedding [B, T', d_visual]."""
    v = av_baseline.visual_sequence(
        visual, self.visual_frontend, self.visual_dim, num_frames, self.dtype
    )
    if self.blind:
      v = jnp.zeros_like(v)
    v = self.visual_proj(v)
    for block in self.visual_conformer:
      v = block(v)
    return self.visual_norm(v)

  def __call__(
      self, x: jax.Array, visual: jax.Array | None = None
  ) -> jax.Array:
    """Features [B, C, T, F] and visual input -> [B, T', out]."""
    if self.fusion == 'none':
      if visual is not None:
        raise ValueError("fusion='none' is audio only; got a visual input.")
      h = self.embed_audio(x)
    else:
      if visual is None:
        raise ValueError(f'fusion={self.fusion!r} needs the visual input.')
      v = self.embed_visual(visual, self.output_frames(x.shape[2]))
      a = self.embed_audio(x)
      if self.fusion == 'conformer':
        h = jnp.concatenate([a, v], axis=-1)
        for block in self.fusion_blocks:
          h = block(h)
      else:
        for a2v, v2a in zip(self.audio_to_visual, self.visual_to_audio):
          a = a2v(a, v)
          v = v2a(v, a)
        h = jnp.concatenate([a, v], axis=-1)
    y = self.head(self.fnn(h))
    y = crnn.apply_output_activation(y, self.output, self.num_classes)
    return y.astype(jnp.float32)

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

"""ASMA-SELD: the DCASE2025 stereo audio-visual baseline with spatial cues.

Dayarneh, "ASMA-SELD: Advanced Spatial-aware Multi-modal Attention for Sound
Event Localization and Detection" (DCASE2025 Task 3; code
NutrinoDaya/ASMA-SELD, `models/ASMA_SELD.py` and `models/ablation/`). The
network is the DCASE2025 AV baseline (`av_baseline.AVSeldCRNN` on stereo
log-mels) with three additions, each switchable for the ablations:

  input      stereo log-mel [B, 2, T, F] (dB, not normalised: DCASE2025)
  use_phase  the inter-channel level difference ILD = L - R of the log-mels
             (the reference calls it the 'phase difference'; stereo log-mels
             carry no phase) -> Conv3x3(1 -> 4, no bias) -> BN -> ReLU,
             concatenated to the input: 6 channels
  use_se     squeeze-and-excitation in each conv block: Conv3x3 -> BN ->
             SE (global average, Linear(C -> C/8) -> ReLU -> Linear(C/8 ->
             C) -> sigmoid, no biases; channels rescaled) -> ReLU ->
             MaxPool -> Dropout2d
             (otherwise the baseline's conv block)
  then       BiGRU(128, 2 layers) -> tanh -> backward x forward half ->
             2 x MHSA(8 heads) + residual + LayerNorm, as the baseline
  use_visual visual [B, T', 49] (or any per-frame embedding / front end) ->
             Linear(-> 128) and
    use_transformer  2 x TransformerDecoderLayer (audio tokens attend to the
             visual tokens; the baseline's fusion)
    otherwise  concat [audio, visual] -> Linear(256 -> 128)
  head       Linear(128 -> 128) -> Linear(128 -> 3 x 4 x 13) with tanh on
             x, y, ReLU on distance, sigmoid on on-screen
             (`multi_accdoa_stereo_av`; `multi_accdoa_stereo` (117) for the
             audio-only model).

With every component off (`use_phase=use_se=False`, the decoder fusion) the
model is the DCASE2025 AV baseline, parameter for parameter (2,064,348).
The full model has 2,069,768 parameters (+2,304 for the 4 extra input
channels of the first conv, +44 for the ILD encoder, +3 x 1,024 for the SE
blocks).
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
from seld_jax.models import crnn
from seld_jax.models import layers


def interchannel_level_difference(features: jax.Array) -> jax.Array:
  """ILD of stereo log-magnitude features [B, 2, T, F] -> [B, 1, T, F].

  The difference of the two channels' dB values (left minus right); for
  log-mel features it is the per-band level difference.
  """
  if features.ndim != 4 or features.shape[1] < 2:
    raise ValueError(
        f'Expected stereo features [B, 2, T, F], got {features.shape}.'
    )
  return features[:, 0:1] - features[:, 1:2]


class SqueezeExcitation(nnx.Module):
  """Channel attention (Hu et al. 2018) on NHWC maps, without biases."""

  def __init__(
      self, channels: int, reduction: int = 8, *, rngs: nnx.Rngs, dtype=None
  ):
    hidden = max(1, channels // reduction)
    kw = dict(rngs=rngs, dtype=dtype, use_bias=False)
    self.fc1 = layers.linear(channels, hidden, **kw)
    self.fc2 = layers.linear(hidden, channels, **kw)

  def gates(self, squeezed: jax.Array) -> jax.Array:
    """Channel means [B, C] -> gates in (0, 1) [B, C]."""
    return jax.nn.sigmoid(self.fc2(jax.nn.relu(self.fc1(squeezed))))

  def __call__(self, x: jax.Array) -> jax.Array:
    return x * self.gates(jnp.mean(x, axis=(1, 2)))[:, None, None, :]


class SEConvBlock(layers.ConvBlock):
  """Conv3x3 -> BN -> SE -> ReLU -> MaxPool -> Dropout2d (NHWC)."""

  def __init__(
      self,
      in_channels: int,
      out_channels: int,
      pool: tuple[int, int],
      dropout: float,
      reduction: int = 8,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    super().__init__(
        in_channels, out_channels, pool, dropout, rngs=rngs, dtype=dtype
    )
    self.se = SqueezeExcitation(out_channels, reduction, rngs=rngs, dtype=dtype)

  def __call__(self, x: jax.Array) -> jax.Array:
    # ReLU and max-pool commute, and so do the BatchNorm and the SE's
    # positive gates (`layers.batch_norm_max_pool`): all run on the pooled
    # tensor.
    y, bias = self.convolve(x)
    x = layers.batch_norm_max_pool(
        self.bn, y, self.pool, shift=bias, channel_gate=self.se.gates
    )
    return self.dropout(jax.nn.relu(x))


class ASMASeld(nnx.Module):
  """ASMA-SELD with switches for its ablations (see the module docstring)."""

  def __init__(
      self,
      in_channels: int = 2,
      num_freq_bins: int = 64,
      num_classes: int = 13,
      *,
      output: str = 'multi_accdoa_stereo_av',
      use_phase: bool = True,
      use_se: bool = True,
      use_transformer: bool = True,
      use_visual: bool = True,
      visual_dim: int | None = 49,
      visual_frontend: Mapping[str, Any] | None = None,
      visual_size: tuple[int, int] | None = None,
      phase_channels: int = 4,
      se_reduction: int = 8,
      conv_channels: int = 64,
      t_pool: Sequence[int] = (5, 1, 1),
      f_pool: Sequence[int] = (4, 4, 2),
      rnn_size: int = 128,
      rnn_layers: int = 2,
      num_attention_layers: int = 2,
      num_heads: int = 8,
      num_decoder_layers: int = 2,
      decoder_heads: int = 8,
      decoder_ffn_dim: int = 2048,
      decoder_dropout: float = 0.1,
      decoder_norm_first: bool = False,
      cross_attention_window: int | None = None,
      fnn_size: int = 128,
      dropout: float = 0.05,
      blind: bool = False,
      visual_dropout: float = 0.0,
      zero_visual_embed: bool = False,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    """Builds the model.

    Args:
      in_channels: feature channels (2: stereo log-mel).
      num_freq_bins: feature bins.
      num_classes: classes.
      output: a `crnn.OUTPUTS` name ('multi_accdoa_stereo_av' for the
        audio-visual model, 'multi_accdoa_stereo' audio only).
      use_phase: add the ILD encoder branch.
      use_se: squeeze-and-excitation in the conv blocks.
      use_transformer: fuse the visual tokens with the transformer decoder
        (else concatenation + linear projection).
      use_visual: audio-visual (else audio only: no visual layers).
      visual_dim: values per label frame of pre-extracted embeddings (49,
        the official 7x7 maps); ignored with a front end.
      visual_frontend: `dict(name=..., pooling=..., **kwargs)` to read raw
        uint8 frames through `seld_jax.models.visual`.
      visual_size: (height, width) of the raw frames (with a front end).
      phase_channels: output channels of the ILD encoder.
      se_reduction: SE bottleneck reduction.
      conv_channels: conv block width.
      t_pool: time pool per conv block.
      f_pool: frequency pool per conv block.
      rnn_size: GRU width (also the attention and fusion width).
      rnn_layers: GRU layers.
      num_attention_layers: MHSA blocks.
      num_heads: MHSA heads.
      num_decoder_layers: transformer decoder layers of the fusion.
      decoder_heads: heads of the decoder.
      decoder_ffn_dim: feed-forward width of the decoder.
      decoder_dropout: dropout of the decoder.
      decoder_norm_first: False (the reference): post-norm decoder layers,
        as torch's default; True: pre-norm (torch's `norm_first=True`), a
        variant for the fusion study in docs/models.md.
      cross_attention_window: None (the reference): every audio frame of
        the decoder attends to every visual frame of the window. k >= 0:
        only to the visual frames within k label frames of its own
        (`av_baseline.local_attention_mask`; 0 pairs each audio frame with
        its own video frame). No parameters change.
      fnn_size: hidden width of the head.
      dropout: dropout of the conv blocks, GRU and MHSA.
      blind: the audio-only control with the same parameters (the visual
        input is zeroed before the fusion), as `av_baseline.AVSeldCRNN`.
      visual_dropout: modality dropout: in training, the probability that
        an example's visual input is zeroed before the fusion, as `blind`
        does for all (`layers.ModalityDropout`; 0: off).
      zero_visual_embed: start the visual projection's kernel at zero
        (its bias as usual), so that the fusion sees the same constant
        memory as the `blind` control until training moves the kernel; the
        zero-initialised new branch of ControlNet (Zhang et al. 2023). An
        AV model initialised from its blind control's checkpoint with this
        kernel left out (`config.init_skip`) then starts as that control,
        output for output.
      dtype: computation dtype.
      rngs: initialisation and dropout.
    """
    if output not in crnn.OUTPUTS:
      raise ValueError(
          f'Unknown output {output!r}; known: {sorted(crnn.OUTPUTS)}.'
      )
    if use_phase and in_channels != 2:
      raise ValueError(
          f'use_phase needs stereo features (2 channels), got {in_channels}.'
      )
    self.in_channels = in_channels
    self.num_freq_bins = num_freq_bins
    self.num_classes = num_classes
    self.output = output
    self.use_phase = use_phase
    self.use_transformer = use_transformer
    self.use_visual = use_visual
    self.blind = bool(blind)
    for name, value in (
        ('cross_attention_window', cross_attention_window is not None),
        ('decoder_norm_first', decoder_norm_first),
    ):
      if value and not (use_visual and use_transformer):
        raise ValueError(
            f'{name} needs the decoder fusion '
            '(use_visual=True, use_transformer=True).'
        )
    if cross_attention_window is not None:
      if int(cross_attention_window) < 0:
        raise ValueError(
            'cross_attention_window must be None or >= 0, got '
            f'{cross_attention_window}.'
        )
      cross_attention_window = int(cross_attention_window)
    self.cross_attention_window = cross_attention_window
    self.dtype = dtype
    kw = dict(rngs=rngs, dtype=dtype)

    # Audio: ILD branch, conv blocks, BiGRU, MHSA.
    conv_in = in_channels
    if use_phase:
      self.phase_encoder = nnx.Conv(
          1,
          phase_channels,
          kernel_size=(3, 3),
          padding=((1, 1), (1, 1)),
          use_bias=False,
          kernel_init=layers.torch_uniform(9),
          **kw,
      )
      self.phase_bn = nnx.BatchNorm(
          phase_channels, momentum=0.9, epsilon=1e-5, **kw
      )
      conv_in += phase_channels
    if use_se:
      if len(t_pool) != len(f_pool):
        raise ValueError('t_pool and f_pool need one entry per conv block.')
      self.conv_blocks = nnx.List([
          SEConvBlock(
              conv_in if i == 0 else conv_channels,
              conv_channels,
              pool,
              dropout,
              se_reduction,
              **kw,
          )
          for i, pool in enumerate(zip(t_pool, f_pool))
      ])
      self.time_pool = math.prod(t_pool)
      freq_out = num_freq_bins
      for f in f_pool:
        freq_out //= f
      if freq_out < 1:
        raise ValueError(
            f'{num_freq_bins} frequency bins pool to zero with f_pool={f_pool}.'
        )
    else:  # the baseline's blocks
      self.conv_blocks, self.time_pool, freq_out = layers.conv_stack(
          conv_in, conv_channels, num_freq_bins, t_pool, f_pool, dropout, **kw
      )
    self.gru = layers.BiGRU(
        conv_channels * freq_out, rnn_size, rnn_layers, dropout, **kw
    )
    self.attention_blocks = nnx.List([
        layers.SelfAttentionBlock(rnn_size, num_heads, dropout, **kw)
        for _ in range(num_attention_layers)
    ])

    # Visual fusion.
    if use_visual:
      self.visual_frontend, frontend_dim = av_baseline.create_visual_frontend(
          visual_frontend, visual_size, **kw
      )
      self.visual_dim = av_baseline.resolve_visual_dim(visual_dim, frontend_dim)
      self.visual_embed = layers.linear(self.visual_dim, rnn_size, **kw)
      if zero_visual_embed:
        self.visual_embed.kernel.value = jnp.zeros_like(
            self.visual_embed.kernel.value
        )
      self.modality_dropout = (
          layers.ModalityDropout(visual_dropout, rngs=rngs)
          if visual_dropout
          else None
      )
      if use_transformer:
        self.decoder_layers = nnx.List([
            av_baseline.TransformerDecoderLayer(
                rnn_size,
                decoder_heads,
                decoder_ffn_dim,
                decoder_dropout,
                norm_first=decoder_norm_first,
                **kw,
            )
            for _ in range(num_decoder_layers)
        ])
      else:
        self.fusion_proj = layers.linear(2 * rnn_size, rnn_size, **kw)
    else:
      if visual_dropout or zero_visual_embed:
        raise ValueError(
            'visual_dropout and zero_visual_embed need use_visual=True.'
        )
      self.visual_frontend, self.visual_dim = None, None

    # Head (a list, as `crnn.SeldCRNN`'s, so that the baseline's weight
    # importer `convert.torch_crnn` reads the audio path and head).
    self.fnn = nnx.List([layers.linear(rnn_size, fnn_size, **kw)])
    self.head = layers.linear(
        fnn_size, crnn.output_size(output, num_classes), **kw
    )

  def output_frames(self, num_feature_frames: int) -> int:
    return num_feature_frames // self.time_pool

  def embed(self, x: jax.Array) -> jax.Array:
    """Features [B, C, T, F] -> the MHSA output [B, T', rnn_size]."""
    x = layers.check_features(
        x, self.in_channels, self.num_freq_bins, self.dtype
    )
    if self.use_phase:
      ild = jnp.transpose(interchannel_level_difference(x), (0, 2, 3, 1))
      ild = jax.nn.relu(self.phase_bn(self.phase_encoder(ild)))
      x = jnp.concatenate([jnp.transpose(x, (0, 2, 3, 1)), ild], axis=-1)
    else:
      x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC
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

  def __call__(
      self, x: jax.Array, visual: jax.Array | None = None
  ) -> jax.Array:
    """Stereo features [B, 2, T, F] (and visual input) -> [B, T', out].

    An audio-visual model called without `visual` skips the fusion, as the
    reference does.
    """
    memory = None
    if visual is not None:
      if not self.use_visual:
        raise ValueError('This model is audio only (use_visual=False).')
      v = av_baseline.visual_sequence(
          visual,
          self.visual_frontend,
          self.visual_dim,
          self.output_frames(x.shape[2]),
          self.dtype,
      )
      if self.blind:
        v = jnp.zeros_like(v)
      elif self.modality_dropout is not None:
        v = self.modality_dropout(v)
      memory = self.visual_embed(v)
    a = self.embed(x)
    if memory is not None:
      if self.use_transformer:
        mask = None
        if self.cross_attention_window is not None:
          mask = av_baseline.local_attention_mask(
              a.shape[1], memory.shape[1], self.cross_attention_window
          )
        for layer in self.decoder_layers:
          a = layer(a, memory, mask)
      else:
        a = self.fusion_proj(jnp.concatenate([a, memory], axis=-1))
    for layer in self.fnn:
      a = layer(a)
    y = crnn.apply_output_activation(
        self.head(a), self.output, self.num_classes
    )
    return y.astype(jnp.float32)

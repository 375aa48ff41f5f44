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

"""The DCASE2024/2025 audio-visual baseline (SPEC §3.2, 'Audio-visual').

  audio  [B, Cin, T, F] -> the CRNN of `crnn.SeldCRNN` up to its MHSA
         blocks (conv stack, BiGRU, 2 x MHSA)          -> tgt [B, T', 128]
  visual [B, T', 7, 7] (the official ResNet-50 map averaged over channels,
         SPEC §1.4) -> per frame [B, T', 49] -> Linear(49 -> 128) -> memory
  2 x TransformerDecoderLayer(d_model 128, 8 heads, feed-forward 2048,
         dropout 0.1, ReLU, post-norm): self-attention on tgt, then
         cross-attention to memory, then the feed-forward block
  the CRNN head: Linear(128 -> 128) -> Linear(128 -> out) + its activation
         (`multi_accdoa_distance`: 2024, linear, 156 for 13 classes;
         `multi_accdoa_stereo_av`: 2025, tanh x/y, ReLU distance, sigmoid
         on-screen, 156).

The model is `crnn.SeldCRNN` plus the fusion layers, so the audio path keeps
its parameter names: `seld_jax.convert.torch_crnn.load_into` loads the
official 2024/2025 audio-visual `state_dict`s whole, and an audio-only one
into the audio path with `strict=False`. Parameter counts
are those of the references: 2024 FOA 2,067,228 and 2025 stereo 2,064,348
(the audio CRNN plus 1,325,056 for the fusion, SPEC §3.4). The reference
module also registers the template `transformer_decoder_layer` that
`nn.TransformerDecoder` deep-copies: 659,328 parameters more in its
`parameters()` and `state_dict`, never used.

This module also holds what the audio-visual models share: the visual input
(`visual_sequence`: float pre-extracted embeddings, one row per label frame,
flattened per frame; or uint8 video frames through a `seld_jax.models.visual`
front end that the model owns as its `visual_frontend` attribute) and
torch's `TransformerDecoderLayer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp

from seld_jax.models import crnn
from seld_jax.models import layers
from seld_jax.models import visual as visual_lib

# Visual input
# -----------------------------------------------------------------------------


def create_visual_frontend(
    visual_frontend: Mapping[str, Any] | None,
    visual_size: tuple[int, int] | None,
    *,
    rngs: nnx.Rngs,
    dtype=None,
) -> tuple[nnx.Module | None, int | None]:
  """The raw-frame front end named by `visual_frontend`, and its output size.

  Args:
    visual_frontend: None (the model reads pre-extracted embeddings) or
      `dict(name=..., pooling=..., **kwargs)` for
      `seld_jax.models.visual.create_frontend`.
    visual_size: (height, width) of the frames the front end will see.
    rngs: parameter initialisation.
    dtype: computation dtype.

  Returns:
    (front end or None, its per-frame output size D or None).
  """
  if not visual_frontend:
    return None, None
  kwargs = dict(visual_frontend)
  if 'name' not in kwargs:
    raise ValueError(f'visual_frontend needs a name, got {kwargs}.')
  if visual_size is None or len(tuple(visual_size)) != 2:
    raise ValueError(
        'A visual_frontend needs visual_size=(height, width) of the frames, '
        f'got {visual_size!r}.'
    )
  name = kwargs.pop('name')
  frontend = visual_lib.create_frontend(name, rngs=rngs, dtype=dtype, **kwargs)
  return frontend, int(frontend.output_dim(*tuple(visual_size)))


def resolve_visual_dim(visual_dim: int | None, frontend_dim: int | None) -> int:
  """The per-frame visual size: the front end's if any, else `visual_dim`."""
  if frontend_dim is not None:
    return frontend_dim
  if not visual_dim:
    raise ValueError(
        'Give visual_dim (pre-extracted embeddings) or visual_frontend + '
        'visual_size (raw frames).'
    )
  return int(visual_dim)


def visual_sequence(
    visual: jax.Array,
    frontend: nnx.Module | None,
    dim: int,
    num_frames: int,
    dtype=None,
) -> jax.Array:
  """The model's visual input as one vector per label frame, [B, T, D].

  Integer (uint8) input is video frames [B, T, H, W, 3] and goes through the
  model's front end; float input is pre-extracted embeddings [B, T, D] (or
  [B, T, h, w], [B, T, h, w, C], flattened per frame). A model with a front
  end takes both: frames, or the embeddings that front end wrote to a store
  (`config.visual = 'embeddings'`).

  Args:
    visual: frames or embeddings, as above.
    frontend: the model's `visual_frontend` or None.
    dim: the expected D.
    num_frames: the expected T (the model's output frames).
    dtype: computation dtype (float32 when None).

  Returns:
    float [B, T, D].
  """
  if visual.ndim < 3:
    raise ValueError(f'Expected visual input [B, T, ...], got {visual.shape}.')
  if jnp.issubdtype(visual.dtype, jnp.integer):
    if frontend is None:
      raise ValueError(
          f'Integer visual input {visual.shape} is video frames; build the '
          'model with visual_frontend=dict(name=..., pooling=...) and '
          'visual_size=(height, width) to read them.'
      )
    if visual.ndim != 5 or visual.shape[-1] != 3:
      raise ValueError(
          f'Expected video frames [B, T, H, W, 3], got {visual.shape}.'
      )
    v = frontend(visual)
  else:
    v = visual.reshape(visual.shape[0], visual.shape[1], -1)
  if v.shape[-1] != dim:
    raise ValueError(
        f'Visual input has {v.shape[-1]} values per frame, the model was '
        f'built for {dim} (visual_dim / visual_frontend).'
    )
  if v.shape[1] != num_frames:
    raise ValueError(
        f'Visual input has {v.shape[1]} frames, the audio gives {num_frames} '
        'output frames: the visual input needs one row per label frame.'
    )
  return v.astype(dtype or jnp.float32)


# Attention layers
# -----------------------------------------------------------------------------


def multi_head_attention(
    dim: int, num_heads: int, dropout: float, *, rngs: nnx.Rngs, dtype=None
) -> nnx.MultiHeadAttention:
  """`torch.nn.MultiheadAttention(dim, num_heads, dropout)` (batch first).

  Same parameters (q, k, v and output projections with biases), torch's
  initialisers (Xavier-uniform projections, zero biases), dropout on the
  attention weights, independent per example.
  """
  if dim % num_heads:
    raise ValueError(f'Width {dim} is not divisible by {num_heads} heads.')
  return nnx.MultiHeadAttention(
      num_heads=num_heads,
      in_features=dim,
      qkv_features=dim,
      out_features=dim,
      dropout_rate=dropout,
      broadcast_dropout=False,
      deterministic=False,
      kernel_init=jax.nn.initializers.xavier_uniform(),
      out_kernel_init=layers.torch_uniform(dim),
      bias_init=jax.nn.initializers.zeros,
      decode=False,
      dtype=dtype,
      rngs=rngs,
  )


def local_attention_mask(
    num_queries: int, num_keys: int, window: int
) -> jax.Array:
  """Bool [1, 1, T, S]: query t may attend to key s where |t - s| <= window.

  For a decoder whose queries (audio frames) and keys (visual frames) share
  one time axis: `window=0` pairs each audio frame with its own video frame.
  """
  if window < 0:
    raise ValueError(f'The attention window must be >= 0, got {window}.')
  t = jnp.arange(num_queries)[:, None]
  s = jnp.arange(num_keys)[None, :]
  return (jnp.abs(t - s) <= window)[None, None]


def _layer_norm(dim: int, rngs: nnx.Rngs, dtype) -> nnx.LayerNorm:
  return nnx.LayerNorm(dim, epsilon=1e-5, dtype=dtype, rngs=rngs)


class TransformerDecoderLayer(nnx.Module):
  """`torch.nn.TransformerDecoderLayer` (batch first, ReLU).

  Post-norm (the baselines' and torch's default):

    x = norm1(x + dropout(self_attn(x, x, x)))
    x = norm2(x + dropout(cross_attn(x, memory, memory)))
    x = norm3(x + dropout(linear2(dropout(relu(linear1(x))))))

  `norm_first=True` is torch's pre-norm variant (not the baselines'):

    x = x + dropout(self_attn(norm1(x)))
    x = x + dropout(cross_attn(norm2(x), memory, memory))
    x = x + dropout(linear2(dropout(relu(linear1(norm3(x))))))

  The baselines pass no masks; `memory_mask` is optional.
  """

  def __init__(
      self,
      dim: int,
      num_heads: int,
      ffn_dim: int = 2048,
      dropout: float = 0.1,
      *,
      norm_first: bool = False,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    self.norm_first = norm_first
    self.self_attn = multi_head_attention(
        dim, num_heads, dropout, rngs=rngs, dtype=dtype
    )
    self.cross_attn = multi_head_attention(
        dim, num_heads, dropout, rngs=rngs, dtype=dtype
    )
    self.linear1 = layers.linear(dim, ffn_dim, rngs=rngs, dtype=dtype)
    self.linear2 = layers.linear(ffn_dim, dim, rngs=rngs, dtype=dtype)
    self.norm1 = _layer_norm(dim, rngs, dtype)
    self.norm2 = _layer_norm(dim, rngs, dtype)
    self.norm3 = _layer_norm(dim, rngs, dtype)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)

  def __call__(
      self,
      x: jax.Array,
      memory: jax.Array,
      memory_mask: jax.Array | None = None,
  ) -> jax.Array:
    """x [B, T, d] attends to memory [B, S, d] -> [B, T, d].

    `memory_mask` (bool, broadcastable to [B, heads, T, S]; True where
    query t may attend to memory s) restricts the cross-attention, as
    torch's `memory_mask` with the opposite convention.
    """
    if self.norm_first:
      x = x + self.dropout(self.self_attn(self.norm1(x)))
      x = x + self.dropout(
          self.cross_attn(self.norm2(x), memory, mask=memory_mask)
      )
      return x + self.dropout(self._feed_forward(self.norm3(x)))
    x = self.norm1(x + self.dropout(self.self_attn(x)))
    x = self.norm2(
        x + self.dropout(self.cross_attn(x, memory, mask=memory_mask))
    )
    return self.norm3(x + self.dropout(self._feed_forward(x)))

  def _feed_forward(self, x: jax.Array) -> jax.Array:
    return self.linear2(self.dropout(jax.nn.relu(self.linear1(x))))


# The model
# -----------------------------------------------------------------------------


class AVSeldCRNN(crnn.SeldCRNN):
  """The DCASE2024/2025 audio-visual baseline: CRNN + transformer decoder."""

  def __init__(
      self,
      in_channels: int = 7,
      num_freq_bins: int = 64,
      num_classes: int = 13,
      *,
      output: str = 'multi_accdoa_distance',
      visual_dim: int | None = 49,
      visual_frontend: Mapping[str, Any] | None = None,
      visual_size: tuple[int, int] | None = None,
      num_decoder_layers: int = 2,
      decoder_heads: int = 8,
      decoder_ffn_dim: int = 2048,
      decoder_dropout: float = 0.1,
      decoder_norm_first: bool = False,
      blind: bool = False,
      visual_dropout: float = 0.0,
      dtype=None,
      rngs: nnx.Rngs,
      **crnn_kwargs,
  ):
    """Builds the model.

    Args:
      in_channels: feature channels (7 FOA, 10 MIC-GCC, 2 stereo).
      num_freq_bins: feature bins.
      num_classes: classes.
      output: a `crnn.OUTPUTS` name.
      visual_dim: values per label frame of pre-extracted embeddings (49 for
        the official 7x7 maps); ignored with a front end.
      visual_frontend: `dict(name=..., pooling=..., **kwargs)` to read raw
        uint8 frames through `seld_jax.models.visual`.
      visual_size: (height, width) of the raw frames (with a front end).
      num_decoder_layers: transformer decoder layers.
      decoder_heads: attention heads of the decoder.
      decoder_ffn_dim: feed-forward width of the decoder.
      decoder_dropout: dropout of the decoder.
      decoder_norm_first: pre-norm decoder layers (torch's
        `norm_first=True`); False, the baselines', is post-norm.
      blind: the audio-only control with the same parameters: the visual
        input is zeroed before the fusion, so the decoder attends to a
        constant memory (for measuring what the video adds at equal size
        and number of steps; under jit the unused front end is dropped, so
        the control runs faster).
      visual_dropout: modality dropout: in training, the probability that
        an example's visual input is zeroed before the fusion, as `blind`
        does for all (`layers.ModalityDropout`; 0: off).
      dtype: computation dtype.
      rngs: initialisation and dropout.
      **crnn_kwargs: the audio CRNN's options (`crnn.SeldCRNN`).
    """
    frontend, frontend_dim = create_visual_frontend(
        visual_frontend, visual_size, rngs=rngs, dtype=dtype
    )
    resolved_dim = resolve_visual_dim(visual_dim, frontend_dim)
    super().__init__(
        in_channels,
        num_freq_bins,
        num_classes,
        output=output,
        dtype=dtype,
        rngs=rngs,
        **crnn_kwargs,
    )
    d = (list(self.fnn) + [self.head])[0].in_features  # rnn_size
    self.visual_frontend = frontend
    self.visual_dim = resolved_dim
    self.blind = bool(blind)
    self.modality_dropout = (
        layers.ModalityDropout(visual_dropout, rngs=rngs)
        if visual_dropout
        else None
    )
    self.visual_embed = layers.linear(
        self.visual_dim, d, rngs=rngs, dtype=dtype
    )
    self.decoder_layers = nnx.List([
        TransformerDecoderLayer(
            d,
            decoder_heads,
            decoder_ffn_dim,
            decoder_dropout,
            norm_first=decoder_norm_first,
            rngs=rngs,
            dtype=dtype,
        )
        for _ in range(num_decoder_layers)
    ])

  def visual_input(self, visual: jax.Array, num_frames: int) -> jax.Array:
    """The visual input as the decoder's memory, [B, T, d]."""
    v = visual_sequence(
        visual, self.visual_frontend, self.visual_dim, num_frames, self.dtype
    )
    if self.blind:
      v = jnp.zeros_like(v)
    elif self.modality_dropout is not None:
      v = self.modality_dropout(v)
    return self.visual_embed(v)

  def __call__(
      self, x: jax.Array, visual: jax.Array | None = None
  ) -> jax.Array:
    """Features [B, Cin, T, F] and visual input -> [B, T // 5, out].

    Without `visual` the decoder is skipped (the reference's audio-only
    path).
    """
    memory = None
    if visual is not None:
      memory = self.visual_input(visual, self.output_frames(x.shape[2]))
    a = self.embed(x)
    if memory is not None:
      for layer in self.decoder_layers:
        a = layer(a, memory)
    return self.head_output(a).astype(jnp.float32)

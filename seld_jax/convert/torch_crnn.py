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

"""The official DCASE baseline `state_dict`s -> `SeldCRNN` / `AVSeldCRNN`.

Two generations of the reference code name the audio path differently:

  2022-2024 `seldnet_model.py:SeldModel`     2025 `model.py:SELDModel`
  conv_block_list.{3i}.conv/bn.*             conv_blocks.{i}.conv/bn.*
  gru.*                                      gru.*
  mhsa_block_list.{i}.*                      mhsa_layers.{i}.*
  layer_norm_list.{i}.*                      layer_norms.{i}.*
  fnn_list.{j}.*                             fnn_list.{j}.*

(2022-2024 `conv_block_list` interleaves ConvBlock, MaxPool2d and Dropout2d,
hence the 3i indices; the 2025 ConvBlock holds its pool and dropout, hence
consecutive ones. The indices are read from the keys.) The layout is detected
from the conv keys. The tensors and their layout changes:

  conv.weight [out, in, 3, 3] -> kernel [3, 3, in, out]; conv.bias
  bn.{weight,bias,running_mean,running_var}   (num_batches_tracked dropped)
  gru.{weight,bias}_{ih,hh}_l{k}[_reverse]    both directions stacked into
      `BiGRU.w_ih[k]` [2, I, 3H] etc. (gates r, z, n in both)
  MultiheadAttention in_proj_{weight,bias} [3E, E] = q, k, v rows
      -> query/key/value kernels [E, heads, E/heads]; out_proj.weight
      [E, E] -> out kernel [heads, E/heads, E]
  LayerNorm / Linear weight [out, in] -> kernel [in, out]
  fnn_list.{j}: `model.fnn` then `model.head` (the last one)

The audio-visual models (2024 `SeldModel(..., in_vid_feat_shape)`, 2025
`SELDModel` with modality 'audio_visual') add, with the same names in both:

  visual_embed_to_d_model.{weight,bias}     -> `AVSeldCRNN.visual_embed`
  transformer_decoder.layers.{k}.self_attn.*       -> decoder_layers[k]
      .self_attn; .multihead_attn.* -> .cross_attn; .linear1/.linear2,
      .norm1/.norm2/.norm3 alike
  transformer_decoder_layer.*   the template nn.TransformerDecoder copies,
      never called: skipped (returned among the unused keys)

A plain `SeldCRNN` has no place for the fusion tensors: `strict=True` fails
naming them, `strict=False` loads the audio path and returns them. The other
way round, `strict=False` takes a checkpoint without any `fnn_list` tensors,
and into an `AVSeldCRNN` one without the fusion tensors: those layers keep
their values (the 2024 recipe initialises the audio-visual model from the
audio-only one with the `fnn` tensors removed, `load_state_dict(...,
strict=False)`). A group that is only partly present is always an error.

Everything is checked before anything is written: one error names the file
and lists the missing, mis-shaped and (with `strict`) unexpected tensors, and
the model is left unchanged. The model may be abstract (`nnx.eval_shape`):
the import fills the variables it targets. Other models with the same audio
attribute names (`asma.ASMASeld`) load their audio path and head alike; only
an `AVSeldCRNN` takes the fusion tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import dataclasses
import functools
import os
import re

from absl import logging
from flax import nnx
import jax.numpy as jnp
import numpy as np

from seld_jax.convert import mapping
from seld_jax.models import av_baseline
from seld_jax.models import crnn


@dataclasses.dataclass(frozen=True)
class Layout:
  """The module names of one generation of the reference code."""

  name: str
  conv_blocks: str
  attention: str
  norms: str


LAYOUT_2022_2024 = Layout(
    '2022-2024 seldnet_model.py:SeldModel',
    'conv_block_list',
    'mhsa_block_list',
    'layer_norm_list',
)
LAYOUT_2025 = Layout(
    '2025 model.py:SELDModel', 'conv_blocks', 'mhsa_layers', 'layer_norms'
)
LAYOUTS = (LAYOUT_2022_2024, LAYOUT_2025)

# The audio-visual fusion layers (2024 and 2025 alike).
FUSION_PREFIXES = ('visual_embed_to_d_model.', 'transformer_decoder.')
# The template layer `nn.TransformerDecoder` deep-copies: never called.
SKIPPED_PREFIXES = ('transformer_decoder_layer.',)


@dataclasses.dataclass(frozen=True)
class _Target:
  """One model variable, the checkpoint keys it is made of, and how."""

  variable: nnx.Variable
  keys: tuple[str, ...]
  transform: Callable[..., np.ndarray]


def _indices(keys: Iterable[str], prefix: str, suffix: str) -> list[int]:
  pattern = re.compile(rf'{re.escape(prefix)}\.(\d+)\.{re.escape(suffix)}')
  return sorted({int(m.group(1)) for k in keys if (m := pattern.fullmatch(k))})


def detect_layout(keys: Iterable[str], source: str = 'state_dict') -> Layout:
  """The `Layout` whose conv block names the checkpoint keys use."""
  keys = list(keys)
  found = [
      layout
      for layout in LAYOUTS
      if _indices(keys, layout.conv_blocks, 'conv.weight')
  ]
  if len(found) != 1:
    raise ValueError(
        f'{source}: cannot tell the baseline layout: expected conv tensors '
        'named either conv_block_list.N.conv.weight (2022-2024) or '
        f'conv_blocks.N.conv.weight (2025), found {len(found)} of these '
        f'(first keys: {keys[:6]}).'
    )
  return found[0]


def is_audio_visual(keys: Iterable[str]) -> bool:
  """Whether a checkpoint holds the audio-visual fusion tensors."""
  return any(k.startswith(FUSION_PREFIXES) for k in keys)


# Layout changes
# -----------------------------------------------------------------------------


def _identity(w: np.ndarray) -> np.ndarray:
  return w


def _transpose(w: np.ndarray) -> np.ndarray:
  return w.T  # Linear [out, in] -> [in, out]


def _conv_kernel(w: np.ndarray) -> np.ndarray:
  return w.transpose(2, 3, 1, 0)  # [out, in, kh, kw] -> [kh, kw, in, out]


def _stack(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
  return np.stack([forward, backward])


def _stack_transposed(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
  return np.stack([forward.T, backward.T])  # [3H, I] -> [2, I, 3H]


def _in_proj_kernel(w: np.ndarray, *, part: int, heads: int) -> np.ndarray:
  """Rows `part` (q, k, v) of [3E, E] -> [E_in, heads, E / heads]."""
  e = w.shape[-1]
  if w.shape != (3 * e, e) or e % heads:
    raise ValueError(f'not an in_proj_weight of {heads} heads')
  return w[part * e : (part + 1) * e].T.reshape(e, heads, e // heads)


def _in_proj_bias(b: np.ndarray, *, part: int, heads: int) -> np.ndarray:
  if b.ndim != 1 or b.shape[0] % (3 * heads):
    raise ValueError(f'not an in_proj_bias of {heads} heads')
  e = b.shape[0] // 3
  return b[part * e : (part + 1) * e].reshape(heads, e // heads)


def _out_proj_kernel(w: np.ndarray, *, heads: int) -> np.ndarray:
  """[E_out, E_in] -> [heads, E_in / heads, E_out]."""
  if w.ndim != 2 or w.shape[1] % heads:
    raise ValueError(f'not an out_proj.weight of {heads} heads')
  return w.T.reshape(heads, w.shape[1] // heads, w.shape[0])


# Targets
# -----------------------------------------------------------------------------


def _one(variable, key, transform=_identity) -> _Target:
  return _Target(variable, (key,), transform)


def _linear(prefix: str, layer: nnx.Linear) -> list[_Target]:
  return [
      _one(layer.kernel, f'{prefix}.weight', _transpose),
      _one(layer.bias, f'{prefix}.bias'),
  ]


def _layer_norm(prefix: str, norm: nnx.LayerNorm) -> list[_Target]:
  return [
      _one(norm.scale, f'{prefix}.weight'),
      _one(norm.bias, f'{prefix}.bias'),
  ]


def _attention(prefix: str, att: nnx.MultiHeadAttention) -> list[_Target]:
  """torch `MultiheadAttention` at `prefix` -> `att`."""
  heads = att.num_heads
  targets = []
  for part, proj in enumerate((att.query, att.key, att.value)):
    targets += [
        _one(
            proj.kernel,
            f'{prefix}.in_proj_weight',
            functools.partial(_in_proj_kernel, part=part, heads=heads),
        ),
        _one(
            proj.bias,
            f'{prefix}.in_proj_bias',
            functools.partial(_in_proj_bias, part=part, heads=heads),
        ),
    ]
  targets += [
      _one(
          att.out.kernel,
          f'{prefix}.out_proj.weight',
          functools.partial(_out_proj_kernel, heads=heads),
      ),
      _one(att.out.bias, f'{prefix}.out_proj.bias'),
  ]
  return targets


def _gru(gru) -> list[_Target]:
  """torch `GRU(bidirectional=True)` -> `layers.BiGRU`."""
  targets = []
  for k in range(gru.num_layers):
    for name, variables in (
        ('weight_ih', gru.w_ih),
        ('weight_hh', gru.w_hh),
        ('bias_ih', gru.b_ih),
        ('bias_hh', gru.b_hh),
    ):
      keys = (f'gru.{name}_l{k}', f'gru.{name}_l{k}_reverse')
      transform = _stack_transposed if name.startswith('weight') else _stack
      targets.append(_Target(variables[k], keys, transform))
  return targets


def _audio_targets(model, layout: Layout, keys, source: str) -> list[_Target]:
  """The conv stack, GRU and self-attention blocks."""
  conv_ids = _indices(keys, layout.conv_blocks, 'conv.weight')
  if len(conv_ids) != len(model.conv_blocks):
    raise ValueError(
        f'{source}: the checkpoint has {len(conv_ids)} conv blocks '
        f'({layout.conv_blocks}.{conv_ids}), the model '
        f'{len(model.conv_blocks)}.'
    )
  targets = []
  for block, i in zip(model.conv_blocks, conv_ids):
    p = f'{layout.conv_blocks}.{i}'
    targets += [
        _one(block.conv.kernel, f'{p}.conv.weight', _conv_kernel),
        _one(block.conv.bias, f'{p}.conv.bias'),
        _one(block.bn.scale, f'{p}.bn.weight'),
        _one(block.bn.bias, f'{p}.bn.bias'),
        _one(block.bn.mean, f'{p}.bn.running_mean'),
        _one(block.bn.var, f'{p}.bn.running_var'),
    ]
  targets += _gru(model.gru)
  for i, block in enumerate(model.attention_blocks):
    targets += _attention(f'{layout.attention}.{i}', block.attention)
    targets += _layer_norm(f'{layout.norms}.{i}', block.norm)
  return targets


def _head_targets(model, keys, source: str) -> list[_Target]:
  """`fnn_list.{j}` -> `model.fnn` then `model.head`."""
  linears = list(model.fnn) + [model.head]
  # None at all: reported as missing (strict=False does not come here).
  fnn_ids = _indices(keys, 'fnn_list', 'weight') or list(range(len(linears)))
  if len(fnn_ids) != len(linears):
    raise ValueError(
        f'{source}: the checkpoint has {len(fnn_ids)} fnn layers '
        f'(fnn_list.{fnn_ids}), the model {len(linears)} '
        f'({len(linears) - 1} + the head).'
    )
  targets = []
  for layer, j in zip(linears, fnn_ids):
    targets += _linear(f'fnn_list.{j}', layer)
  return targets


def _fusion_targets(model: av_baseline.AVSeldCRNN) -> list[_Target]:
  """The visual embedding and the transformer decoder layers."""
  targets = _linear('visual_embed_to_d_model', model.visual_embed)
  for k, layer in enumerate(model.decoder_layers):
    p = f'transformer_decoder.layers.{k}'
    targets += _attention(f'{p}.self_attn', layer.self_attn)
    targets += _attention(f'{p}.multihead_attn', layer.cross_attn)
    targets += _linear(f'{p}.linear1', layer.linear1)
    targets += _linear(f'{p}.linear2', layer.linear2)
    for name in ('norm1', 'norm2', 'norm3'):
      targets += _layer_norm(f'{p}.{name}', getattr(layer, name))
  return targets


# Loading
# -----------------------------------------------------------------------------


def _apply(
    targets: list[_Target],
    sd: dict[str, np.ndarray],
    source: str,
    strict: bool,
    hints: list[str],
) -> list[str]:
  """Checks every target, then writes them all (or raises, writing none)."""
  wanted = list(dict.fromkeys(k for t in targets for k in t.keys))
  missing = [k for k in wanted if k not in sd]
  mismatched, writes = {}, []
  for t in targets:
    if any(k not in sd for k in t.keys):
      continue
    current = t.variable.get_value()
    try:
      value = np.asarray(t.transform(*(sd[k] for k in t.keys)))
    except ValueError:
      value = None
    if value is None or tuple(value.shape) != tuple(current.shape):
      name = ' + '.join(t.keys)
      shapes = ' + '.join(str(tuple(sd[k].shape)) for k in t.keys)
      mismatched.setdefault(
          name,
          f'{name} {shapes} (model {tuple(current.shape)} after the layout '
          'change)',
      )
      continue
    writes.append((t.variable, value, current.dtype))
  loaded = set(wanted)
  unused = sorted(
      k
      for k in sd
      if k not in loaded and not k.endswith('.num_batches_tracked')
  )
  unexpected = [k for k in unused if not k.startswith(SKIPPED_PREFIXES)]
  problems = []
  if missing:
    problems.append(f'missing tensors {missing}')
  if mismatched:
    problems.append(f'tensors of the wrong shape {list(mismatched.values())}')
  if strict and unexpected:
    problems.append(f'tensors the model does not have {unexpected}')
  if problems:
    raise ValueError(f'{source}: ' + '; '.join(problems + hints) + '.')
  for variable, value, dtype in writes:
    variable.set_value(jnp.asarray(value, dtype=dtype))
  return unused


def _load(
    model: crnn.SeldCRNN,
    sd: dict[str, np.ndarray],
    source: str,
    strict: bool,
) -> list[str]:
  """`load_into` on a read state_dict; `source` names it in errors."""
  layout = detect_layout(sd, source)
  targets = _audio_targets(model, layout, sd, source)
  hints = []
  kept = []
  has_head = bool(_indices(sd, 'fnn_list', 'weight'))
  has_fusion = is_audio_visual(sd)
  av_model = isinstance(model, av_baseline.AVSeldCRNN)
  if has_head or strict:
    targets += _head_targets(model, sd, source)
  else:
    kept.append('the fnn layers and the head')
  if av_model:
    if has_fusion or strict:
      targets += _fusion_targets(model)
      if not has_fusion:
        hints.append(
            'an audio-only checkpoint: strict=False loads its audio path and '
            'keeps the fusion layers (and, without fnn_list, the head) as '
            'they are (the 2024 recipe)'
        )
    else:
      kept.append('the fusion layers')
  elif has_fusion and strict:
    hints.append(
        'an audio-visual checkpoint: load it into av_baseline.AVSeldCRNN, or '
        'with strict=False to take its audio path'
    )
  unused = _apply(targets, sd, source, strict, hints)
  if kept:
    logging.info(
        '%s (%s): no tensors for %s; kept as they are.',
        source,
        layout.name,
        ' and '.join(kept),
    )
  return unused


def load_into(
    model: crnn.SeldCRNN,
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
    *,
    strict: bool = True,
) -> list[str]:
  """Copies official baseline weights (2022-2025 layouts) into `model`.

  Args:
    model: a `crnn.SeldCRNN` built with the checkpoint's hyper-parameters,
      or an `av_baseline.AVSeldCRNN` (then the fusion layers load too).
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch by `torch_checkpoint.load_state_dict`).
    strict: fail on checkpoint tensors the model has no place for, and on
      missing ones. Without it the extra tensors are returned, and a
      checkpoint without `fnn_list` tensors (or, into an `AVSeldCRNN`,
      without fusion tensors) loads the rest: those layers keep their
      values.

  Returns:
    The checkpoint keys that were not loaded, sorted (other than
    `num_batches_tracked`): the template `transformer_decoder_layer.*` of an
    audio-visual checkpoint, and with `strict=False` any others.

  Raises:
    ValueError: naming the file and the missing, mis-shaped or (strict)
      unexpected tensors, or an unknown layout; the model is left unchanged.
  """
  sd, source = mapping.read_state_dict(state_dict)
  return _load(model, sd, source, strict)


def load_model(
    path: str | os.PathLike,
    *,
    model_class: type[crnn.SeldCRNN] | None = None,
    strict: bool = True,
    **model_kwargs,
) -> crnn.SeldCRNN:
  """Builds a model from `model_kwargs` and loads a checkpoint into it.

  Args:
    path: a `torch.save` file of the official baseline.
    model_class: `crnn.SeldCRNN` or `av_baseline.AVSeldCRNN`; None picks the
      audio-visual one when the checkpoint holds fusion tensors.
    strict: as `load_into`.
    **model_kwargs: the model's hyper-parameters (in_channels, output, ...).

  Returns:
    The model (in training mode, as built).
  """
  sd, source = mapping.read_state_dict(path)
  if model_class is None:
    model_class = (
        av_baseline.AVSeldCRNN if is_audio_visual(sd) else crnn.SeldCRNN
    )
  model = model_class(**model_kwargs, rngs=nnx.Rngs(0))
  _load(model, sd, source, strict)
  return model

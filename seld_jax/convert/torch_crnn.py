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

"""The official DCASE baseline `state_dict` -> `seld_jax.models.crnn.SeldCRNN`.

Key layout of `seldnet_model.py:SeldModel` (2022-2024; 2025 `model.py` uses
the same names for the audio path):

  conv_block_list.{3i}.conv.{weight,bias}        [out, in, 3, 3], [out]
  conv_block_list.{3i}.bn.{weight,bias,running_mean,running_var}
  gru.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}[_reverse]   gates r, z, n
  mhsa_block_list.{i}.in_proj_{weight,bias}      [3E, E] = q, k, v
  mhsa_block_list.{i}.out_proj.{weight,bias}
  layer_norm_list.{i}.{weight,bias}
  fnn_list.{j}.{weight,bias}                     the last one is the head

(`conv_block_list` interleaves ConvBlock, MaxPool2d and Dropout2d, hence the
3i indices; the indices are discovered from the keys, so other pool layouts
load too.)
"""

from __future__ import annotations

import os
import re

from flax import nnx
import numpy as np

from seld_jax.convert import torch_checkpoint
from seld_jax.models import crnn


def _set(variable, value: np.ndarray, name: str):
  current = variable[...]
  if tuple(current.shape) != tuple(value.shape):
    raise ValueError(
        f'{name}: checkpoint shape {tuple(value.shape)} does not match the '
        f'model shape {tuple(current.shape)}.'
    )
  variable[...] = np.asarray(value, dtype=current.dtype)


def load_into(
    model: crnn.SeldCRNN,
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
    *,
    strict: bool = True,
) -> list[str]:
  """Copies official baseline weights into `model` in place.

  Args:
    model: a SeldCRNN built with the checkpoint's hyper-parameters.
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch by `torch_checkpoint.load_state_dict`).
    strict: raise when a checkpoint tensor is left unused or a model
      parameter has no checkpoint tensor.

  Returns:
    The checkpoint keys that were not used (empty when strict).
  """
  if not isinstance(state_dict, dict):
    state_dict = torch_checkpoint.load_state_dict(state_dict)
  sd = {k: np.asarray(v) for k, v in state_dict.items()}
  used = set()

  def take(key):
    if key not in sd:
      raise KeyError(f'Checkpoint has no tensor {key!r}.')
    used.add(key)
    return sd[key]

  conv_ids = sorted({
      int(m.group(1))
      for k in sd
      if (m := re.match(r'conv_block_list\.(\d+)\.conv\.weight$', k))
  })
  if len(conv_ids) != len(model.conv_blocks):
    raise ValueError(
        f'Checkpoint has {len(conv_ids)} conv blocks, the model '
        f'{len(model.conv_blocks)}.'
    )
  for block, i in zip(model.conv_blocks, conv_ids):
    p = f'conv_block_list.{i}'
    w = take(f'{p}.conv.weight')  # [out, in, kh, kw] -> [kh, kw, in, out]
    _set(block.conv.kernel, w.transpose(2, 3, 1, 0), f'{p}.conv.weight')
    _set(block.conv.bias, take(f'{p}.conv.bias'), f'{p}.conv.bias')
    _set(block.bn.scale, take(f'{p}.bn.weight'), f'{p}.bn.weight')
    _set(block.bn.bias, take(f'{p}.bn.bias'), f'{p}.bn.bias')
    _set(block.bn.mean, take(f'{p}.bn.running_mean'), f'{p}.bn.running_mean')
    _set(block.bn.var, take(f'{p}.bn.running_var'), f'{p}.bn.running_var')
    used.add(f'{p}.bn.num_batches_tracked')

  gru = model.gru
  for layer in range(gru.num_layers):
    names = ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')
    stacked = {}
    for n in names:
      fwd = take(f'gru.{n}_l{layer}')
      bwd = take(f'gru.{n}_l{layer}_reverse')
      stacked[n] = np.stack([fwd, bwd])
    # torch [3H, I] -> ours [I, 3H]; gate order r, z, n in both.
    _set(gru.w_ih[layer], stacked['weight_ih'].transpose(0, 2, 1), 'w_ih')
    _set(gru.w_hh[layer], stacked['weight_hh'].transpose(0, 2, 1), 'w_hh')
    _set(gru.b_ih[layer], stacked['bias_ih'], 'b_ih')
    _set(gru.b_hh[layer], stacked['bias_hh'], 'b_hh')

  for i, block in enumerate(model.attention_blocks):
    p = f'mhsa_block_list.{i}'
    att = block.attention
    heads = att.num_heads
    e = att.in_features
    w = take(f'{p}.in_proj_weight')  # [3E, E]
    b = take(f'{p}.in_proj_bias')  # [3E]
    for j, proj in enumerate((att.query, att.key, att.value)):
      wj = w[j * e : (j + 1) * e]  # [E_out, E_in]
      _set(proj.kernel, wj.T.reshape(e, heads, e // heads), f'{p}.in_proj')
      _set(proj.bias, b[j * e : (j + 1) * e].reshape(heads, e // heads), p)
    wo = take(f'{p}.out_proj.weight')  # [E_out, E_in]
    _set(att.out.kernel, wo.T.reshape(heads, e // heads, e), f'{p}.out_proj')
    _set(att.out.bias, take(f'{p}.out_proj.bias'), f'{p}.out_proj.bias')
    q = f'layer_norm_list.{i}'
    _set(block.norm.scale, take(f'{q}.weight'), f'{q}.weight')
    _set(block.norm.bias, take(f'{q}.bias'), f'{q}.bias')

  linears = list(model.fnn) + [model.head]
  fnn_ids = sorted({
      int(m.group(1))
      for k in sd
      if (m := re.match(r'fnn_list\.(\d+)\.weight$', k))
  })
  if len(fnn_ids) != len(linears):
    raise ValueError(
        f'Checkpoint has {len(fnn_ids)} fnn layers, the model {len(linears)}.'
    )
  for layer, j in zip(linears, fnn_ids):
    _set(layer.kernel, take(f'fnn_list.{j}.weight').T, f'fnn_list.{j}')
    _set(layer.bias, take(f'fnn_list.{j}.bias'), f'fnn_list.{j}.bias')

  unused = sorted(set(sd) - used)
  if strict and unused:
    raise ValueError(f'Checkpoint tensors not used by the model: {unused}')
  return unused


def load_model(
    path: str | os.PathLike, *, strict: bool = True, **model_kwargs
) -> crnn.SeldCRNN:
  """Builds a SeldCRNN from `model_kwargs` and loads a checkpoint into it."""
  model = crnn.SeldCRNN(**model_kwargs, rngs=nnx.Rngs(0))
  load_into(model, path, strict=strict)
  return model

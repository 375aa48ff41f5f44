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

"""PANN `Cnn14` `state_dict` -> `seld_jax.models.pann.Cnn14`.

Key layout of `panns_inference`/`audioset_tagging_cnn` `models.py:Cnn14`
(the public `Cnn14_mAP=0.431.pth` holds it under 'model'):

  spectrogram_extractor.stft.conv_{real,imag}.weight   STFT basis   (skipped)
  logmel_extractor.melW                                mel matrix   (skipped)
  bn0.{weight,bias,running_mean,running_var,num_batches_tracked}
  conv_block{1..6}.conv{1,2}.weight                    [out, in, 3, 3]
  conv_block{1..6}.bn{1,2}.{weight,bias,running_mean,running_var,...}
  fc1.{weight,bias}, fc_audioset.{weight,bias}

The extractor tensors compute the log-mel features that seld_jax computes
itself (`seld_jax.features`), so they are skipped by name; `bn0` loads when
the model has it and is reported as skipped otherwise; `fc1`/`fc_audioset`
load when the model has its clip head (`include_top`) and are skipped
otherwise. A first block with more input channels than the checkpoint's
(multichannel log-mel) gets the checkpoint kernel divided among the
channels (`first_conv='average'`), which keeps the response to a signal
present in all channels equal.
"""

from __future__ import annotations

import os

from flax import nnx
import numpy as np

from seld_jax.convert import torch_checkpoint
from seld_jax.models import pann

EXTRACTOR_PREFIXES = ('spectrogram_extractor.', 'logmel_extractor.')


def _set(variable, value: np.ndarray, name: str):
  current = variable[...]
  if tuple(current.shape) != tuple(value.shape):
    raise ValueError(
        f'{name}: checkpoint shape {tuple(value.shape)} does not match the '
        f'model shape {tuple(current.shape)}.'
    )
  variable[...] = np.asarray(value, dtype=current.dtype)


def load_into(
    model: pann.Cnn14,
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
    *,
    first_conv: str = 'average',
    strict: bool = True,
) -> list[str]:
  """Copies a PANN CNN14 checkpoint into `model` in place.

  Args:
    model: a `pann.Cnn14` with the checkpoint's widths (pools, in_channels
      and include_top may differ).
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch).
    first_conv: 'average' (a 1-channel kernel spread over the model's input
      channels) or 'exact' (shapes must match).
    strict: raise when a checkpoint tensor other than the known skipped ones
      is left unused.

  Returns:
    The checkpoint keys that were not loaded (extractor, and bn0 / clip head
    when the model has none).
  """
  if first_conv not in ('average', 'exact'):
    raise ValueError(f"first_conv must be 'average' or 'exact': {first_conv}")
  if not isinstance(state_dict, dict):
    state_dict = torch_checkpoint.load_state_dict(state_dict)
  sd = {k: np.asarray(v) for k, v in state_dict.items()}
  used = set()

  def take(key):
    if key not in sd:
      raise KeyError(f'Checkpoint has no tensor {key!r}.')
    used.add(key)
    return sd[key]

  def load_bn(bn, prefix):
    _set(bn.scale, take(f'{prefix}.weight'), f'{prefix}.weight')
    _set(bn.bias, take(f'{prefix}.bias'), f'{prefix}.bias')
    _set(bn.mean, take(f'{prefix}.running_mean'), f'{prefix}.running_mean')
    _set(bn.var, take(f'{prefix}.running_var'), f'{prefix}.running_var')
    used.add(f'{prefix}.num_batches_tracked')

  if model.bn0 is not None:
    load_bn(model.bn0, 'bn0')
  for i, block in enumerate(model.conv_blocks):
    p = f'conv_block{i + 1}'
    for j, (conv, bn) in enumerate(
        ((block.conv1, block.bn1), (block.conv2, block.bn2)), start=1
    ):
      w = take(f'{p}.conv{j}.weight')  # [out, in, kh, kw]
      cin = conv.kernel[...].shape[2]
      if i == 0 and j == 1 and w.shape[1] != cin and first_conv == 'average':
        if w.shape[1] != 1:
          raise ValueError(
              f'{p}.conv1: can only spread a 1-channel kernel over {cin} '
              f'channels, got {w.shape[1]}.'
          )
        w = np.repeat(w, cin, axis=1) / cin
      _set(conv.kernel, w.transpose(2, 3, 1, 0), f'{p}.conv{j}.weight')
      load_bn(bn, f'{p}.bn{j}')
  if model.include_top:
    for name in ('fc1', 'fc_audioset'):
      layer = getattr(model, name)
      _set(layer.kernel, take(f'{name}.weight').T, f'{name}.weight')
      _set(layer.bias, take(f'{name}.bias'), f'{name}.bias')

  unused = sorted(set(sd) - used)
  skipped_by_design = [
      k
      for k in unused
      if k.startswith(EXTRACTOR_PREFIXES)
      or (model.bn0 is None and k.startswith('bn0.'))
      or (not model.include_top and k.startswith(('fc1.', 'fc_audioset.')))
  ]
  unexpected = sorted(set(unused) - set(skipped_by_design))
  if strict and unexpected:
    raise ValueError(f'Checkpoint tensors not used by the model: {unexpected}')
  return unused


def load_model(
    path: str | os.PathLike, *, strict: bool = True, **model_kwargs
) -> pann.Cnn14:
  """Builds a `pann.Cnn14` from `model_kwargs` and loads a checkpoint."""
  model = pann.Cnn14(rngs=nnx.Rngs(0), **model_kwargs)
  load_into(model, path, strict=strict)
  model.eval()
  return model

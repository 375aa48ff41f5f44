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

"""torchvision `resnet50` `state_dict` -> `seld_jax.models.visual.ResNet50`.

Key layout of torchvision `models/resnet.py` (e.g. the DEFAULT weights file
`resnet50-11ad3fa6.pth`, a plain state_dict):

  conv1.weight                                   [64, 3, 7, 7]
  bn1.{weight,bias,running_mean,running_var,num_batches_tracked}
  layer{i}.{j}.conv{1,2,3}.weight                [out, in, k, k]
  layer{i}.{j}.bn{1,2,3}.{weight,bias,running_mean,running_var,...}
  layer{i}.{j}.downsample.0.weight               1x1 projection (j = 0)
  layer{i}.{j}.downsample.1.{weight,bias,running_mean,running_var,...}
  fc.{weight,bias}                               classifier (not loaded)

The classifier is left out of the model (features before avgpool/fc), so
`fc.*` is skipped and returned among the unused keys. `num_batches_tracked`
has no counterpart. A 'module.' prefix (a `DataParallel` save) is removed.
Conv kernels go from torch [out, in, kh, kw] to flax [kh, kw, in, out].

The mapping itself (`seld_jax.convert.mapping`) checks everything before
anything is written: one error lists the missing, mis-shaped and (with
`strict`) unexpected tensors and names the file. Loading into an abstract
model (`nnx.eval_shape`) fills every variable, so `load_model` builds the
network without a random init.
"""

from __future__ import annotations

import os

from flax import nnx
import numpy as np

from seld_jax.convert import mapping
from seld_jax.models import visual

SKIPPED_PREFIXES = ('fc.',)


def _conv2d_kernel(w: np.ndarray) -> np.ndarray:
  return w.transpose(2, 3, 1, 0)  # [out, in, kh, kw] -> [kh, kw, in, out]


def _targets(model: visual.ResNet50) -> mapping.Targets:
  """torch key -> (model variable, torch-to-flax layout transform)."""
  targets: mapping.Targets = {}
  targets['conv1.weight'] = (model.conv1.kernel, _conv2d_kernel)
  mapping.add_batch_norm(targets, 'bn1', model.bn1)
  for i, stage in enumerate(model.stages(), start=1):
    for j, block in enumerate(stage):
      p = f'layer{i}.{j}'
      for k in (1, 2, 3):
        conv = getattr(block, f'conv{k}')
        targets[f'{p}.conv{k}.weight'] = (conv.kernel, _conv2d_kernel)
        mapping.add_batch_norm(targets, f'{p}.bn{k}', getattr(block, f'bn{k}'))
      if block.downsample is not None:
        conv, bn = block.downsample
        targets[f'{p}.downsample.0.weight'] = (conv.kernel, _conv2d_kernel)
        mapping.add_batch_norm(targets, f'{p}.downsample.1', bn)
  return targets


def load_into(
    model: visual.ResNet50,
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
    *,
    strict: bool = True,
) -> list[str]:
  """Copies torchvision ResNet-50 weights into `model` in place.

  Args:
    model: a `visual.ResNet50` of the checkpoint's width and depth (may be
      abstract, from `nnx.eval_shape`).
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch by `torch_checkpoint.load_state_dict`).
    strict: also fail on checkpoint tensors the model has no place for
      (other than `fc.*` and `num_batches_tracked`).

  Returns:
    The checkpoint keys that were not loaded (`fc.weight`, `fc.bias`, and
    with `strict=False` any unexpected ones).

  Raises:
    ValueError: naming the file and every missing, mis-shaped or (strict)
      unexpected tensor; the model is left unchanged.
  """
  sd, source = mapping.read_state_dict(state_dict)
  return mapping.apply_targets(
      _targets(model), sd, source, SKIPPED_PREFIXES, strict
  )


def load_model(
    path: str | os.PathLike, *, strict: bool = True, **model_kwargs
) -> visual.ResNet50:
  """A `visual.ResNet50(**model_kwargs)` holding a checkpoint (eval mode).

  The network is built abstractly and filled from the file, so no random
  initialisation runs.
  """
  return mapping.load_model(
      lambda: visual.ResNet50(rngs=nnx.Rngs(0), **model_kwargs),
      load_into,
      path,
      strict=strict,
  )

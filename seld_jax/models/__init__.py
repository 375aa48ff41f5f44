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

"""SELD models (flax.nnx) and the registry the configs name them by."""

from __future__ import annotations

from typing import Any

from flax import nnx

from seld_jax.models import asma
from seld_jax.models import av_baseline
from seld_jax.models import av_conformer
from seld_jax.models import conformer
from seld_jax.models import crnn
from seld_jax.models import general
from seld_jax.models import seldnet
from seld_jax.models import two_stage

# name -> constructor taking (in_channels, num_freq_bins, num_classes,
# output=..., dtype=..., rngs=..., **model_kwargs).
MODELS = {
    'seld_crnn': crnn.SeldCRNN,
    'seldnet': seldnet.SELDnet,
    'two_stage': two_stage.TwoStageCRNN,
    'general': general.GeneralSELD,
    'resnet_conformer': conformer.ResNetConformer,
    # Audio-visual: called as model(features, visual).
    'av_seld_crnn': av_baseline.AVSeldCRNN,
    'av_conformer': av_conformer.AVConformer,
    'asma_seld': asma.ASMASeld,
}


def create_model(
    name: str,
    *,
    in_channels: int,
    num_freq_bins: int,
    num_classes: int,
    output: str,
    rngs: nnx.Rngs,
    dtype: Any = None,
    **kwargs,
) -> nnx.Module:
  """Builds the model `name` for the given input and output shapes."""
  if name not in MODELS:
    raise ValueError(f'Unknown model {name!r}; known: {sorted(MODELS)}.')
  return MODELS[name](
      in_channels,
      num_freq_bins,
      num_classes,
      output=output,
      dtype=dtype,
      rngs=rngs,
      **kwargs,
  )

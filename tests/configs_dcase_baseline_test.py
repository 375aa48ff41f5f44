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

"""The baseline variant configs build the reference networks (SPEC §3)."""

import pytest

from configs import dcase_baseline
from seld_jax import summary


@pytest.mark.parametrize(
    'variant,params,features,output',
    [
        ('foa', 737_141, '[B, 7, 250, 64]', 'multi_accdoa [B, 50, 117]'),
        ('mic_gcc', 738_869, '[B, 10, 250, 64]', 'multi_accdoa [B, 50, 117]'),
        (
            'salsa_lite',
            1_179_509,
            '[B, 7, 250, 382]',
            'multi_accdoa [B, 50, 117]',
        ),
        (
            'foa_dist',
            742_172,
            '[B, 7, 250, 64]',
            'multi_accdoa_distance [B, 50, 156]',
        ),
        (
            'stereo',
            734_261,
            '[B, 2, 251, 64]',
            'multi_accdoa_stereo [B, 50, 117]',
        ),
    ],
)
def test_variant_matches_the_reference(variant, params, features, output):
  text = summary.summarize(dcase_baseline.get_config(variant))
  assert text.splitlines()[-1] == f'params: {params}'
  assert f'features {features}' in text
  assert f'output: {output}' in text


def test_variants_differ_only_where_the_baselines_do():
  foa = dcase_baseline.get_config('foa')
  assert foa.model == 'seld_crnn' and foa.dataset == 'synthetic_seld/foa'
  mic = dcase_baseline.get_config('mic_gcc')
  assert mic.dataset == 'synthetic_seld/mic'
  assert (mic.target, mic.metric) == (foa.target, foa.metric)
  dist = dcase_baseline.get_config('foa_dist')
  assert (dist.target, dist.metric) == ('multi_accdoa_distance', 'dcase2024')
  stereo = dcase_baseline.get_config('stereo')
  assert (stereo.normalize, stereo.metric) == (False, 'dcase2025')


def test_unknown_variant_is_an_error():
  with pytest.raises(ValueError, match='one of'):
    dcase_baseline.get_config('ambisonics')

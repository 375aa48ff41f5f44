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

"""The DCASE Task 3 baseline CRNN's input/output variants (SPEC §3).

  python -m seld_jax.main --config configs/dcase_baseline.py:mic_gcc \
      --workdir runs/baseline_mic_gcc

Variants (VARIANTS), all the same `seld_crnn` with the default recipe:

  foa         2022/2023 FOA: log-mel + intensity vectors (7 x 64), 737,141
              parameters (this is configs/default.py)
  mic_gcc     2022/2023 MIC: log-mel + GCC-PHAT (10 x 64), 738,869
  salsa_lite  2023 MIC SALSA-lite: 4 log-linear spectra + 3 NIPD (7 x 382),
              1,179,509
  foa_dist    2024 FOA with distance: multi-ACCDOA + distance (156
              outputs), the DCASE2024 metric, 742,172
  stereo      2025 stereo audio: stereo log-mel (2 x 64) without
              normalisation, x/y/distance tracks (117 outputs), the DCASE2025
              metric, 734,261; on the DCASE2025 stereo data (manual
              download, data_builders/dcase2025_stereo) with that
              baseline's recipe (Adam 1e-3, batch 256, best by F)

The first four train on the synthetic dataset (`synthetic_seld/foa` or
`/mic`, built on first use); point any of them at a real dataset with
`--config.dataset=starss23/mic --config.data_dir=D`.
"""

from configs import default

VARIANTS = ('foa', 'mic_gcc', 'salsa_lite', 'foa_dist', 'stereo')


def get_config(arg: str = 'foa'):
  """The baseline variant `arg` (one of VARIANTS)."""
  if arg not in VARIANTS:
    raise ValueError(f'arg must be one of {VARIANTS}, got {arg!r}.')
  config = default.five_second_config()
  if arg in ('mic_gcc', 'salsa_lite'):
    config.dataset = 'synthetic_seld/mic'
    config.features = 'mic_logmel_gcc' if arg == 'mic_gcc' else 'salsa_lite'
  elif arg == 'foa_dist':
    config.target = 'multi_accdoa_distance'
    config.metric = 'dcase2024'
  elif arg == 'stereo':
    dcase2025_recipe(config, 'dcase2025_stereo/stereo')
    config.target = 'multi_accdoa_stereo'
  return config


def dcase2025_recipe(config, dataset: str):
  """The DCASE2025 stereo baseline's data, features, metric and recipe."""
  config.dataset = dataset
  config.features = 'stereo_log_mel'
  config.normalize = False  # DCASE2025: no feature scaler
  config.metric = 'dcase2025'
  config.best_metric = 'F'
  config.best_mode = 'max'
  config.batch_size = 256
  config.eval_batch_size = 256
  config.learning_rate = 1e-3
  config.num_train_steps = 20000
  return config

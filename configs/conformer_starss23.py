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

"""ResNet-Conformer, multi-ACCDOA with distance, on STARSS23 (DCASE2024).

Data (manual download, see data_builders/starss23):
  tfds build data_builders/starss23 --manual_dir DIR \
      --file_format array_record --config foa
Train:
  python -m seld_jax.main --config configs/conformer_starss23.py \
      --workdir runs/conformer_starss23
(Pre-training on synthetic data as the DCASE systems do:
--config.init_from=runs/conformer_synthetic; the head differs in size and is
left at its initialisation.)
"""

from configs import conformer_synthetic


def get_config():
  """ResNet-Conformer on STARSS23 FOA with distance, DCASE2024 metric."""
  config = conformer_synthetic.get_config()
  config.dataset = 'starss23/foa'
  # dev-train-* -> 'train', dev-test-* -> 'test' (the default splits).
  config.target = 'multi_accdoa_distance'
  config.model_kwargs.num_layers = 8
  config.model_kwargs.positions = 'relative'
  config.metric = 'dcase2024'
  config.num_train_steps = 40000
  return config

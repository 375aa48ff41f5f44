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

"""General SED/DOA/alignment architecture on TAU-NIGENS 2020 (DCASE2020 FOA).

Data (manual download, see data_builders/tau_nigens_2020):
  tfds build data_builders/tau_nigens_2020 --manual_dir DIR \
      --file_format array_record --config foa
Train (DCASE2020 development split: train folds 3-6, validation 2, test 1):
  for s in sed doa align; do
    python -m seld_jax.main --config configs/general_tau2020.py:$s \
        --workdir runs/general_tau2020_$s
  done
See configs/general_synthetic.py for the stages; 14 classes, 24 kHz FOA,
labels at 10 frames/s, DCASE2020 metric.
"""

from configs import general_synthetic


def get_config(arg: str = 'sed'):
  """Stage `arg` ('sed', 'doa', 'align' or 'finetune')."""
  config = general_synthetic.base_config()
  config.run_name = 'general_tau2020'
  config.dataset = 'tau_nigens_2020/foa'
  config.train_split = 'fold3+fold4+fold5+fold6'
  config.eval_split = 'fold2'
  config.test_split = 'fold1'
  config.num_classes = 14
  config.sample_rate = 24000
  config.label_rate = 10.0
  config.window_seconds = 6.0
  config.eval_hop_seconds = 6.0
  config.metric = 'dcase2020'
  config.num_train_steps = 30000
  return general_synthetic.apply_stage(config, arg, 'multi_accdoa')

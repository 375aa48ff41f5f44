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

"""A tiny CPU-friendly configuration for tests: small model, 1-s windows."""

from configs import default


def get_config():
  config = default.get_config()
  config.window_seconds = 1.0
  config.eval_hop_seconds = 1.0
  config.batch_size = 8
  config.eval_batch_size = 8
  config.model_kwargs.conv_channels = 8
  config.model_kwargs.rnn_size = 16
  config.model_kwargs.num_heads = 2
  config.model_kwargs.fnn_size = 16
  config.num_train_steps = 10
  # A constant rate: the default's 200 warmup steps would leave 10 steps
  # nearly untrained.
  config.learning_rate = 1e-3
  config.optimizer = 'adam'  # the engine tests were calibrated with Adam
  config.schedule = 'constant'
  config.warmup_steps = 0
  config.log_every_steps = 5
  config.eval_every_steps = 10
  config.checkpoint_every_steps = 5
  return config

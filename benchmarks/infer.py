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

r"""Inference speed of the default model: seconds of audio per wall second.

  python -m benchmarks.infer [--config configs/default.py] [--seconds 60]

Predicts a recording of 4-channel noise with `seld_jax.infer.Predictor`
(sliding windows, stitching; the model at its initial weights: speed does
not depend on them) and decodes it. Prints one JSON object: compile time,
wall time per recording, and the real-time factor (audio seconds per wall
second; > 1 is faster than real time).
"""

import json
import os
import platform
import statistics
import time

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

from seld_jax import evaluate
from seld_jax import infer
from seld_jax import train_step

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'configs/default.py', 'Model configuration.'
)
_SECONDS = flags.DEFINE_float('seconds', 60.0, 'Recording length.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed repetitions.')


def main(argv):
  del argv
  config = _CONFIG.value
  num_channels = int(config.get('num_channels', 4))
  spec = train_step.feature_spec(config, None)
  shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
  model_def, state, _ = train_step.create_train_state(config, shape)
  predictor = infer.Predictor(config, model_def, state, None)
  n = int(_SECONDS.value * config.sample_rate)
  audio = np.random.default_rng(0).normal(scale=0.05, size=(num_channels, n))
  audio = audio.astype(np.float32)

  t0 = time.perf_counter()
  evaluate.decode_output(predictor.predict(audio), config)
  first = time.perf_counter() - t0
  times = []
  for _ in range(_REPEATS.value):
    t0 = time.perf_counter()
    evaluate.decode_output(predictor.predict(audio), config)
    times.append(time.perf_counter() - t0)
  wall = statistics.median(times)
  print(
      json.dumps({
          'benchmark': 'infer',
          'model': config.model,
          'features': config.features,
          'audio_seconds': _SECONDS.value,
          'first_call_seconds': round(first, 3),
          'wall_seconds': round(wall, 3),
          'real_time_factor': round(_SECONDS.value / wall, 2),
          'window_batch': predictor.batch_size,
          'machine': {
              'cpus': os.cpu_count(),
              'platform': platform.platform(),
              'jax': jax.__version__,
              'backend': jax.default_backend(),
              'loadavg': os.getloadavg()[0],
          },
      })
  )


if __name__ == '__main__':
  app.run(main)

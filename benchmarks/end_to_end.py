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

"""Benchmark: epoch time from records (input pipeline + step) vs the step.

Unless `--data_dir`/`--dataset` name a built dataset, a small
`synthetic_seld` one is rendered into a temporary folder first (flags
`--num_train`, `--num_test`, `--duration` of benchmarks/storage.py). For
every batch size of `--batch_sizes`, the model of `--model` (crnn:
configs/default.py, conformer: configs/conformer_synthetic.py; the config's
pipeline settings, e.g. the whole-shard record cache, unless overridden by
flags) is trained as `seld_jax.train` does, the host never waiting for a step
inside an epoch (a nominal epoch: as many windows as tile the training
shard):

  first_epoch_s       one epoch of `next(iterator)` + jitted step from the
                      grain pipeline over the ArrayRecords
                      (`seld_jax.input_pipeline.create_train_dataset`, global
                      arrays); it also fills the record cache
  then `--rounds` interleaved rounds (so that load from other jobs hits all
  kinds alike) of
  end_to_end_epoch_s  the same, warm
  step_epoch_s        the same number of steps on `--in_memory_batches`
                      batches already on the device, cycled
  pipeline_epoch_s    the pipeline alone (host batches -> global arrays), no
                      step

`pipeline_share` = (end-to-end - step) / end-to-end, the median over the
rounds: the part of the epoch the pipeline adds to the step (target < 10 %;
`pipeline_share_fastest_epochs` compares the fastest epoch of each kind).
`pipeline_alone_over_end_to_end` bounds it when the two do not overlap at
all, and `pipeline_cpu_share` (process CPU seconds of the pipeline alone / of
an end-to-end epoch) measures its cost in a way that other jobs on the
machine disturb less than wall time. On a CPU-only machine the pipeline and
the step share the same cores, so the pipeline's own CPU time shows up in the
share. Prints one JSON object.

  python -m benchmarks.end_to_end [--batch_sizes=8,32 --rounds=2]
"""

import json
import math
import os
import resource
import shutil
import statistics
import tempfile
import time

from absl import app
from absl import flags
import jax
import numpy as np

from benchmarks import storage
from benchmarks import train_step as train_step_benchmark
from seld_jax import input_pipeline
from seld_jax import sharding
from seld_jax import train_step

_MODEL = flags.DEFINE_enum(
    'model', 'crnn', ['crnn', 'conformer'], 'Model (config) to train.'
)
_BATCH_SIZES = flags.DEFINE_list('batch_sizes', ['8', '32'], 'Global batches.')
_ROUNDS = flags.DEFINE_integer(
    'rounds', 2, 'Rounds of (end-to-end, step, pipeline) warm epochs.'
)
_IN_MEMORY = flags.DEFINE_integer(
    'in_memory_batches', 4, 'Distinct device batches of the step-only run.'
)
_CACHE = flags.DEFINE_integer(
    'cache_records', None, 'Override config.cache_records.'
)
_WORKERS = flags.DEFINE_integer(
    'num_workers', None, 'Override config.num_workers.'
)
_THREADS = flags.DEFINE_integer(
    'read_threads', None, 'Override config.read_threads.'
)
_BF16 = flags.DEFINE_bool('bf16', False, 'Set config.bf16.')

MODEL_CONFIGS = {
    # The DCASE2023 baseline on 5-s windows (the PyTorch reference's input).
    'crnn': 'configs.default:five_second_config',
    'conformer': 'configs.conformer_synthetic',
}


def _cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def _load() -> list[float]:
  return [round(x, 2) for x in os.getloadavg()]


def _config(dataset: str, data_dir: str, batch: int):
  config = train_step_benchmark.load_config(MODEL_CONFIGS[_MODEL.value])
  config.dataset = dataset
  config.data_dir = data_dir
  config.batch_size = batch
  config.bf16 = _BF16.value
  for name, flag in (
      ('cache_records', _CACHE),
      ('num_workers', _WORKERS),
      ('read_threads', _THREADS),
  ):
    if flag.value is not None:
      config[name] = flag.value
  return config


def _identity_stats(config) -> dict[str, np.ndarray]:
  """Normalisation in the step as in training (values do not change cost)."""
  num_samples = int(round(config.window_seconds * config.sample_rate))
  c, _, f = train_step.feature_spec(config, None).shape(num_samples)
  return {
      'mean': np.zeros((c, f), np.float32),
      'std': np.ones((c, f), np.float32),
  }


def _measure(config, shard, mesh) -> dict:
  """Times one batch size (see the module docstring)."""
  batch_size = config.batch_size
  window = int(round(config.window_seconds * shard.label_rate))
  frames = np.array([r.num_frames for r in shard.recordings])
  local = batch_size // jax.process_count()
  steps = max(1, math.ceil(np.sum(np.ceil(frames / window)) / local))

  run = train_step.setup(config, mesh, _identity_stats(config))
  data = input_pipeline.create_train_dataset(
      config, sharding.data_sharding(mesh), shard=shard
  )
  it = iter(data)
  state = run.state

  start = time.perf_counter()
  state, metrics = run.train_step(state, next(it))
  jax.block_until_ready(metrics['loss'])
  compile_s = time.perf_counter() - start

  def end_to_end_epoch(state):
    start, cpu = time.perf_counter(), _cpu_seconds()
    for _ in range(steps):
      state, metrics = run.train_step(state, next(it))
    jax.block_until_ready(metrics['loss'])
    return state, time.perf_counter() - start, _cpu_seconds() - cpu

  def step_epoch(state, batches):
    start, cpu = time.perf_counter(), _cpu_seconds()
    for i in range(steps):
      state, metrics = run.train_step(state, batches[i % len(batches)])
    jax.block_until_ready(metrics['loss'])
    return state, time.perf_counter() - start, _cpu_seconds() - cpu

  def pipeline_epoch():
    start, cpu = time.perf_counter(), _cpu_seconds()
    for _ in range(steps):
      batch = next(it)
    jax.block_until_ready(batch)
    return time.perf_counter() - start, _cpu_seconds() - cpu

  # Epoch 1 reads (and caches) the records.
  state, cold_s, _ = end_to_end_epoch(state)
  in_memory = [next(it) for _ in range(_IN_MEMORY.value)]
  jax.block_until_ready(in_memory)
  # Interleaved rounds, so that load from other jobs hits all three alike.
  e2e_s, step_s, pipeline_s = [], [], []
  e2e_cpu, step_cpu, pipeline_cpu = [], [], []
  for _ in range(_ROUNDS.value):
    state, seconds, cpu = end_to_end_epoch(state)
    e2e_s.append(seconds)
    e2e_cpu.append(cpu)
    state, seconds, cpu = step_epoch(state, in_memory)
    step_s.append(seconds)
    step_cpu.append(cpu)
    seconds, cpu = pipeline_epoch()
    pipeline_s.append(seconds)
    pipeline_cpu.append(cpu)

  windows = steps * batch_size
  best_e2e, best_step, best_pipe = min(e2e_s), min(step_s), min(pipeline_s)
  # Each round's end-to-end and step-only epochs ran back to back: the
  # median of the per-round shares is the least disturbed by load changes.
  share = statistics.median(
      (e - t) / e for e, t in zip(e2e_s, step_s, strict=True)
  )
  return {
      'global_batch': batch_size,
      'steps_per_epoch': steps,
      'windows_per_epoch': windows,
      'compile_and_first_step_s': round(compile_s, 2),
      'first_epoch_s': round(cold_s, 3),
      'end_to_end_epoch_s': [round(x, 3) for x in e2e_s],
      'step_epoch_s': [round(x, 3) for x in step_s],
      'pipeline_epoch_s': [round(x, 3) for x in pipeline_s],
      'end_to_end_windows_per_s': round(windows / best_e2e, 2),
      'step_windows_per_s': round(windows / best_step, 2),
      'pipeline_windows_per_s': round(windows / best_pipe, 2),
      'pipeline_share': round(share, 4),
      'pipeline_share_fastest_epochs': round(
          (best_e2e - best_step) / best_e2e, 4
      ),
      'pipeline_share_first_epoch': round((cold_s - best_step) / cold_s, 4),
      'pipeline_alone_over_end_to_end': round(best_pipe / best_e2e, 4),
      # Process CPU seconds (all threads) per epoch: less sensitive to other
      # jobs than wall time. Grain worker processes (num_workers > 0) are not
      # counted.
      'cpu_s_end_to_end': [round(x, 2) for x in e2e_cpu],
      'cpu_s_step': [round(x, 2) for x in step_cpu],
      'cpu_s_pipeline': [round(x, 2) for x in pipeline_cpu],
      'pipeline_cpu_share': round(
          statistics.median(pipeline_cpu) / statistics.median(e2e_cpu), 4
      ),
      'meets_target_10pct': bool(share < 0.10),
      'load_average_at_end': _load(),
  }


def main(argv):
  del argv
  tmp = tempfile.mkdtemp(prefix='seld_e2e_')
  try:
    start = time.perf_counter()
    dataset, data_dir, built = storage.dataset_from_flags(tmp)
    build_s = round(time.perf_counter() - start, 1) if built else None
    load_start = _load()
    wall = time.perf_counter()
    start = time.perf_counter()
    shard = input_pipeline.open_shard(dataset, 'train', data_dir)
    index_s = time.perf_counter() - start
    mesh = sharding.make_mesh()
    results = []
    config = None
    for batch in (int(b) for b in _BATCH_SIZES.value):
      config = _config(dataset, data_dir, batch)
      results.append(_measure(config, shard, mesh))
    seconds = [r.num_samples / shard.sample_rate for r in shard.recordings]
    report = {
        'benchmark': 'end_to_end',
        'model': _MODEL.value,
        'config': MODEL_CONFIGS[_MODEL.value],
        'dataset': dataset,
        'built_here_s': build_s,
        'train_recordings': len(shard.recordings),
        'train_audio_s': round(sum(seconds), 1),
        'open_and_index_s': round(index_s, 2),
        'pipeline_settings': {
            'cache_records': config.get('cache_records'),
            'num_workers': config.get('num_workers', 0),
            'read_threads': config.get('read_threads', 0),
            'windows_per_read': config.get('windows_per_read', 1),
            'window_seconds': config.window_seconds,
        },
        'timing': (
            'host never waits inside an epoch (as seld_jax.train); one cold '
            f'end-to-end epoch (fills the record cache), then {_ROUNDS.value} '
            'interleaved rounds of warm end-to-end / step-only / '
            'pipeline-only epochs; *_windows_per_s from the fastest epoch '
            'of each kind, pipeline_share the median of the rounds'
        ),
        'results': results,
        'machine': {
            'cpu_count': os.cpu_count(),
            'load_average_1_5_15_at_start': load_start,
            'load_average_1_5_15_at_end': _load(),
            'wall_s': round(time.perf_counter() - wall, 1),
            'jax': jax.__version__,
            'backend': jax.default_backend(),
            'devices': jax.device_count(),
        },
    }
    print(json.dumps(report, indent=2))
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
  app.run(main)

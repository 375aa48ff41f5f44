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

"""Benchmark: windows per second delivered by seld_jax.input_pipeline.

Unless `--data_dir` names a built `starss23/foa` dataset, one is written to a
temporary folder first: `--num_recordings` training and 2 test recordings of
`--seconds` s of 4-channel 24 kHz int16 noise with random STARSS23 labels,
built with the starss23 builder into ArrayRecord (so a record is as large as
a real recording of that length: 11.5 MB per minute, zstd-compressed by
TFDS). Then, for each setting (grain workers, `windows_per_read`,
`cache_records`, `read_threads`), training batches of `--batch` windows of
`--window_seconds` with multi-ACCDOA targets are drawn (numpy batches, no
device transfer) and timed after a warm-up (with a whole-shard cache the
warm-up batches also fill it); one evaluation pass is timed too. Prints one
JSON object.

  python -m benchmarks.input_pipeline [--batch=32 --batches=10]
"""

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time

from absl import app
from absl import flags
import grain
import jax
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from data_builders.starss23 import starss23_dataset_builder
from seld_jax import input_pipeline
from seld_jax.testing import dummy_data

_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'A TFDS data dir holding starss23/foa; else build one.'
)
_NUM_RECORDINGS = flags.DEFINE_integer(
    'num_recordings', 8, 'Training recordings to synthesise.'
)
_SECONDS = flags.DEFINE_float('seconds', 120.0, 'Seconds per recording.')
_BATCH = flags.DEFINE_integer('batch', 32, 'Windows per batch.')
_BATCHES = flags.DEFINE_integer('batches', 10, 'Timed batches per setting.')
_WINDOW = flags.DEFINE_float('window_seconds', 5.0, 'Window length.')
_SETTINGS = flags.DEFINE_list(
    'settings',
    ['0:1:0:0', '0:4:1:0', '0:1:-1:0', '0:1:-1:1', '2:1:-1:0', '2:4:1:0'],
    'num_workers:windows_per_read:cache_records:read_threads to time.',
)


def _build(root: str) -> str:
  manual = os.path.join(root, 'manual')
  recs = [
      ('dev-train-sony', f'fold3_room21_mix{i:03d}', _SECONDS.value)
      for i in range(_NUM_RECORDINGS.value)
  ] + [
      ('dev-test-sony', f'fold4_room23_mix{i:03d}', _SECONDS.value)
      for i in range(2)
  ]
  dummy_data.write_starss_layout(
      manual, recs, audio_formats=('foa',), video=False
  )
  data_dir = os.path.join(root, 'tfds')
  builder = starss23_dataset_builder.Builder(
      data_dir=data_dir, config='foa', file_format='array_record'
  )
  # TFDS prints its progress to stdout; keep stdout for the JSON report.
  with contextlib.redirect_stdout(sys.stderr):
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual)
    )
  shutil.rmtree(manual)
  return data_dir


def _config(data_dir, workers, per_read, cache, threads=0):
  return ml_collections.ConfigDict({
      'dataset': 'starss23/foa',
      'data_dir': data_dir,
      'train_split': 'train',
      'eval_split': 'test',
      'window_seconds': _WINDOW.value,
      'batch_size': _BATCH.value,
      'target': 'multi_accdoa',
      'num_classes': 13,
      'seed': 0,
      'sampling': 'time',
      'windows_per_read': per_read,
      'cache_records': cache,
      'num_workers': workers,
      'read_threads': threads,
  })


def _step_windows_per_s(batch: int, window_seconds: float) -> float:
  """Windows/s the default training step consumes (features on device)."""
  from configs import default  # pylint: disable=g-import-not-at-top
  from seld_jax import sharding  # pylint: disable=g-import-not-at-top
  from seld_jax import train_step  # pylint: disable=g-import-not-at-top

  config = default.get_config()
  config.batch_size = batch
  config.window_seconds = window_seconds
  mesh = sharding.make_mesh()
  run = train_step.setup(config, mesh)
  n = int(round(window_seconds * config.sample_rate))
  t = int(round(window_seconds * config.label_rate))
  rng = np.random.default_rng(0)
  batch_np = {
      'audio': rng.normal(scale=0.1, size=(batch, 4, n)).astype(np.float32),
      'target': np.zeros((batch, t, 6, 4, config.num_classes), np.float32),
      'mask': np.ones((batch, t), np.float32),
  }
  state = run.state
  state, m = run.train_step(state, sharding.to_global(batch_np, mesh))
  m['loss'].block_until_ready()  # compile
  steps = 3
  start = time.perf_counter()
  for _ in range(steps):
    state, m = run.train_step(state, sharding.to_global(batch_np, mesh))
  m['loss'].block_until_ready()
  return steps * batch / (time.perf_counter() - start)


def main(argv):
  del argv
  tmp = None
  data_dir = _DATA_DIR.value
  build_s = None
  if data_dir is None:
    tmp = tempfile.mkdtemp(prefix='seld_bench_')
    start = time.perf_counter()
    data_dir = _build(tmp)
    build_s = time.perf_counter() - start
  try:
    start = time.perf_counter()
    shard = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    for r in shard.recordings:
      shard.source[r.index]
    read_ms = 1000 * (time.perf_counter() - start) / len(shard.recordings)
    samples = shard.recordings[0].num_samples
    results = []
    for setting in _SETTINGS.value:
      workers, per_read, cache, threads = (int(v) for v in setting.split(':'))
      config = _config(data_dir, workers, per_read, cache, threads)
      it = iter(input_pipeline.create_train_dataset(config, shard=shard))
      start = time.perf_counter()
      warmup = len(shard.recordings) if cache < 0 else 2
      for _ in range(warmup):  # worker start-up (and filling the cache)
        next(it)
      warm_s = time.perf_counter() - start
      start = time.perf_counter()
      for _ in range(_BATCHES.value):
        next(it)
      elapsed = time.perf_counter() - start
      windows = _BATCHES.value * _BATCH.value
      results.append({
          'num_workers': workers,
          'windows_per_read': per_read,
          'cache_records': cache,
          'read_threads': threads,
          'windows_per_s': round(windows / elapsed, 1),
          'audio_s_per_s': round(windows * _WINDOW.value / elapsed, 1),
          'batches_per_s': round(_BATCHES.value / elapsed, 2),
          'warmup_batches': warmup,
          'warmup_s': round(warm_s, 2),
      })
      del it
    config = _config(data_dir, 0, 1, 1)
    start = time.perf_counter()
    data = input_pipeline.create_eval_dataset(config)
    windows = 0
    for batch in data:
      windows += int(np.sum(batch['record_index'] >= 0))
    eval_s = time.perf_counter() - start
    report = {
        'dataset': {
            'name': 'starss23/foa (synthetic noise, real record layout)',
            'train_recordings': len(shard.recordings),
            'seconds_per_recording': samples / shard.sample_rate,
            'record_mb': round(samples * 4 * 2 / 1e6, 1),
            'build_s': None if build_s is None else round(build_s, 1),
        },
        'window_seconds': _WINDOW.value,
        'batch': _BATCH.value,
        'target': 'multi_accdoa',
        'timed_batches': _BATCHES.value,
        'index_s': round(index_s, 2),
        'full_record_read_ms': round(read_ms, 1),
        'train': results,
        # What the default training step (DCASE2023 CRNN, same batch and
        # window) consumes on this machine: the pipeline must stay above it.
        'default_step_windows_per_s': round(
            _step_windows_per_s(_BATCH.value, _WINDOW.value), 1
        ),
        'eval_one_pass': {
            'windows': windows,
            'windows_per_s': round(windows / eval_s, 1),
            'seconds_including_index': round(eval_s, 2),
        },
        'machine': {
            'cpu_count': os.cpu_count(),
            'sched_affinity_cpus': len(os.sched_getaffinity(0)),
            'processor': platform.processor() or platform.machine(),
            'python': platform.python_version(),
            'jax': jax.__version__,
            'grain': getattr(grain, '__version__', 'unknown'),
            'tfds': tfds.__version__,
        },
    }
    print(json.dumps(report, indent=2))
  finally:
    if tmp is not None:
      shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
  app.run(main)

"""seld_jax.input_pipeline in a 2-process JAX job (CPU, gloo collectives).

Two worker processes (2 CPU devices each, one 4-device mesh) join with
`jax.distributed.initialize` on localhost. The starss23 dummy data's 'train'
split (3 recordings) splits 2 + 1 over the processes, so the evaluation
padding and the per-process window counts differ. Each worker writes what it
saw; the test checks that the shards partition the split, that both
processes ran the same number of evaluation batches, that the global batch
assembled from both processes is what each process supplied, and that the
normalisation statistics combined across processes equal the single-process
ones.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from data_builders.starss23 import starss23_dataset_builder
from seld_jax import input_pipeline

REPO = pathlib.Path(__file__).resolve().parents[1]
DUMMY = pathlib.Path(starss23_dataset_builder.__file__).parent / 'dummy_data'

_WORKER = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    port, pid, data_dir, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    jax.distributed.initialize(
        f'localhost:{port}', num_processes=2, process_id=pid,
        local_device_ids=[0, 1])
    import ml_collections
    import numpy as np
    from jax.experimental import multihost_utils
    from seld_jax import input_pipeline

    assert jax.process_count() == 2 and jax.device_count() == 4
    config = ml_collections.ConfigDict(dict(
        dataset='starss23/foa', data_dir=data_dir, train_split='train',
        eval_split='train', window_seconds=0.3, eval_hop_seconds=0.3,
        batch_size=4, target='multi_accdoa', num_classes=13, seed=5))
    mesh = jax.make_mesh((4,), ('data',))
    sharding = jax.sharding.NamedSharding(mesh, jax.P('data'))
    shard = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
    result = {'ids': [[r.global_index, r.id] for r in shard.recordings]}

    it = iter(input_pipeline.create_train_dataset(config, sharding))
    batch = next(it)
    local = {k: np.asarray(v) for k, v in next(iter(
        input_pipeline.create_train_dataset(config))).items()
        if k != 'target'}
    full = multihost_utils.process_allgather(batch['audio'], tiled=True)
    assert full.shape == (4, 4, 7200), full.shape
    rows = input_pipeline.process_local_rows(batch['audio'])
    np.testing.assert_array_equal(rows, local['audio'])
    np.testing.assert_array_equal(full[2 * pid: 2 * pid + 2], local['audio'])
    result['train_records'] = sorted(set(
        input_pipeline.process_local_rows(batch['record_index']).tolist()))

    data = input_pipeline.create_eval_dataset(config, sharding)
    n, windows = 0, 0
    for b in data:
      rec = input_pipeline.process_local_rows(b['record_index'])
      windows += int(np.sum(rec >= 0))
      n += 1
    result['eval_batches'] = n
    result['eval_windows'] = windows
    result['num_batches'] = data.num_batches

    config.eval_split = 'test'  # statistics refuse to read the eval split
    stats = input_pipeline.compute_normalization_stats(
        config, 'log_mel', {'num_mels': 8}, batch_size=2)
    result['stats_count'] = stats.count
    result['stats_mean'] = stats.mean.tolist()
    result['stats_std'] = stats.std.tolist()
    with open(out, 'w') as f:
      json.dump(result, f)
    jax.distributed.shutdown()
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('tfds')
  builder = starss23_dataset_builder.Builder(
      data_dir=path, config='foa', file_format='array_record'
  )
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=DUMMY)
  )
  return str(path)


def test_two_processes(data_dir, tmp_path):
  env = dict(os.environ)
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'
  env['JAX_PLATFORMS'] = 'cpu'
  env['PYTHONPATH'] = os.pathsep.join(
      [str(REPO)]
      + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
  )
  port = _free_port()
  procs = [
      subprocess.Popen(
          [
              sys.executable,
              '-c',
              _WORKER,
              str(port),
              str(pid),
              data_dir,
              str(tmp_path / f'out{pid}.json'),
          ],
          env=env,
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
          text=True,
      )
      for pid in range(2)
  ]
  logs = []
  for p in procs:
    try:
      logs.append(p.communicate(timeout=240)[0])
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      raise
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-4000:]
  out = [json.loads((tmp_path / f'out{i}.json').read_text()) for i in range(2)]

  # The shards partition the split: 2 + 1 recordings, global indices 0..2.
  full = input_pipeline.open_shard('starss23/foa', 'train', data_dir)
  ids = sorted(tuple(x) for o in out for x in o['ids'])
  assert ids == sorted((r.global_index, r.id) for r in full.recordings)
  assert [len(o['ids']) for o in out] == [2, 1]
  for o in out:
    own = {g for g, _ in o['ids']}
    assert set(o['train_records']) <= own

  # Same number of eval batches everywhere; every window counted once.
  assert (
      out[0]['eval_batches'] == out[1]['eval_batches'] == out[0]['num_batches']
  )
  expected_windows = sum(
      len(input_pipeline.window_starts(r.num_frames, 3, 3))
      for r in full.recordings
  )
  assert out[0]['eval_windows'] + out[1]['eval_windows'] == expected_windows
  assert out[0]['eval_windows'] != out[1]['eval_windows']

  # Statistics combined across processes == one process over the split.
  config = ml_collections.ConfigDict(
      dict(
          dataset='starss23/foa',
          data_dir=data_dir,
          train_split='train',
          eval_split='test',
          window_seconds=0.3,
      )
  )
  single = input_pipeline.compute_normalization_stats(
      config, 'log_mel', {'num_mels': 8}, batch_size=2, shard=full
  )
  for o in out:
    assert o['stats_count'] == single.count
    np.testing.assert_allclose(o['stats_mean'], single.mean, rtol=1e-6)
    np.testing.assert_allclose(o['stats_std'], single.std, rtol=1e-5)

"""One process of a multi-process training test (CPU, gloo collectives).

  python distributed_steps.py PROCESS_ID NUM_PROCESSES PORT

Every process builds the same global batches, feeds its own rows (process-
local data -> global arrays), runs a few train steps and prints one JSON line
with the losses (used by tests/distributed_test.py).
"""

import json
import sys

import jax


def main():
  process_id, num_processes, port = (int(a) for a in sys.argv[1:4])
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  if num_processes > 1:
    jax.distributed.initialize(
        coordinator_address=f'127.0.0.1:{port}',
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=[0],
    )
  import numpy as np  # pylint: disable=g-import-not-at-top

  from configs import test as test_config  # pylint: disable=g-import-not-at-top
  from seld_jax import sharding  # pylint: disable=g-import-not-at-top
  from seld_jax import train_step  # pylint: disable=g-import-not-at-top

  config = test_config.get_config()
  config.model_kwargs.dropout = 0.0
  mesh = sharding.make_mesh()
  sharding.check_global_batch(config.batch_size, mesh)
  run = train_step.setup(config, mesh)
  state, jtrain = run.state, run.train_step
  rng = np.random.default_rng(0)
  local = sharding.local_batch_size(config.batch_size)
  rows = slice(process_id * local, (process_id + 1) * local)
  losses = []
  for _ in range(4):
    b = config.batch_size
    audio = rng.normal(scale=0.1, size=(b, 4, 24000)).astype(np.float32)
    target = np.zeros((b, 10, 6, 4, 13), np.float32)
    target[: b // 2, :, 0, 0, 2] = 1.0
    target[: b // 2, :, 0, 1, 2] = 1.0
    batch = {
        'audio': audio[rows],
        'target': target[rows],
        'mask': np.ones((b,), np.float32)[rows],
    }
    state, metrics = jtrain(state, sharding.to_global(batch, mesh))
    losses.append(float(metrics['loss']))
  print(
      json.dumps({
          'process': jax.process_index(),
          'processes': jax.process_count(),
          'devices': jax.device_count(),
          'losses': losses,
      })
  )


if __name__ == '__main__':
  main()

"""Runs a few train steps on an 8-device mesh and on a 1-device mesh.

Run with XLA_FLAGS=--xla_force_host_platform_device_count=8; prints one JSON
line with the losses of both runs (used by tests/train_step_test.py).
"""

import json

import jax
import numpy as np

from configs import test as test_config
from seld_jax import sharding
from seld_jax import train_step


def run(devices, batches, optimizer='adam'):
  config = test_config.get_config()
  config.model_kwargs.dropout = 0.0  # identical randomness is not the point
  config.optimizer = optimizer
  mesh = sharding.make_mesh(devices=devices)
  run = train_step.setup(config, mesh)
  state, jtrain = run.state, run.train_step
  losses = []
  for batch in batches:
    state, metrics = jtrain(state, sharding.to_global(batch, mesh))
    losses.append(float(metrics['loss']))
  return losses


def main():
  rng = np.random.default_rng(0)
  batches = []
  for _ in range(3):
    audio = rng.normal(scale=0.1, size=(8, 4, 24000)).astype(np.float32)
    target = np.zeros((8, 10, 6, 4, 13), np.float32)
    target[:, :, 0, 0, 5] = 1.0
    target[:, :, 0, 2, 5] = 1.0
    batches.append(
        {'audio': audio, 'target': target, 'mask': np.ones(8, np.float32)}
    )
  result = {'devices': jax.device_count()}
  for optimizer in ('adam', 'muon'):
    prefix = '' if optimizer == 'adam' else 'muon_'
    result[prefix + 'losses_8'] = run(jax.devices(), batches, optimizer)
    result[prefix + 'losses_1'] = run(jax.devices()[:1], batches, optimizer)
  print(json.dumps(result))


if __name__ == '__main__':
  main()

"""Two local processes with `jax.distributed.initialize` (127.0.0.1, gloo).

Each process feeds its half of every global batch; the losses must agree
across processes and with a single process that sees the whole batch.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import portpicker

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / 'tests' / 'helpers' / 'distributed_steps.py'


def _env():
  env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS='cpu')
  env.pop('XLA_FLAGS', None)  # one CPU device per process
  return env


def _result(stdout: str) -> dict:
  return json.loads(stdout.strip().splitlines()[-1])


def test_two_processes_match_one_process():
  port = portpicker.pick_unused_port()
  procs = [
      subprocess.Popen(
          [sys.executable, str(SCRIPT), str(i), '2', str(port)],
          env=_env(),
          cwd=REPO,
          stdout=subprocess.PIPE,
          stderr=subprocess.PIPE,
          text=True,
      )
      for i in range(2)
  ]
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  results = [_result(out) for out, _ in outs]
  assert [r['process'] for r in results] == [0, 1]
  assert all(r['processes'] == 2 and r['devices'] == 2 for r in results)
  np.testing.assert_allclose(results[0]['losses'], results[1]['losses'])
  single = subprocess.run(
      [sys.executable, str(SCRIPT), '0', '1', '0'],
      env=_env(),
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=600,
      check=True,
  )
  np.testing.assert_allclose(
      results[0]['losses'],
      _result(single.stdout)['losses'],
      rtol=1e-4,
      atol=1e-6,
  )
  assert results[0]['losses'][-1] < results[0]['losses'][0]

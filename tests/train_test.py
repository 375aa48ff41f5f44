"""End-to-end tests of `python -m seld_jax.main`: train, evaluate, resume.

They build the tiny STARSS23 dummy dataset (data_builders/starss23/
dummy_data) once into a temporary TFDS data dir and run the tiny test config
on it.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import orbax.checkpoint as ocp
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DUMMY = REPO / 'data_builders' / 'starss23' / 'dummy_data'


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  out = tmp_path_factory.mktemp('tfds')
  env = dict(os.environ, PYTHONPATH=str(REPO))
  code = (
      'import tensorflow_datasets as tfds;'
      'import data_builders.starss23.starss23_dataset_builder;'
      f'b = tfds.builder("starss23/foa", data_dir={str(out)!r},'
      ' file_format="array_record");'
      'b.download_and_prepare(download_config=tfds.download.DownloadConfig('
      f'manual_dir={str(DUMMY)!r}))'
  )
  subprocess.run(
      [sys.executable, '-c', code],
      env=env,
      check=True,
      timeout=600,
      capture_output=True,
  )
  return out


def _cmd(workdir, data_dir, *extra):
  return [
      sys.executable,
      '-m',
      'seld_jax.main',
      '--config',
      str(REPO / 'configs' / 'test.py'),
      '--workdir',
      str(workdir),
      '--config.dataset=starss23/foa',
      f'--config.data_dir={data_dir}',
      '--config.batch_size=4',
      '--config.eval_batch_size=4',
      *extra,
  ]


def _env():
  return dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS='cpu')


def _run(workdir, data_dir, *extra, check=True):
  return subprocess.run(
      _cmd(workdir, data_dir, *extra),
      env=_env(),
      cwd=REPO,
      timeout=900,
      capture_output=True,
      text=True,
      check=check,
  )


def _params(workdir, step):
  path = pathlib.Path(workdir) / 'checkpoints' / str(step) / 'state'
  restored = ocp.StandardCheckpointer().restore(path)
  return restored['params']


def _flat(tree):
  import jax  # pylint: disable=g-import-not-at-top

  return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_train_evaluate_and_resume_after_sigkill(tmp_path, data_dir):
  steps = [
      '--config.num_train_steps=8',
      '--config.checkpoint_every_steps=2',
      '--config.eval_every_steps=4',
      '--config.log_every_steps=2',
  ]
  # Uninterrupted reference run.
  ref = tmp_path / 'ref'
  _run(ref, data_dir, *steps)
  metrics = json.loads((ref / 'eval' / 'test' / 'metrics.json').read_text())
  assert metrics['metric'] == 'dcase2023' and metrics['files'] == 2
  assert set(metrics) >= {'ER', 'F', 'LE', 'LR', 'SELD', 'classwise'}
  preds = sorted((ref / 'eval' / 'test' / 'pred').glob('*.csv'))
  assert [p.stem for p in preds] == [
      'dev-test-sony__fold4_room23_mix001',
      'dev-test-tau__fold4_room2_mix001',
  ]
  assert len(list((ref / 'eval' / 'test' / 'plots').glob('*.png'))) == 2
  assert (ref / 'norm_stats.npz').exists()
  assert (ref / 'config.json').exists()
  assert list(ref.glob('events.out.tfevents.*'))

  # Killed run: SIGKILL once the first checkpoint is committed, then resume.
  run = tmp_path / 'killed'
  proc = subprocess.Popen(
      _cmd(run, data_dir, *steps),
      env=_env(),
      cwd=REPO,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL,
  )
  deadline = time.time() + 600
  marker = run / 'checkpoints' / '2' / 'commit_success.txt'
  while not marker.exists() and proc.poll() is None:
    assert time.time() < deadline
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL
  assert not (run / 'checkpoints' / '8').exists()
  _run(run, data_dir, *steps)  # the same command resumes
  for a, b in zip(_flat(_params(ref, 8)), _flat(_params(run, 8)), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_sigterm_saves_a_checkpoint(tmp_path, data_dir):
  run = tmp_path / 'term'
  proc = subprocess.Popen(
      _cmd(
          run,
          data_dir,
          '--config.num_train_steps=100000',
          '--config.checkpoint_every_steps=1000',
          '--config.eval_every_steps=1000',
          '--config.log_every_steps=1',
      ),
      env=_env(),
      cwd=REPO,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
  )
  deadline = time.time() + 600
  while not list(run.glob('events.out.tfevents.*')) and proc.poll() is None:
    assert time.time() < deadline
    time.sleep(0.2)
  time.sleep(3)  # let a few steps run
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 143, err[-2000:]
  steps = [
      int(p.name) for p in (run / 'checkpoints').iterdir() if p.name.isdigit()
  ]
  assert steps and 0 < max(steps) < 1000
  assert 'SIGTERM received' in err


def test_non_finite_loss_names_the_step(tmp_path, data_dir):
  run = tmp_path / 'nan'
  out = _run(
      run,
      data_dir,
      '--config.num_train_steps=30',
      '--config.learning_rate=1e30',
      '--config.log_every_steps=1',
      '--config.checkpoint_every_steps=1',
      '--config.eval_every_steps=1000',
      check=False,
  )
  assert out.returncode != 0
  assert 'NonFiniteLossError' in out.stderr
  assert 'Non-finite training loss' in out.stderr
  line = [l for l in out.stderr.splitlines() if 'at step' in l][-1]
  bad_step = int(line.split('at step ')[1].split('.')[0])
  kept = sorted(
      int(p.name) for p in (run / 'checkpoints').iterdir() if p.name.isdigit()
  )
  # The last good checkpoint is kept; nothing at or after the bad step.
  assert kept and max(kept) < bad_step

"""End-to-end tests of `python -m seld_jax.main`: train, evaluate, resume.

They build the tiny STARSS23 dummy dataset (data_builders/starss23/
dummy_data) once into a temporary TFDS data dir and run the tiny test config
on it.
"""

import json
import os
import pathlib
import re
import shutil
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


_STEPS = (
    '--config.num_train_steps=8',
    '--config.checkpoint_every_steps=2',
    '--config.eval_every_steps=4',
    '--config.log_every_steps=2',
)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, data_dir):
  """An uninterrupted 8-step run (shared by the tests below)."""
  ref = tmp_path_factory.mktemp('runs') / 'ref'
  proc = _run(ref, data_dir, *_STEPS)
  (ref.parent / 'ref.log').write_text(proc.stderr)
  return ref


def test_run_directory_layout(trained):
  ref = trained
  metrics = json.loads((ref / 'eval' / 'test' / 'metrics.json').read_text())
  assert metrics['metric'] == 'dcase2023' and metrics['files'] == 2
  assert set(metrics) >= {'ER', 'F', 'LE', 'LR', 'SELD', 'classwise'}
  preds = sorted((ref / 'eval' / 'test' / 'pred').glob('*.csv'))
  # Named like the reference CSVs, so `seld_jax.score` pairs them.
  assert [p.stem for p in preds] == [
      'fold4_room23_mix001',
      'fold4_room2_mix001',
  ]
  assert len(list((ref / 'eval' / 'test' / 'plots').glob('*.png'))) == 2
  # The written CSVs, scored by `seld_jax.score` against the dataset's own
  # metadata folder, give the numbers of metrics.json.
  from seld_jax import score  # pylint: disable=g-import-not-at-top

  rescored = score.score_folders(
      DUMMY / 'metadata_dev',
      ref / 'eval' / 'test' / 'pred',
      'dcase2023',
      missing='skip',
  )
  assert rescored['files'] == 2
  for key in ('ER', 'F', 'LE', 'LR', 'SELD'):
    assert rescored[key] == pytest.approx(metrics[key], abs=1e-9), key
  assert (ref / 'norm_stats.npz').exists()
  config = json.loads((ref / 'config.json').read_text())
  assert config['num_channels'] == 4 and config['dataset'] == 'starss23/foa'
  assert list(ref.glob('events.out.tfevents.*'))
  # Latest two checkpoints and the best are kept.
  kept = sorted(
      int(p.name) for p in (ref / 'checkpoints').iterdir() if p.name.isdigit()
  )
  assert kept[-2:] == [6, 8] and len(kept) <= 3


def test_resume_after_sigkill_matches_uninterrupted(
    tmp_path, data_dir, trained
):
  # Killed run: SIGKILL once the first checkpoint is committed, then resume.
  run = tmp_path / 'killed'
  proc = subprocess.Popen(
      _cmd(run, data_dir, *_STEPS),
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
  _run(run, data_dir, *_STEPS)  # the same command resumes
  for a, b in zip(
      _flat(_params(trained, 8)), _flat(_params(run, 8)), strict=True
  ):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_resume_refuses_another_recipe(tmp_path, data_dir, trained):
  run = tmp_path / 'other'
  shutil.copytree(trained, run)
  recorded = (run / 'config.json').read_text()
  steps = sorted(p.name for p in (run / 'checkpoints').iterdir())
  out = _run(
      run,
      data_dir,
      *_STEPS,
      '--config.model_kwargs.rnn_size=32',
      check=False,
  )
  assert out.returncode != 0
  assert 'holds a checkpoint at step 8 of another recipe' in out.stderr
  assert 'model_kwargs' in out.stderr
  # Nothing of the run was touched.
  assert (run / 'config.json').read_text() == recorded
  assert sorted(p.name for p in (run / 'checkpoints').iterdir()) == steps


def test_config_changes_splits_fixed_from_other_fields():
  import ml_collections  # pylint: disable=g-import-not-at-top

  from seld_jax import train  # pylint: disable=g-import-not-at-top

  config = ml_collections.ConfigDict({
      'model': 'seld_crnn',
      'model_kwargs': {'rnn_size': 16},
      'learning_rate': 1e-3,
      'num_train_steps': 10,
      'window_seconds': 1.0,
  })
  recorded = json.loads(config.to_json_best_effort())
  assert train.config_changes(recorded, config) == ([], [])
  train.check_resume_config(recorded, config, 5)  # unchanged: no error
  train.check_resume_config(None, config, 5)  # nothing recorded
  changed = train.with_overrides(
      config, learning_rate=2e-3, num_train_steps=20, extra=1
  )
  assert train.config_changes(recorded, changed) == (
      [],
      ['extra', 'learning_rate', 'num_train_steps'],
  )
  train.check_resume_config(recorded, changed, 5)  # a warning only
  changed.model_kwargs.rnn_size = 32
  assert train.config_changes(recorded, changed)[0] == ['model_kwargs']
  with pytest.raises(ValueError, match=r"model_kwargs=\{'rnn_size': 16\}"):
    train.check_resume_config(recorded, changed, 5)


def test_check_eval_config_refuses_another_model():
  import ml_collections  # pylint: disable=g-import-not-at-top

  from seld_jax import train  # pylint: disable=g-import-not-at-top

  config = ml_collections.ConfigDict({
      'model': 'asma_seld',
      'model_kwargs': {'decoder_norm_first': False, 'rnn_size': 16},
      'dataset': 'a',
      'learning_rate': 1e-3,
  })
  recorded = json.loads(config.to_json_best_effort())
  train.check_eval_config(recorded, config, 'W')  # the run's own settings
  train.check_eval_config(None, config, 'W')  # no config.json to check
  # Another test set or recipe setting: evaluation is the same model.
  other = train.with_overrides(config, dataset='b', learning_rate=2e-3)
  train.check_eval_config(recorded, other, 'W')
  # Same parameter shapes, another network: refused, naming the field.
  other.model_kwargs.decoder_norm_first = True
  with pytest.raises(
      ValueError,
      match=r'W/config.json records another model than this config '
      r'\(recorded -> now: model_kwargs.decoder_norm_first: False -> True\)',
  ):
    train.check_eval_config(recorded, other, 'W')
  train.check_eval_config(recorded, other, 'W', allow_changes=True)
  other = train.with_overrides(config, model='seld_crnn')
  with pytest.raises(ValueError, match="model: 'asma_seld' -> 'seld_crnn'"):
    train.check_eval_config(recorded, other, 'W')


def _evaluate(workdir, data_dir, *extra, check=True):
  """Runs `python -m seld_jax.evaluate` on a run of `configs/test.py`."""
  return subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.evaluate',
          '--config',
          str(REPO / 'configs' / 'test.py'),
          '--workdir',
          str(workdir),
          *extra,
          '--config.dataset=starss23/foa',
          f'--config.data_dir={data_dir}',
          '--config.batch_size=4',
          '--config.eval_batch_size=4',
      ],
      env=_env(),
      cwd=REPO,
      timeout=600,
      capture_output=True,
      text=True,
      check=check,
  )


def test_final_evaluation_equals_the_evaluate_command(trained, data_dir):
  # The end of `main` reports the best checkpoint on the test split; when
  # the last in-training evaluation was of that checkpoint on that split,
  # its predictions are written instead of predicted again.
  folder = trained / 'eval' / 'test'
  written = json.loads((folder / 'metrics.json').read_text())
  csvs = {p.name: p.read_text() for p in (folder / 'pred').glob('*.csv')}
  log = (trained.parent / 'ref.log').read_text()
  out = _evaluate(trained, data_dir)
  again = json.loads((folder / 'metrics.json').read_text())
  for key in ('ER', 'F', 'LE', 'LR', 'SELD'):
    assert again[key] == pytest.approx(written[key], abs=1e-6), key
  assert {p.name: p.read_text() for p in (folder / 'pred').glob('*.csv')} == (
      csvs
  )
  evaluated = re.search(r'Evaluating step (\d+)', out.stderr)
  reused = re.search(r'Writing the evaluation of step (\d+)', log)
  assert evaluated is not None
  if reused is not None:
    assert reused.group(1) == evaluated.group(1) == '8'
  else:
    assert re.search(r'Evaluating step (\d+)', log).group(1) == (
        evaluated.group(1)
    )


def test_evaluate_command(trained, data_dir):
  out = _evaluate(
      trained,
      data_dir,
      '--step',
      '6',
      '--split',
      'test',
      '--metric',
      'dcase2024',
  )
  metrics = json.loads((trained / 'eval' / 'test' / 'metrics.json').read_text())
  assert metrics['metric'] == 'dcase2024'
  assert {'DOAE', 'DistE', 'RDE'} <= set(metrics)
  assert 'SELD' in out.stdout
  # 2024 prediction files: 7 columns (distance 0 for a model without it).
  line = next((trained / 'eval' / 'test' / 'pred').glob('*.csv')).read_text()
  assert len(line.splitlines()[0].split(',')) == 7


def test_evaluate_command_refuses_other_model_settings(trained, data_dir):
  folder = trained / 'eval' / 'test'
  before = {p.name: p.read_bytes() for p in folder.rglob('*') if p.is_file()}
  out = _evaluate(
      trained, data_dir, '--config.model_kwargs.fnn_size=32', check=False
  )
  assert out.returncode != 0
  assert 'model_kwargs.fnn_size: 16 -> 32' in out.stderr
  assert '--allow_model_changes' in out.stderr
  # Nothing of the run's evaluation was touched.
  after = {p.name: p.read_bytes() for p in folder.rglob('*') if p.is_file()}
  assert after == before


def test_unlabelled_split(tmp_path, trained, data_dir):
  """STARSS23 'eval' audio has no metadata: predicted, never scored."""
  out = _evaluate(trained, data_dir, '--split', 'eval')
  assert 'without labels (e.g. eval/mix001)' in out.stdout
  assert 'nothing scored' in out.stdout
  folder = trained / 'eval' / 'eval'
  assert (folder / 'pred' / 'mix001.csv').exists()
  assert (folder / 'plots' / 'mix001.png').exists()
  assert not (folder / 'metrics.json').exists()
  # Training refuses to evaluate on it, naming the split and a recording.
  failed = _run(
      tmp_path / 'run', data_dir, '--config.eval_split=eval', check=False
  )
  assert failed.returncode != 0
  assert "config.eval_split='eval'" in failed.stderr
  assert 'without labels' in failed.stderr


def test_infer_command(tmp_path, trained):
  import soundfile  # pylint: disable=g-import-not-at-top

  wav = DUMMY / 'foa_dev' / 'dev-test-sony' / 'fold4_room23_mix001.wav'
  audio, rate = soundfile.read(wav, dtype='int16')
  long_wav = tmp_path / 'long.wav'  # longer than a window: sliding windows
  soundfile.write(long_wav, np.concatenate([audio] * 3), rate, subtype='PCM_16')
  resampled = tmp_path / 'at48k.wav'
  soundfile.write(
      resampled, np.repeat(audio, 2, axis=0), 2 * rate, subtype='PCM_16'
  )
  out_dir = tmp_path / 'preds'
  res = subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.infer',
          '--workdir',
          str(trained),
          '--out',
          str(out_dir),
          '--ref',
          str(DUMMY / 'metadata_dev'),
          str(wav),
          str(long_wav),
          str(resampled),
      ],
      env=_env(),
      cwd=REPO,
      timeout=600,
      capture_output=True,
      text=True,
  )
  assert res.returncode == 0, res.stderr[-3000:]
  assert 'resampled' in res.stderr
  for stem in ('fold4_room23_mix001', 'long', 'at48k'):
    assert (out_dir / f'{stem}.png').stat().st_size > 1000
    rows = (out_dir / f'{stem}.csv').read_text().splitlines()
    frames = [int(r.split(',')[0]) for r in rows]
    assert all(len(r.split(',')) == 7 for r in rows)
    n = len(audio) * (3 if stem == 'long' else 1) // 2400
    assert not frames or max(frames) < n
  stereo = tmp_path / 'stereo.wav'
  soundfile.write(stereo, audio[:, :2], rate)
  res = subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.infer',
          '--workdir',
          str(trained),
          '--out',
          str(out_dir),
          str(stereo),
      ],
      env=_env(),
      cwd=REPO,
      timeout=600,
      capture_output=True,
      text=True,
  )
  assert res.returncode == 2
  assert 'stereo.wav: 2 channels, but the model was trained on 4' in (
      res.stderr
  )


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
  # The loss, or first the gradient (a finite loss, NaN parameters after).
  assert re.search(r'Non-finite (training loss|gradient)', out.stderr)
  line = [l for l in out.stderr.splitlines() if 'at step' in l][-1]
  bad_step = int(line.split('at step ')[1].split('.')[0])
  kept = sorted(
      int(p.name) for p in (run / 'checkpoints').iterdir() if p.name.isdigit()
  )
  # The last good checkpoint is kept; nothing at or after the bad step.
  assert kept and max(kept) < bad_step


def test_check_finite_stops_at_a_nan_gradient_under_a_finite_loss():
  from seld_jax import train  # pylint: disable=g-import-not-at-top

  pending = [
      (5, {'loss': np.float32(0.2), 'grad_norm': np.float32(0.3)}),
      (6, {'loss': np.float32(0.13), 'grad_norm': np.float32(np.nan)}),
      (7, {'loss': np.float32(np.nan), 'grad_norm': np.float32(np.nan)}),
  ]
  with pytest.raises(train.NonFiniteLossError, match='gradient.*at step 6'):
    train._check_finite(pending)  # pylint: disable=protected-access
  pending = [(8, {'loss': np.float32(np.inf), 'grad_norm': np.float32(1.0)})]
  with pytest.raises(
      train.NonFiniteLossError, match=r'training loss \(inf\) at step 8'
  ):
    train._check_finite(pending)  # pylint: disable=protected-access
  pending = [(9, {'loss': np.float32(0.5), 'grad_norm': np.float32(1.0)})]
  assert train._check_finite(pending) == [0.5]  # pylint: disable=protected-access
  assert not pending


def test_init_from_another_run(tmp_path, data_dir, trained):
  run = tmp_path / 'init'
  _run(
      run,
      data_dir,
      '--config.num_train_steps=1',
      '--config.learning_rate=0.0',
      f'--config.init_from={trained}',
      '--config.init_from_step=8',
      '--config.eval_every_steps=1000',
      '--config.checkpoint_every_steps=1',
  )
  for a, b in zip(
      _flat(_params(trained, 8)), _flat(_params(run, 1)), strict=True
  ):
    np.testing.assert_array_equal(a, b)


def test_init_skip_keeps_the_new_initialisation(trained):
  # In-process: initialise the test config's model from the 8-step run,
  # leaving the first convolution at the new model's initialisation.
  from configs import test as test_config  # pylint: disable=g-import-not-at-top
  from seld_jax import sharding  # pylint: disable=g-import-not-at-top
  from seld_jax import train  # pylint: disable=g-import-not-at-top
  from seld_jax import train_step  # pylint: disable=g-import-not-at-top

  mesh = sharding.make_mesh()
  fresh = train._restored_arrays(
      train_step.setup(test_config.get_config(), mesh).state.params
  )
  source = train._restored_arrays(_params(trained, 8))
  skip = sorted(fresh)[0].rsplit('.', 1)[0]  # a module: its kernel, bias
  config = test_config.get_config()
  config.init_from = str(trained)
  config.init_from_step = 8
  config.init_skip = (skip,)
  run = train_step.setup(config, mesh, init_params=train.initializer(config))
  got = train._restored_arrays(run.state.params)
  assert set(got) == set(fresh) == set(source)
  kept = [k for k in got if k.startswith(skip + '.')]
  assert kept
  for k in got:
    want = fresh[k] if k in kept else source[k]
    np.testing.assert_array_equal(np.asarray(got[k]), want, err_msg=k)
  assert any(not np.array_equal(fresh[k], source[k]) for k in kept)
  config.init_skip = ('no_such_module',)
  with pytest.raises(ValueError, match="init_skip: \\['no_such_module'\\]"):
    train_step.setup(config, mesh, init_params=train.initializer(config))

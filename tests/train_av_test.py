"""End-to-end audio-visual runs: train, evaluate and infer with video.

The DCASE2024 audio-visual baseline (`av_seld_crnn`, tiny widths) with a
small CNN front end, on a tiny synthetic_seld 'foa_video' dataset (3 train
+ 2 test scenes of 3 s, 64x128 frames), in both visual modes: 'frames'
(the front end trained inside the step) and 'embeddings' (rows of a store
written by `seld_jax.extract_visual`). Inference reads an mp4 next to the
wav, as a user's files would be.
"""

import json

import jax
import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from configs import av_baseline_synthetic
from seld_jax import extract_visual
from seld_jax import infer
from seld_jax import input_pipeline
from seld_jax import records
from seld_jax import train
from seld_jax import train_step
from seld_jax.synth import video as video_lib
from seld_jax.testing import tiny_runs

DATASET = 'synthetic_seld/foa_video_tiny'


@pytest.fixture(scope='module')
def data_dir(foa_video_tiny_dir):
  return foa_video_tiny_dir  # conftest: built once for the session


def _config(data_dir, visual, **overrides):
  config = tiny_runs.shrink_av_run(
      av_baseline_synthetic.get_config(), data_dir, dataset=DATASET
  )
  config.visual = visual
  config.model_kwargs.visual_frontend.pooling = 'avg'  # 8 values per frame
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def user_files(data_dir, tmp_path_factory):
  """A test recording as a user has it: wav + mp4 with the same stem."""
  ex = tfds.data_source(DATASET, split='test', data_dir=data_dir)[0]
  folder = tmp_path_factory.mktemp('user')
  wav = folder / 'scene.wav'
  soundfile.write(wav, np.asarray(ex['audio']), 24000, subtype='PCM_16')
  frames = np.asarray(ex['video'])
  video_lib.write_mp4(folder / 'scene.mp4', frames, fps=30, label_rate=10)
  lone = folder / 'lone' / 'scene.wav'  # no video beside it
  lone.parent.mkdir()
  lone.write_bytes(wav.read_bytes())
  return {
      'wav': wav,
      'lone': lone,
      'frames': frames,
      'audio': records.audio_from_example(ex),
      'id': records.as_text(ex['id']),
  }


def _param_names(workdir):
  config = train.load_config(workdir)
  spec = train_step.feature_spec(config, None)
  _, state, _ = train_step.create_train_state(config, spec.shape(24000))
  return {
      train_step.param_path(p)
      for p, _ in jax.tree_util.tree_flatten_with_path(state.params)[0]
  }


def test_frames_train_evaluate_infer(data_dir, user_files, tmp_path):
  workdir = tmp_path / 'run'
  config = _config(data_dir, 'frames')
  config.augment.acs = 'foa8'  # AVCS: frames move with the audio and labels
  result = train.train_and_evaluate(config, workdir)
  assert result['files'] == 2 and result['metric'] == 'dcase2024'
  assert np.isfinite(result['SELD'])
  saved = json.loads((workdir / 'config.json').read_text())
  assert saved['visual'] == 'frames'
  assert saved['visual_frame_shape'] == [64, 128, 3]
  assert saved['augment']['acs'] == 'foa8'
  assert len(list((workdir / 'eval' / 'test' / 'pred').glob('*.csv'))) == 2
  assert any(n.startswith('visual_frontend.') for n in _param_names(workdir))

  out = tmp_path / 'preds'
  report = infer.run(str(workdir), [str(user_files['wav'])], str(out))
  assert report[0]['video'] == str(user_files['wav'].with_suffix('.mp4'))
  assert (out / 'scene.csv').exists() and (out / 'scene.png').exists()
  # The mp4 gives the record's frames back (label frame k = video frame 3k,
  # up to H.264 loss), and the model's output follows the video.
  predictor = infer.Predictor.load(str(workdir))
  frames = predictor.read_visual(user_files['wav'].with_suffix('.mp4'), 30)
  assert frames.shape == (30, 64, 128, 3) and frames.dtype == np.uint8
  error = np.abs(frames.astype(float) - user_files['frames']).mean()
  assert error < 3.0
  shifted = np.abs(frames[1:].astype(float) - user_files['frames'][:-1])
  assert shifted.mean() > error  # aligned frame by frame
  audio = user_files['audio']
  from_mp4 = predictor.predict(audio, frames)
  exact = predictor.predict(audio, user_files['frames'])
  black = predictor.predict(audio, np.zeros_like(frames))
  assert from_mp4.shape == (30, 156)
  assert np.abs(from_mp4 - exact).max() < np.abs(black - exact).max()
  with pytest.raises(infer.VideoError, match='needs the video scene.mp4'):
    infer.run(str(workdir), [str(user_files['lone'])], str(out))
  # --video names a folder to search instead.
  found = infer.find_video(user_files['lone'], str(user_files['wav'].parent))
  assert found == user_files['wav'].with_suffix('.mp4')


def test_embeddings_train_evaluate_infer(data_dir, user_files, tmp_path):
  store = tmp_path / 'store'
  config = _config(data_dir, 'embeddings', visual_embeddings=str(store))
  extract_visual.extract(config, store, batch_size=16)
  workdir = tmp_path / 'run'
  result = train.train_and_evaluate(config, workdir)
  assert result['files'] == 2 and np.isfinite(result['SELD'])
  saved = json.loads((workdir / 'config.json').read_text())
  assert saved['visual_store']['shape'] == [8]
  assert saved['visual_store']['frontend']['name'] == 'small_cnn'
  assert 'recordings' not in saved['visual_store']
  # The model reads the rows: it has no front end of its own.
  names = _param_names(workdir)
  assert 'visual_embed.kernel' in names
  assert not any(n.startswith('visual_frontend.') for n in names)

  # Inference embeds the mp4 with the store's front end: the rows it gets
  # are the store's (up to H.264 loss).
  predictor = infer.Predictor.load(str(workdir))
  rows = predictor.read_visual(user_files['wav'].with_suffix('.mp4'), 30)
  stored = np.load(input_pipeline.store_file(store, user_files['id']))
  assert rows.shape == (30, 8) and rows.dtype == np.float32
  scale = np.abs(stored.astype(np.float32)).max()
  assert np.abs(rows - stored).max() < 0.05 * scale
  report = infer.run(str(workdir), [str(user_files['wav'])], tmp_path / 'p')
  assert report[0]['video'] and (tmp_path / 'p' / 'scene.csv').exists()

  # A store re-extracted differently (another initialisation seed) no
  # longer serves the trained run.
  extract_visual.extract(
      _config(data_dir, 'embeddings', seed=5),
      store,
      overwrite=True,
      batch_size=16,
  )
  with pytest.raises(ValueError, match='changed since the run was trained'):
    train.evaluate_checkpoint(train.load_config(str(workdir)), str(workdir))
  # Nor does resuming training with the original flags use it: the check
  # reads the store the run recorded in config.json.
  with pytest.raises(ValueError, match='changed since the run was trained'):
    train.train_and_evaluate(config, workdir)


def test_visual_facts(data_dir, tmp_path):
  shard = input_pipeline.open_shard(DATASET, 'test', data_dir)
  assert train.visual_facts(_config(data_dir, ''), shard) == {}
  facts = train.visual_facts(_config(data_dir, 'frames'), shard)
  assert facts == {'visual_frame_shape': [64, 128, 3]}
  config = _config(data_dir, 'frames')
  config.model_kwargs.visual_size = (32, 64)
  with pytest.raises(ValueError, match=r'visual_size=\(32, 64\) but'):
    train.visual_facts(config, shard)
  with pytest.raises(ValueError, match='visual must be one of'):
    train.visual_facts(_config(data_dir, 'video'), shard)
  config = _config(data_dir, 'embeddings', visual_embeddings=str(tmp_path))
  with pytest.raises(input_pipeline.VisualStoreError, match='not found'):
    train.visual_facts(config, shard)

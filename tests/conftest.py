"""Shared pytest fixtures: the real third-party test data in ../shared/data,
and tiny synthetic audio-visual datasets built once per session."""

import dataclasses
import os
import pathlib
import tempfile
from unittest import mock

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get('SELD_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data')
)


def shared_data_path(*parts: str) -> pathlib.Path:
  """Path under ../shared/data; fails loudly (never skips) when missing."""
  path = SHARED_DATA.joinpath(*parts)
  if not path.exists():
    raise FileNotFoundError(
        f'Test data not found at {path}. The real third-party test files are '
        'expected in ../shared/data next to the repository (set '
        'SELD_SHARED_DATA to override).'
    )
  return path


@pytest.fixture(scope='session', autouse=True)
def _tempfile_dir_inside_basetemp(tmp_path_factory):
  """Points `tempfile` (and subprocesses, via TMPDIR) into pytest's basetemp.

  TFDS makes an empty `tmp*tfds` directory in the temp dir and leaves it
  there each time a builder is made for a dataset not built yet
  (`DatasetInfo.initialize_from_bucket`, GCS disabled): ~300 per test run.
  Under basetemp they go with pytest's own temporary files.
  """
  path = str(tmp_path_factory.mktemp('tempfile'))
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv('TMPDIR', path)
    patch.setattr(tempfile, 'tempdir', path)
    yield path


@pytest.fixture
def shared_data():
  return shared_data_path


FOA_VIDEO_TINY = 'synthetic_seld/foa_video_tiny'
STEREO_VIDEO_TINY = 'synthetic_seld/stereo_video_tiny'


def _build_tiny(tmp_path_factory, base: str) -> str:
  """data_dir of `{base}_tiny`: 3 train and 2 test 3-s scenes of a config."""
  # Imported here: TFDS and the builder are heavy for the tests without it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from data_builders.synthetic_seld import synthetic_seld_dataset_builder  # pylint: disable=g-import-not-at-top

  builder_cls = synthetic_seld_dataset_builder.Builder
  config = dataclasses.replace(
      builder_cls.builder_configs[base],
      name=f'{base}_tiny',
      description=f'{base}: 3 train and 2 test scenes of 3 s.',
      num_train=3,
      num_test=2,
      duration=3.0,
      train_rooms=3,
      test_rooms=1,
  )
  path = tmp_path_factory.mktemp(f'tfds_{base}_tiny')
  with mock.patch.object(builder_cls, 'NUM_WORKERS', 1):
    tfds.builder(
        'synthetic_seld',
        config=config,
        data_dir=path,
        file_format='array_record',
    ).download_and_prepare()
  return str(path)


@pytest.fixture(scope='session')
def foa_video_tiny_dir(tmp_path_factory):
  """data_dir of `FOA_VIDEO_TINY` (360-degree video, 64x128 frames)."""
  return _build_tiny(tmp_path_factory, 'foa_video')


@pytest.fixture(scope='session')
def stereo_video_tiny_dir(tmp_path_factory):
  """data_dir of `STEREO_VIDEO_TINY` (DCASE2025-style stereo view)."""
  return _build_tiny(tmp_path_factory, 'stereo_video')

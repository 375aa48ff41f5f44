"""Shared pytest fixtures: the real third-party test data in ../shared/data,
and a tiny synthetic audio-visual dataset built once per session."""

import dataclasses
import os
import pathlib
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


@pytest.fixture
def shared_data():
  return shared_data_path


FOA_VIDEO_TINY = 'synthetic_seld/foa_video_tiny'


@pytest.fixture(scope='session')
def foa_video_tiny_dir(tmp_path_factory):
  """data_dir of `FOA_VIDEO_TINY`: 3 train and 2 test 3-s scenes with video."""
  # Imported here: TFDS and the builder are heavy for the tests without it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from data_builders.synthetic_seld import synthetic_seld_dataset_builder  # pylint: disable=g-import-not-at-top

  builder_cls = synthetic_seld_dataset_builder.Builder
  config = dataclasses.replace(
      builder_cls.builder_configs['foa_video'],
      name='foa_video_tiny',
      description='3 train and 2 test scenes of 3 s with video.',
      num_train=3,
      num_test=2,
      duration=3.0,
      train_rooms=3,
      test_rooms=1,
  )
  path = tmp_path_factory.mktemp('tfds_foa_video_tiny')
  with mock.patch.object(builder_cls, 'NUM_WORKERS', 1):
    tfds.builder(
        'synthetic_seld',
        config=config,
        data_dir=path,
        file_format='array_record',
    ).download_and_prepare()
  return str(path)

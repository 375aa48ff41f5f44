"""Shared pytest fixtures: the real third-party test data in ../shared/data."""

import os
import pathlib

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

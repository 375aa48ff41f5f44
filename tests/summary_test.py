"""Tests for `python -m seld_jax.summary`."""

import pathlib
import subprocess
import sys

from configs import default
from seld_jax import summary


def test_summary_of_the_default_model():
  text = summary.summarize(default.get_config())
  lines = text.splitlines()
  assert lines[-1] == 'params: 737141'
  # The default recipe's 1.2-s windows: 60 feature frames, 12 label frames.
  assert 'features [B, 7, 60, 64]' in text
  assert 'output: multi_accdoa [B, 12, 117]' in text
  assert any(l.startswith('gru ') and l.endswith('494,592') for l in lines)


def test_summary_command_line():
  out = subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.summary',
          '--config',
          'configs/default.py',
          '--config.features=mic_logmel_gcc',
      ],
      capture_output=True,
      text=True,
      check=True,
      timeout=300,
      cwd=pathlib.Path(__file__).resolve().parents[1],
  )
  assert out.stdout.strip().splitlines()[-1] == 'params: 738869'

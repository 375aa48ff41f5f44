# Copyright 2026 The seld_jax Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Procedural sources: every class, its character, and variety within it."""

import numpy as np
import pytest
from scipy import signal as sps

from seld_jax.synth import sources

FS = 24000
SEEDS = range(5)


def _make(class_index, seed):
  return sources.synthesize(class_index, np.random.default_rng(seed), FS)


def _centroid(x):
  power = np.abs(np.fft.rfft(x)) ** 2
  return np.sum(power * np.fft.rfftfreq(len(x), 1 / FS)) / np.sum(power)


def _flatness(x):
  """Spectral flatness 100 Hz - 8 kHz (0: tonal, 1: white)."""
  f, p = sps.welch(x, FS, nperseg=2048)
  p = p[(f > 100) & (f < 8000)]
  return np.exp(np.mean(np.log(p + 1e-20))) / np.mean(p)


def _frame_power(x, hop=240):
  n = len(x) // hop
  return np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)


def _steadiness(x):
  """Fraction of 10-ms frames within 10 dB of the loudest."""
  p = _frame_power(x)
  return np.mean(p > 0.1 * p.max())


def _modulation_peak(x):
  """Strongest 1-15 Hz frequency of the amplitude envelope."""
  env = np.sqrt(_frame_power(x))
  spec = np.abs(np.fft.rfft(env - env.mean(), 4096))
  f = np.fft.rfftfreq(4096, 0.01)
  band = (f > 1) & (f < 15)
  return f[band][np.argmax(spec[band])]


def _f0(x):
  """Median autocorrelation pitch (70-400 Hz) of the loud 40-ms frames."""
  w = int(0.04 * FS)
  lo, hi = FS // 400, FS // 70
  pitches = []
  for s in range(0, len(x) - w, w):
    seg = x[s : s + w]
    if np.mean(seg**2) < 0.3:
      continue
    ac = np.correlate(seg, seg, 'full')[w - 1 :]
    pitches.append(FS / (lo + np.argmax(ac[lo:hi])))
  return np.median(pitches)


@pytest.mark.parametrize('class_index', range(13))
def test_every_class_is_valid_deterministic_and_varied(class_index):
  signals = [_make(class_index, s) for s in SEEDS]
  for x in signals:
    assert x.dtype == np.float64 and np.all(np.isfinite(x))
    assert 0.5 * FS <= len(x) <= 8 * FS
    assert sources.active_rms(x, FS) == pytest.approx(1.0, rel=1e-6)
  lo, hi = sources.DURATION_RANGES[class_index]
  assert 0.5 <= lo <= hi <= 8.0
  np.testing.assert_array_equal(signals[0], _make(class_index, 0))
  # Real variety within the class: lengths and spectra differ per event.
  assert len({len(x) for x in signals}) >= 3
  centroids = [_centroid(x) for x in signals]
  assert max(centroids) > 1.05 * min(centroids)


def test_female_voices_are_higher_than_male_voices():
  female = [_f0(_make(0, s)) for s in SEEDS]
  male = [_f0(_make(1, s)) for s in SEEDS]
  assert min(female) > 140 and max(female) < 280, female
  assert min(male) > 75 and max(male) < 150, male
  assert np.median(female) > 1.6 * np.median(male)
  for s in SEEDS:  # speech is syllabic: strongly modulated, not steady
    assert _steadiness(_make(0, s)) < 0.6


def test_class_characters():
  for s in SEEDS:
    # Laughter: voiced bursts at about 5 Hz.
    assert 3.5 <= _modulation_peak(_make(4, s)) <= 7.0
    # Water tap: steady, noisy, high band.
    tap = _make(10, s)
    assert _steadiness(tap) > 0.8
    assert _centroid(tap) > 2000 and _flatness(tap) > 0.2
    # Footsteps and knocks: impulsive; footsteps low-pitched thuds.
    assert _steadiness(_make(6, s)) < 0.25
    assert _centroid(_make(6, s)) < 600
    assert _steadiness(_make(12, s)) < 0.25
    # Telephone, bell, instrument: tonal (line spectra, with a little
    # breath or bow noise and onset clicks; water tap is above 0.2).
    for c in (3, 11, 9):
      assert _flatness(_make(c, s)) < 0.03, (c, s)
    # Music: continuous.
    assert _steadiness(_make(8, s)) > 0.9


def test_invalid_class_is_rejected():
  with pytest.raises(ValueError):
    sources.synthesize(13, np.random.default_rng(0))


def test_mean_seconds_table_matches_the_generators():
  """scenes weighs classes by MEAN_SECONDS: it must follow the generators."""
  for c in range(sources.NUM_CLASSES):
    # 25 events from a stream of the class's own (sampling noise ~10 %).
    rng = np.random.default_rng(100 + c)
    lengths = [len(sources.synthesize(c, rng, FS)) / FS for _ in range(25)]
    assert np.mean(lengths) == pytest.approx(sources.MEAN_SECONDS[c], rel=0.3)

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

"""Dry (mono) sound events for the 13 STARSS23 classes.

Every class is a procedural family with its own spectro-temporal character;
each call draws new parameters, so events of one class differ from each other:

  0/1  female/male speech  glottal pulse train with a pitch contour (female
                           f0 170-250 Hz, male 85-140 Hz), formant filtering
                           that moves from vowel to vowel, syllables at 3-6 Hz
                           with fricative/plosive consonants and pauses
  2    clapping            noise bursts at 1.5-5 Hz (or applause of several
                           clappers) through a hand-cavity resonance
  3    telephone           electronic dual-tone, warble and pulsed-beep
                           ringers in ring cadences
  4    laughter            breathy voiced "ha" bursts at 4-6 Hz in bouts
  5    domestic sounds     appliance hum, dish clatter, rustling, chair scrape
  6    footsteps           heel/toe impacts at 1.4-2.4 Hz; hard/soft shoes
  7    door                creaking hinge, low thud, latch clicks
  8    music               chords, bass line and melody, optional drums
  9    musical instrument  single melodic line of one instrument (string,
                           clarinet, flute, pluck, piano, brass, organ) with
                           ADSR envelopes and vibrato
  10   water tap           steady high-band noise with flutter and bubbles
  11   bell                inharmonic decaying partials after a strike click
                           (door chime, hand and desk bells)
  12   knock               groups of wooden knocks (damped modes + click)

`ClipLibrary` replaces the procedural families by real recordings from
per-class folders (see `CLIP_FOLDERS`). All signals are float64 at `fs`,
normalised to unit RMS over their active (non-silent) 10-ms frames.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import math
import os
import pathlib

from absl import logging
import numpy as np
from scipy import signal as sps
import soundfile

from seld_jax import events as events_lib

NUM_CLASSES = len(events_lib.STARSS_CLASSES)

# Event duration ranges per class in seconds (all within 0.5-8 s).
DURATION_RANGES = (
    (1.0, 6.0),  # female speech
    (1.0, 6.0),  # male speech
    (1.0, 5.0),  # clapping
    (1.5, 8.0),  # telephone
    (0.8, 4.0),  # laughter
    (1.0, 8.0),  # domestic sounds
    (1.5, 8.0),  # footsteps
    (0.5, 2.5),  # door
    (3.0, 8.0),  # music
    (1.0, 6.0),  # musical instrument
    (1.5, 8.0),  # water tap
    (0.8, 5.0),  # bell
    (0.5, 3.0),  # knock
)
# Mean length in seconds of the procedural events of each class (measured:
# 60 events per class; pattern classes end with their last sound, so door and
# knock are shorter than their DURATION_RANGES). Scenes draw classes in
# inverse proportion to it, so every class gets a similar share of the
# active label frames.
MEAN_SECONDS = (3.5, 3.6, 3.0, 4.4, 2.2, 4.7, 4.6, 0.9, 5.4, 3.5, 4.6, 1.7, 1.3)
MIN_DURATION = 0.5
MAX_DURATION = 8.0

# Folder names of real clips (lower-cased) -> class index. The names of
# shared/data/class_clips plus the STARSS class names.
CLIP_FOLDERS = {
    'femalespeech': 0,
    'malespeech': 1,
    'clapping': 2,
    'telephone': 3,
    'laughter': 4,
    'domesticsounds': 5,
    'footsteps': 6,
    'doorcupboard': 7,
    'door': 7,
    'music': 8,
    'musicinstrument': 9,
    'musicalinstrument': 9,
    'watertap': 10,
    'bell': 11,
    'knock': 12,
}
for _i, _name in enumerate(events_lib.STARSS_CLASSES):
  CLIP_FOLDERS[_name.replace('_', '')] = _i
_AUDIO_EXTENSIONS = ('.wav', '.flac', '.mp3', '.ogg')


# Signal helpers
# -----------------------------------------------------------------------------


def _decay(n: int, fs: float, tau: float) -> np.ndarray:
  return np.exp(-np.arange(n) / (fs * tau))


def _add(out: np.ndarray, x: np.ndarray, start: int) -> None:
  """out[start:start+len(x)] += x, clipped to out."""
  start = int(start)
  if start >= len(out) or start + len(x) <= 0:
    return
  lo = max(start, 0)
  hi = min(start + len(x), len(out))
  out[lo:hi] += x[lo - start : hi - start]


def _sos(kind: str, freq, fs: float, order: int = 2) -> np.ndarray:
  nyq = 0.5 * fs
  if kind == 'bandpass':
    lo, hi = freq
    lo = min(max(lo, 20.0), nyq * 0.9)
    hi = min(max(hi, lo * 1.1), nyq * 0.98)
    freq = (lo, hi)
  else:
    freq = min(max(freq, 20.0), nyq * 0.98)
  return sps.butter(order, freq, btype=kind, fs=fs, output='sos')


def _filt(x: np.ndarray, kind: str, freq, fs: float, order: int = 2):
  return sps.sosfilt(_sos(kind, freq, fs, order), x)


def _smooth_noise(rng, n: int, fs: float, rate: float) -> np.ndarray:
  """A smooth random curve with values ~N(0, 1) changing at `rate` Hz."""
  num = max(int(math.ceil(n / fs * rate)) + 2, 2)
  knots = rng.standard_normal(num)
  x = np.arange(n) / fs * rate
  return np.interp(x, np.arange(num), knots)


def _harmonic(
    f0, amps, fs: float, n: int, rng, decays=None, inharmonicity: float = 0.0
) -> np.ndarray:
  """Sum of harmonics h*f0 (f0 scalar or [n]) with amplitudes `amps`.

  Harmonics above 0.45 fs are dropped; `decays` (seconds per harmonic) adds
  exponential decays; `inharmonicity` B stretches partials h*sqrt(1+B h^2).
  """
  f0 = np.broadcast_to(np.asarray(f0, np.float64), (n,))
  phase = 2 * np.pi * np.cumsum(f0) / fs
  f_max = float(f0.max())
  t = np.arange(n) / fs
  out = np.zeros(n)
  for h, a in enumerate(amps, start=1):
    stretch = h * math.sqrt(1.0 + inharmonicity * h * h)
    if a == 0 or stretch * f_max > 0.45 * fs:
      continue
    partial = a * np.sin(stretch * phase + rng.uniform(0, 2 * np.pi))
    if decays is not None:
      partial *= np.exp(-t / decays[h - 1])
    out += partial
  return out


def _adsr(n: int, fs: float, attack, decay, sustain, release) -> np.ndarray:
  """Attack/decay/sustain/release envelope of n samples (times in s)."""
  a = min(int(attack * fs), n)
  d = min(int(decay * fs), n - a)
  r = min(int(release * fs), n - a - d)
  s = n - a - d - r
  return np.concatenate([
      np.linspace(0, 1, a, endpoint=False),
      np.linspace(1, sustain, d, endpoint=False),
      np.full(s, sustain),
      np.linspace(sustain, 0, r),
  ])


def _fade(x: np.ndarray, fs: float, seconds: float = 0.005) -> np.ndarray:
  k = min(int(seconds * fs), len(x) // 2)
  if k > 0:
    ramp = np.sin(np.linspace(0, np.pi / 2, k)) ** 2
    x = x.copy()
    x[:k] *= ramp
    x[-k:] *= ramp[::-1]
  return x


def _click(rng, n: int, fs: float, tau: float = 0.0015) -> np.ndarray:
  """A unit-peak impact click: decaying noise above 1.5 kHz."""
  x = _filt(rng.standard_normal(n), 'highpass', 1500.0, fs)
  x = x * np.exp(-np.arange(n) / fs / tau)
  return x / max(np.max(np.abs(x)), 1e-12)


def active_rms(x: np.ndarray, fs: float, floor_db: float = -30.0) -> float:
  """RMS over the 10-ms frames within `floor_db` of the loudest frame."""
  hop = max(int(0.01 * fs), 1)
  num = len(x) // hop
  if num == 0:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
  power = np.mean(x[: num * hop].reshape(num, hop) ** 2, axis=1)
  active = power >= power.max() * 10 ** (floor_db / 10)
  return float(np.sqrt(np.mean(power[active])))


def _finish(x: np.ndarray, fs: float) -> np.ndarray:
  """Clamps to 0.5-8 s, fades the ends and normalises the active RMS."""
  x = np.asarray(x, np.float64)[: int(MAX_DURATION * fs)]
  if len(x) < int(MIN_DURATION * fs):
    x = np.pad(x, (0, int(MIN_DURATION * fs) - len(x)))
  x = _fade(x, fs)
  rms = active_rms(x, fs)
  return x / rms if rms > 0 else x


# Voice: glottal source + formants (speech, laughter)
# -----------------------------------------------------------------------------

# (F1, F2, F3, F4) of adult male vowels, Hz (Peterson & Barney style values).
_VOWELS = np.array([
    (730, 1090, 2440, 3400),  # a
    (530, 1840, 2480, 3500),  # e
    (270, 2290, 3010, 3700),  # i
    (570, 840, 2410, 3300),  # o
    (300, 870, 2240, 3300),  # u
    (660, 1720, 2410, 3400),  # ae
    (490, 1350, 1690, 3300),  # er
    (640, 1190, 2390, 3400),  # uh
])
_FORMANT_BW = np.array([80.0, 100.0, 140.0, 200.0])
_BLOCK = 240  # samples per formant update (10 ms at 24 kHz)


def _glottal(f0_curve: np.ndarray, fs: float, rng, jitter: float = 0.01):
  """Band-limited glottal pulse train following f0_curve [n] (Hz)."""
  n = len(f0_curve)
  f0 = f0_curve * (1 + jitter * _smooth_noise(rng, n, fs, 60.0))
  phase = np.cumsum(f0) / fs
  cycles = np.floor(phase)
  idx = np.nonzero(np.diff(cycles) > 0)[0] + 1
  frac = (phase[idx] - cycles[idx]) / np.maximum(f0[idx] / fs, 1e-9)
  pulses = np.zeros(n + 1)
  # Linear split of each pulse between two samples (sub-sample timing).
  np.add.at(pulses, idx - 1, frac)
  np.add.at(pulses, idx, 1 - frac)
  pulses = pulses[:n] - np.mean(pulses[:n])
  # Glottal roll-off (-12 dB/oct) and lip radiation (+6 dB/oct).
  x = sps.lfilter([1.0], [1.0, -0.97], pulses)
  x = sps.lfilter([1.0], [1.0, -0.9], x)
  return np.diff(x, prepend=0.0)


def _formant_filter(x: np.ndarray, formants: np.ndarray, fs: float):
  """Cascade of 4 resonators whose frequencies follow formants [blocks, 4]."""
  n = len(x)
  out = np.empty(n)
  zi = np.zeros((4, 2))
  r = np.exp(-np.pi * _FORMANT_BW / fs)
  for b in range(int(math.ceil(n / _BLOCK))):
    lo, hi = b * _BLOCK, min((b + 1) * _BLOCK, n)
    f = np.minimum(formants[min(b, len(formants) - 1)], 0.45 * fs)
    a1 = -2 * r * np.cos(2 * np.pi * f / fs)
    a2 = r * r
    sos = np.stack(
        [1 + a1 + a2, np.zeros(4), np.zeros(4), np.ones(4), a1, a2], axis=1
    )
    out[lo:hi], zi = sps.sosfilt(sos, x[lo:hi], zi=zi)
  return out


def _speech(rng, duration: float, fs: float, female: bool) -> np.ndarray:
  n = int(duration * fs)
  if female:
    f0 = rng.uniform(170, 250)
    scale = rng.uniform(1.12, 1.22)
  else:
    f0 = rng.uniform(85, 140)
    scale = rng.uniform(0.93, 1.05)
  t = np.arange(n) / fs
  declination = rng.uniform(-0.25, -0.05)
  contour = f0 * (1 + declination * t / max(duration, 1e-3))
  contour *= 1 + rng.uniform(0.05, 0.15) * _smooth_noise(rng, n, fs, 3.0)
  contour = np.clip(contour, 0.6 * f0, 1.6 * f0)
  excitation = _glottal(contour, fs, rng)
  breath = rng.uniform(0.02, 0.1)
  excitation += breath * np.std(excitation) * rng.standard_normal(n)

  # Syllable plan: words of 1-4 syllables at 3-6 syllables/s with pauses.
  rate = rng.uniform(3.0, 6.0)
  env = np.zeros(n)
  nblocks = int(math.ceil(n / _BLOCK))
  formants = np.zeros((nblocks, 4))
  consonants = np.zeros(n)
  pos = 0
  prev = _VOWELS[rng.integers(len(_VOWELS))] * scale
  while pos < n:
    for _ in range(rng.integers(1, 5)):
      syl = int(fs / rate * rng.uniform(0.6, 1.4))
      if pos >= n:
        break
      vowel = _VOWELS[rng.integers(len(_VOWELS))] * scale
      vowel = vowel * rng.uniform(0.95, 1.05, 4)
      b0, b1 = pos // _BLOCK, min((pos + syl) // _BLOCK + 1, nblocks)
      k = np.linspace(0, 1, max(b1 - b0, 1))[:, None] ** 0.5
      formants[b0:b1] = prev + (vowel - prev) * np.minimum(k * 2.5, 1)
      prev = vowel
      shape = _adsr(
          syl, fs, syl * 0.25 / fs, syl * 0.3 / fs, 0.7, 0.3 * syl / fs
      )
      _add(env, shape * rng.uniform(0.5, 1.0), pos)
      if rng.uniform() < 0.6:  # a consonant at the syllable onset
        clen = int(fs * rng.uniform(0.03, 0.1))
        if rng.uniform() < 0.6:  # fricative
          lo = rng.uniform(2000, 4500)
          burst = _filt(rng.standard_normal(clen), 'bandpass', (lo, lo * 2), fs)
          burst *= np.hanning(clen) * rng.uniform(0.15, 0.4)
        else:  # plosive
          clen = clen // 3
          burst = rng.standard_normal(clen) * _decay(clen, fs, 0.004) * 0.2
          burst = _filt(burst, 'highpass', 500.0, fs)
        _add(consonants, burst, pos - clen // 2)
      pos += syl
    if rng.uniform() < 0.5:
      pos += int(fs * rng.uniform(0.05, 0.35))  # pause between words
  voiced = _formant_filter(excitation, formants, fs) * env
  voiced /= max(np.std(voiced), 1e-12)
  return voiced + consonants * 2.0 * (np.abs(env) < 0.3)


def _laughter(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  out = np.zeros(n)
  f0_base = rng.uniform(180, 450)
  scale = rng.uniform(0.95, 1.25)
  breathiness = rng.uniform(0.3, 0.8)
  rate = rng.uniform(4.0, 6.0)
  pos = 0
  while pos < n - int(0.1 * fs):
    count = rng.integers(3, 11)
    level = 1.0
    for k in range(count):
      plen = int(fs / rate * rng.uniform(0.55, 0.8))
      if pos + plen > n:
        break
      t = np.arange(plen) / plen
      f0 = f0_base * (1 - 0.15 * k / count) * (1 + 0.15 * np.sin(np.pi * t))
      exc = _glottal(f0, fs, rng, jitter=0.03)
      exc /= max(np.std(exc), 1e-12)
      exc = (1 - breathiness) * exc + breathiness * rng.standard_normal(plen)
      vowel = _VOWELS[0] * scale * rng.uniform(0.9, 1.1, 4)
      burst = _formant_filter(exc, vowel[None, :], fs)
      burst *= _adsr(plen, fs, 0.012, plen * 0.4 / fs, 0.4, plen * 0.4 / fs)
      _add(out, burst / max(np.std(burst), 1e-12) * level, pos)
      level *= rng.uniform(0.8, 1.0)
      pos += int(fs / rate * rng.uniform(0.9, 1.1))
    if rng.uniform() < 0.6 and pos < n:  # inhalation between bouts
      ilen = int(fs * rng.uniform(0.2, 0.45))
      inhale = _filt(rng.standard_normal(ilen), 'bandpass', (1200, 5000), fs)
      _add(out, inhale * np.hanning(ilen) * 0.08, pos)
      pos += ilen
    pos += int(fs * rng.uniform(0.1, 0.4))
  return out


# Impulsive classes
# -----------------------------------------------------------------------------


def _clapping(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  out = np.zeros(n)
  centre = rng.uniform(700, 2500)
  blen = int(0.03 * fs)
  if rng.uniform() < 0.7:  # one person
    rate = rng.uniform(1.5, 5.0)
    jitter = rng.uniform(0.02, 0.08)
    times = []
    t = rng.uniform(0, 0.02)
    while t < duration - 0.05:
      times.append(t)
      t += (1 + jitter * rng.standard_normal()) / rate
    tau = [rng.uniform(0.002, 0.006)]
  else:  # applause of several clappers
    times = []
    for _ in range(rng.integers(3, 9)):
      rate = rng.uniform(2.5, 5.0)
      t = rng.uniform(0, 1 / rate)
      while t < duration - 0.05:
        times.append(t)
        t += (1 + 0.05 * rng.standard_normal()) / rate
    tau = rng.uniform(0.002, 0.006, 8)
  for i, t in enumerate(times):
    burst = rng.standard_normal(blen) * _decay(blen, fs, tau[i % len(tau)])
    _add(out, burst * 10 ** (rng.uniform(-4, 0) / 20), int(t * fs))
  cavity = _filt(out, 'bandpass', (centre / 1.6, centre * 1.6), fs)
  return cavity + rng.uniform(0.1, 0.4) * _filt(out, 'highpass', 2000.0, fs)


def _footsteps(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  out = np.zeros(n)
  rate = rng.uniform(1.4, 2.4)
  shoe = rng.choice(['hard', 'soft', 'sneaker'])
  f_heel = rng.uniform(60, 140)
  tau_heel = rng.uniform(0.015, 0.04)
  floor = rng.uniform(300, 1500)
  t = rng.uniform(0, 0.03)
  step = 0
  while t < duration - 0.15:
    slen = int(0.25 * fs)
    tt = np.arange(slen) / fs
    heel = np.sin(2 * np.pi * f_heel * tt) * np.exp(-tt / tau_heel)
    heel += (
        0.5
        * _filt(rng.standard_normal(slen), 'lowpass', 1000.0, fs)
        * (np.exp(-tt / 0.01))
    )
    toe_at = int(fs * rng.uniform(0.06, 0.12))
    heel += rng.uniform(0.3, 0.6) * np.roll(heel, toe_at) * (tt > toe_at / fs)
    if shoe == 'hard':
      click = _filt(rng.standard_normal(slen), 'bandpass', (2000, 6000), fs)
      heel += rng.uniform(0.5, 1.2) * click * np.exp(-tt / 0.003)
    else:
      scuff_len = int(fs * rng.uniform(0.04, 0.08))
      scuff = np.zeros(slen)
      scuff[:scuff_len] = np.hanning(scuff_len) * rng.standard_normal(scuff_len)
      band = (300, 3000) if shoe == 'soft' else (800, 5000)
      heel += rng.uniform(0.2, 0.5) * _filt(scuff, 'bandpass', band, fs)
    side = 1.0 if step % 2 == 0 else 10 ** (rng.uniform(-3, 0) / 20)
    _add(out, heel * side, int(t * fs))
    t += (1 + 0.04 * rng.standard_normal()) / rate
    step += 1
  return out + 0.3 * _filt(out, 'bandpass', (floor / 1.5, floor * 1.5), fs)


def _knock(rng, duration: float, fs: float) -> np.ndarray:
  f1 = rng.uniform(120, 450)
  freqs = f1 * np.array([1.0, rng.uniform(1.5, 1.9), rng.uniform(2.4, 3.2)])
  taus = rng.uniform(0.008, 0.03) * np.array([1.0, 0.7, 0.5])
  klen = int(0.15 * fs)
  tt = np.arange(klen) / fs
  phases = rng.uniform(0, 2 * np.pi, 3)
  knock = np.sum(
      np.sin(2 * np.pi * freqs[:, None] * tt + phases[:, None])
      * np.exp(-tt / taus[:, None])
      * rng.uniform(0.4, 1.0, (3, 1)),
      axis=0,
  )
  knock = knock * np.minimum(tt / 0.0005, 1.0)
  times = []
  t = 0.0
  for _ in range(rng.integers(1, 4)):
    interval = rng.uniform(0.11, 0.25)
    for _ in range(rng.integers(2, 6)):
      times.append(t)
      t += interval * rng.uniform(0.9, 1.1)
    t += rng.uniform(0.25, 0.6)
    if t > duration:
      break
  n = int((times[-1] + 0.15) * fs)
  out = np.zeros(n)
  for t in times:
    click = _filt(rng.standard_normal(96), 'highpass', 2000.0, fs)
    click *= _decay(96, fs, 0.001) * 0.5
    k = knock.copy()
    k[:96] += click
    _add(out, k * 10 ** (rng.uniform(-3, 0) / 20), int(t * fs))
  return out


# Tonal classes
# -----------------------------------------------------------------------------


def _cadence(rng, duration: float) -> list[tuple[float, float]]:
  """Ring cadence: (start, length) of the 'on' bursts within duration."""
  # Off gaps are kept short: the whole event is labelled active, so long
  # silences inside it would be label frames with nothing to hear.
  if rng.uniform() < 0.5:
    pattern = [rng.uniform(0.8, 2.0), rng.uniform(0.4, 1.0)]  # on, off
  else:
    on = rng.uniform(0.3, 0.5)
    pattern = [on, rng.uniform(0.15, 0.3), on, rng.uniform(0.4, 0.8)]
  bursts = []
  t = 0.0
  while t < duration - 0.2:
    for i in range(0, len(pattern), 2):
      if t >= duration - 0.2:
        break
      on = min(pattern[i], duration - t)
      bursts.append((t, on))
      t += on + pattern[i + 1]
  return bursts


# Odd harmonics 1 / h of a square wave (ringer and beeper tones).
_SQUARE = [1.0 / h if h % 2 else 0.0 for h in range(1, 16)]


def _telephone(rng, duration: float, fs: float) -> np.ndarray:
  # Electronic ringers only: steady (dual-tone, warbling or pulsed) tones.
  # Struck electromechanical ringers and melodic ringtones are left out: they
  # are the bell and musical-instrument classes' sounds, and an event that
  # sounds like another class is a label the model cannot learn.
  kind = rng.choice(['dual', 'warble', 'pulse'])
  bursts = _cadence(rng, duration)
  n = int((bursts[-1][0] + bursts[-1][1]) * fs)
  out = np.zeros(n)
  f1 = rng.uniform(350, 1000)
  f2 = f1 * rng.uniform(1.08, 1.4)
  switch = rng.uniform(12, 25)
  drive = rng.uniform(1.5, 4.0)
  for start, length in bursts:
    m = int(length * fs)
    tt = np.arange(m) / fs
    if kind == 'dual':
      # Two tones overdriving a small loudspeaker: the clipping adds the
      # harmonics and intermodulation products real ringers have.
      x = np.sin(2 * np.pi * f1 * tt) + np.sin(2 * np.pi * f2 * tt)
      x = np.tanh(drive * x)
    elif kind == 'warble':
      f = np.where(np.floor(tt * switch) % 2 == 0, f1 * 1.5, f2 * 1.5)
      x = _harmonic(f, _SQUARE, fs, m, rng)
    else:  # pulsed square-wave beeper (cordless and office phones)
      x = _harmonic(np.full(m, f1 * 2), _SQUARE, fs, m, rng)
      gate = np.floor(tt * switch / 2) % 2 == 0
      x = x * _filt(gate.astype(np.float64), 'lowpass', 200.0, fs)
    _add(out, _fade(x, fs, 0.005), int(start * fs))
  return out


# Partial ratios of struck bells and bars.
_BELL_PARTIALS = {
    'bar': np.array([1.0, 2.76, 5.40, 8.93]),
    'hand': np.array([1.0, 2.32, 4.25, 6.63]),
}


def _bell(rng, duration: float, fs: float) -> np.ndarray:
  # Bells heard indoors (STARSS23 rooms): no church bells.
  kind = rng.choice(['door', 'hand', 'desk'])
  if kind == 'door':
    f = rng.uniform(500, 1000)
    pitches = [f, f * rng.choice([0.8, 0.84])]
    times = [0.0, rng.uniform(0.4, 0.7)]
    partials, tau = _BELL_PARTIALS['bar'], rng.uniform(0.5, 1.5)
  elif kind == 'hand':
    f = rng.uniform(800, 1800)
    count = rng.integers(2, 7)
    gap = 1 / rng.uniform(3, 8)
    times = list(np.arange(count) * gap)
    pitches = [f] * count
    partials, tau = _BELL_PARTIALS['hand'], rng.uniform(0.3, 1.0)
  else:  # desk / bicycle bell
    f = rng.uniform(1500, 3500)
    count = rng.integers(2, 9)
    times = list(np.arange(count) / rng.uniform(5, 9))
    pitches = [f] * count
    partials, tau = _BELL_PARTIALS['bar'], rng.uniform(0.2, 0.6)
  partials = partials * rng.uniform(0.99, 1.01, len(partials))
  amps = rng.uniform(0.3, 1.0, len(partials)) / np.sqrt(
      np.arange(1, 1 + len(partials))
  )
  # The event ends 2 decay times after the last strike (the fundamental
  # 17 dB down): later label frames would hold no audible bell at the
  # scenes' SNRs.
  n = int(min(times[-1] + 2 * tau, max(duration, times[-1] + 0.3)) * fs)
  out = np.zeros(n)
  tt = np.arange(n) / fs
  click_len = min(int(0.008 * fs), n - int(times[-1] * fs))
  click_level = rng.uniform(0.3, 0.8)
  for t0, p in zip(times, pitches, strict=True):
    m = n - int(t0 * fs)
    x = np.zeros(m)
    for ratio, a in zip(partials, amps, strict=True):
      if ratio * p < 0.45 * fs:
        decay = tau / ratio**0.7
        x += (
            a * np.sin(2 * np.pi * ratio * p * tt[:m]) * np.exp(-tt[:m] / decay)
        )
    x = x * np.minimum(tt[:m] / 0.001, 1.0)
    # The clapper's or striker's impact: a short bright click.
    x[:click_len] += (
        click_level * np.max(np.abs(x)) * _click(rng, click_len, fs)
    )
    _add(out, x, int(t0 * fs))
  return out


_TIMBRES = ('string', 'clarinet', 'flute', 'pluck', 'piano', 'brass', 'organ')


def _note(rng, f: float, length: float, fs: float, timbre: str) -> np.ndarray:
  """One note of `length` seconds (plus a short release)."""
  n = int((length + 0.05) * fs)
  h = np.arange(1, 21)
  decays = None
  inharm = 0.0
  vib = 0.0
  if timbre == 'string':
    amps = 1 / h
    env = _adsr(n, fs, 0.08, 0.1, 0.8, 0.08)
    vib = 0.006
  elif timbre == 'clarinet':  # mostly odd harmonics
    amps = np.where(h % 2 == 1, 1 / h, 0.08 / h)
    env = _adsr(n, fs, 0.03, 0.05, 0.9, 0.05)
  elif timbre == 'flute':
    amps = np.array([1.0, 0.4, 0.15, 0.06, 0.02])
    env = _adsr(n, fs, 0.06, 0.05, 0.85, 0.06)
    vib = 0.004
  elif timbre in ('pluck', 'piano'):
    amps = 1 / h**1.2
    tau = rng.uniform(0.3, 1.2)
    decays = tau / (1 + 0.5 * (h - 1))
    env = _adsr(n, fs, 0.003, 0.0, 1.0, 0.03)
    inharm = 1e-4 if timbre == 'piano' else 0.0
  elif timbre == 'brass':
    amps = np.exp(-((h - rng.uniform(2, 5)) ** 2) / 8.0) + 0.05
    env = _adsr(n, fs, 0.05, 0.1, 0.75, 0.06)
  else:  # organ
    amps = np.zeros(20)
    amps[[0, 1, 2, 3, 5, 7]] = rng.uniform(0.2, 1.0, 6)
    env = _adsr(n, fs, 0.01, 0.0, 1.0, 0.02)
  vibrato = np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * np.arange(n) / fs)
  f0 = f * (1 + vib * vibrato)
  x = _harmonic(f0, amps, fs, n, rng, decays, inharm)
  # Excitation noise: breath (winds), bow (strings), none (struck/plucked,
  # organ), and an onset transient for every timbre: the hammer, plectrum,
  # bow scrape, tonguing chiff or key click.
  level = np.std(x)
  noise = {'flute': 0.1, 'clarinet': 0.04, 'brass': 0.04, 'string': 0.05}
  if timbre in noise:
    hi = min(6 * f, 0.45 * fs)
    breath = _filt(rng.standard_normal(n), 'bandpass', (f, hi), fs)
    x += noise[timbre] * breath * level / max(np.std(breath), 1e-12)
  onset = min(int(0.02 * fs), n)
  tau = 0.002 if timbre in ('pluck', 'piano', 'organ') else 0.006
  x[:onset] += rng.uniform(0.5, 1.0) * level * _click(rng, onset, fs, tau)
  return x * env


def _midi(m):
  return 440.0 * 2 ** ((np.asarray(m, np.float64) - 69) / 12)


_SCALES = {
    'major': [0, 2, 4, 5, 7, 9, 11],
    'minor': [0, 2, 3, 5, 7, 8, 10],
    'pentatonic': [0, 2, 4, 7, 9],
}


def _musical_instrument(rng, duration: float, fs: float) -> np.ndarray:
  timbre = rng.choice(_TIMBRES)
  scale = _SCALES[rng.choice(list(_SCALES))]
  root = rng.integers(48, 72)
  degree = rng.integers(0, len(scale))
  legato = rng.uniform() < 0.5
  out = np.zeros(int((duration + 0.1) * fs))
  t = 0.0
  while t < duration - 0.15:
    length = min(rng.uniform(0.15, 0.8), duration - t)
    degree = int(np.clip(degree + rng.integers(-2, 3), -3, 10))
    octave, step = divmod(degree, len(scale))
    f = float(_midi(root + 12 * octave + scale[step]))
    _add(out, _note(rng, f, length, fs, timbre), int(t * fs))
    t += length if legato else length + rng.uniform(0.03, 0.2)
  return out[: int(t * fs) + int(0.05 * fs)]


def _music(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  out = np.zeros(n + int(0.1 * fs))
  beat = 60.0 / rng.uniform(70, 140)
  key = rng.integers(45, 57)
  minor = rng.uniform() < 0.4
  scale = _SCALES['minor' if minor else 'major']
  progression = [0, 3, 4, 5] if not minor else [0, 5, 3, 4]
  rng.shuffle(progression)
  pad, lead = rng.choice(['string', 'organ', 'brass']), rng.choice(_TIMBRES)
  beats_per_chord = rng.choice([2, 4])
  drums = rng.uniform() < 0.5
  b = 0
  while b * beat < duration - 0.1:
    t = b * beat
    if b % beats_per_chord == 0:
      d = progression[(b // beats_per_chord) % len(progression)]
      length = min(beats_per_chord * beat, duration - t)
      for k in (0, 2, 4):
        octave, step = divmod(d + k, 7)
        f = float(_midi(key + 12 + 12 * octave + scale[step]))
        _add(out, 0.3 * _note(rng, f, length, fs, pad), int(t * fs))
      bass = float(_midi(key - 12 + scale[d]))
      _add(
          out,
          0.6 * _note(rng, bass, min(beat, length), fs, 'pluck'),
          int(t * fs),
      )
    for half in range(2):  # melody in eighth notes, with rests
      if rng.uniform() < 0.65 and t + half * beat / 2 < duration - 0.1:
        octave, step = divmod(rng.integers(0, 10), 7)
        f = float(_midi(key + 24 + 12 * octave + scale[step]))
        note = _note(rng, f, beat / 2 * rng.uniform(0.7, 1.0), fs, lead)
        _add(out, 0.5 * note, int((t + half * beat / 2) * fs))
    if drums:
      m = int(0.25 * fs)
      tt = np.arange(m) / fs
      if b % 2 == 0:
        sweep = 50 + 70 * np.exp(-tt / 0.03)
        kick = np.sin(2 * np.pi * np.cumsum(sweep) / fs) * np.exp(-tt / 0.08)
        _add(out, 0.8 * kick, int(t * fs))
      else:
        snare = _filt(rng.standard_normal(m), 'bandpass', (1000, 5000), fs)
        snare = snare * np.exp(-tt / 0.06) + 0.3 * np.sin(
            2 * np.pi * 180 * tt
        ) * np.exp(-tt / 0.04)
        _add(out, 0.5 * snare, int(t * fs))
      for half in range(2):
        hat = _filt(rng.standard_normal(m), 'highpass', 7000.0, fs)
        _add(
            out,
            0.15 * hat * np.exp(-tt / 0.01),
            int((t + half * beat / 2) * fs),
        )
    b += 1
  return out[:n]


# Noise-like classes
# -----------------------------------------------------------------------------


def _domestic(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  kind = rng.choice(['appliance', 'dishes', 'rustle', 'scrape'])
  if kind == 'appliance':  # vacuum cleaner, fan, hair dryer, blender
    band = _filt(rng.standard_normal(n), 'lowpass', rng.uniform(1500, 6000), fs)
    motor = _harmonic(
        rng.uniform(80, 400) * (1 + 0.01 * _smooth_noise(rng, n, fs, 2.0)),
        rng.uniform(0.1, 1.0, 6),
        fs,
        n,
        rng,
    )
    x = band / np.std(band) + rng.uniform(0.2, 1.0) * motor / np.std(motor)
    x *= 1 + 0.1 * _smooth_noise(rng, n, fs, 4.0)
    ramp = rng.uniform(0.1, 0.4)
    return x * _adsr(n, fs, ramp, 0.0, 1.0, ramp)
  if kind == 'dishes':  # cutlery and dish clatter
    out = np.zeros(n)
    rate = rng.uniform(4, 15)
    count = max(rng.poisson(rate * duration), 1)
    m = int(0.15 * fs)
    tt = np.arange(m) / fs
    for t in np.sort(rng.uniform(0, max(duration - 0.15, 0.01), count)):
      freqs = rng.uniform(1500, 7000, rng.integers(3, 6))
      taus = rng.uniform(0.02, 0.12, len(freqs))
      hit = np.sum(
          np.sin(2 * np.pi * freqs[:, None] * tt) * np.exp(-tt / taus[:, None]),
          axis=0,
      )
      _add(out, hit * 10 ** (rng.uniform(-12, 0) / 20), int(t * fs))
    return out
  if kind == 'rustle':  # paper, plastic bags, clothes
    lo = rng.uniform(800, 3000)
    band = _filt(
        rng.standard_normal(n), 'bandpass', (lo, lo * rng.uniform(2.5, 5)), fs
    )
    crackle = np.abs(_smooth_noise(rng, n, fs, rng.uniform(20, 60))) ** 3
    return band * crackle * _adsr(n, fs, 0.05, 0.0, 1.0, 0.05)
  # Scrape: chair or furniture dragged (stick-slip pulses).
  rate = rng.uniform(50, 200) * (1 + 0.3 * _smooth_noise(rng, n, fs, 3.0))
  pulses = _glottal(np.maximum(rate, 20.0), fs, rng, jitter=0.1)
  centre = rng.uniform(300, 1500)
  x = _filt(pulses, 'bandpass', (centre / 1.5, centre * 1.5), fs)
  x += 0.3 * _filt(rng.standard_normal(n), 'bandpass', (centre, 4 * centre), fs)
  return x * _adsr(n, fs, 0.1, 0.0, 1.0, 0.15)


def _water_tap(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  lo = rng.uniform(700, 2000)
  hi = rng.uniform(4500, 10000)
  x = _filt(rng.standard_normal(n), 'bandpass', (lo, hi), fs, order=3)
  x /= np.std(x)
  flutter = 1 + rng.uniform(0.25, 0.6) * np.tanh(
      _smooth_noise(rng, n, fs, rng.uniform(8, 30))
  )
  x *= flutter
  splash = _filt(rng.standard_normal(n), 'bandpass', (200, 800), fs)
  x += rng.uniform(0.1, 0.3) * splash / np.std(splash)
  count = rng.poisson(rng.uniform(10, 40) * duration)
  m = int(0.02 * fs)
  tt = np.arange(m) / fs
  for t in rng.uniform(0, max(duration - 0.02, 0.01), count):
    f = rng.uniform(500, 2500)
    chirp = np.sin(2 * np.pi * f * (tt + 0.3 * tt**2 / 0.02))
    chirp *= np.exp(-tt / rng.uniform(0.003, 0.008))
    _add(x, chirp * rng.uniform(0.3, 1.5), int(t * fs))
  ramp = rng.uniform(0.05, 0.3)
  return x * _adsr(n, fs, ramp, 0.0, 1.0, ramp)


def _door(rng, duration: float, fs: float) -> np.ndarray:
  n = int(duration * fs)
  out = np.zeros(n + int(0.5 * fs))
  kind = rng.choice(['close', 'open', 'slam', 'cupboard'])
  small = kind == 'cupboard'

  def creak(length):
    m = int(length * fs)
    rate = rng.uniform(30, 180) * (1 + 0.4 * _smooth_noise(rng, m, fs, 2.0))
    pulses = _glottal(np.maximum(rate, 15.0), fs, rng, jitter=0.05)
    res = rng.uniform(400, 900) * np.array([1.0, rng.uniform(2, 3)])
    x = sum(_filt(pulses, 'bandpass', (r / 1.2, r * 1.2), fs) for r in res)
    return x * _adsr(m, fs, 0.05, 0.0, 1.0, 0.1) / max(np.std(x), 1e-12)

  def thud():
    m = int(0.4 * fs)
    tt = np.arange(m) / fs
    f = rng.uniform(45, 120) * (2.5 if small else 1.0)
    x = np.sin(2 * np.pi * f * tt) * np.exp(-tt / rng.uniform(0.04, 0.12))
    x += (
        0.5
        * np.sin(2 * np.pi * rng.uniform(150, 300) * tt)
        * np.exp(-tt / 0.06)
    )
    x += _filt(rng.standard_normal(m), 'lowpass', 600.0, fs) * np.exp(
        -tt / 0.03
    )
    return x * 3.0

  def latch():
    m = int(0.15 * fs)
    tt = np.arange(m) / fs
    click = _filt(rng.standard_normal(m), 'highpass', 2500.0, fs)
    click *= np.exp(-tt / 0.003)
    click += (
        0.5
        * np.sin(2 * np.pi * rng.uniform(2000, 4000) * tt)
        * np.exp(-tt / 0.01)
    )
    out = click.copy()
    _add(out, 0.6 * click, int(fs * rng.uniform(0.03, 0.08)))
    return out

  t = 0
  creak_len = min(rng.uniform(0.3, 1.5), max(duration - 0.3, 0.2))
  if kind == 'open':
    _add(out, latch(), 0)
    t = int(fs * rng.uniform(0.05, 0.15))
    if rng.uniform() < 0.8:
      _add(out, 0.5 * creak(creak_len), t)
      t += int(creak_len * fs)
  else:
    if kind != 'slam' and rng.uniform() < 0.7:
      _add(out, 0.5 * creak(creak_len), 0)
      t = int(creak_len * fs)
    _add(out, thud() * (2.0 if kind == 'slam' else 1.0), t)
    _add(out, 0.5 * latch(), t + int(0.01 * fs))
    t += int(0.3 * fs)
  return out[: max(t, int(MIN_DURATION * fs))]


_GENERATORS: tuple[Callable[..., np.ndarray], ...] = (
    functools.partial(_speech, female=True),
    functools.partial(_speech, female=False),
    _clapping,
    _telephone,
    _laughter,
    _domestic,
    _footsteps,
    _door,
    _music,
    _musical_instrument,
    _water_tap,
    _bell,
    _knock,
)


def sample_duration(class_index: int, rng) -> float:
  lo, hi = DURATION_RANGES[class_index]
  return float(rng.uniform(lo, hi))


def synthesize(
    class_index: int, rng, fs: float = 24000.0, duration: float | None = None
) -> np.ndarray:
  """A procedural event of class `class_index` (see the module docstring).

  Args:
    class_index: STARSS23 class index 0..12.
    rng: a numpy Generator (the event's parameters are drawn from it).
    fs: sample rate in Hz.
    duration: target length in seconds; drawn from `DURATION_RANGES` when
      None. Pattern-based classes (knock, door, telephone, bell) end with their
      last sound, so the length can differ; it is always within 0.5-8 s.

  Returns:
    float64 [num_samples], unit RMS over its active frames.
  """
  if not 0 <= class_index < NUM_CLASSES:
    raise ValueError(f'class_index {class_index} not in 0..{NUM_CLASSES - 1}')
  if duration is None:
    duration = sample_duration(class_index, rng)
  return _finish(_GENERATORS[class_index](rng, float(duration), fs), fs)


# Real clips
# -----------------------------------------------------------------------------


def load_clip(path: str | os.PathLike, fs: float) -> np.ndarray:
  """A mono float64 clip at `fs`, with leading/trailing silence trimmed."""
  # The libsndfile in the soundfile wheels reads wav, flac, ogg and mp3.
  data, rate = soundfile.read(str(path), dtype='float64', always_2d=True)
  data = data.mean(axis=1)
  if rate != fs:
    g = math.gcd(int(rate), int(fs))
    data = sps.resample_poly(data, int(fs) // g, int(rate) // g)
  hop = int(0.01 * fs)
  num = len(data) // hop
  if num:
    power = np.mean(data[: num * hop].reshape(num, hop) ** 2, axis=1)
    active = np.nonzero(power >= power.max() * 1e-4)[0]
    if len(active):
      data = data[active[0] * hop : (active[-1] + 1) * hop]
  return data


class ClipLibrary:
  """Real mono clips from per-class folders, in place of procedural sources.

  Folder names are matched case-insensitively, ignoring '_' and '-', against
  `CLIP_FOLDERS` (e.g. femaleSpeech, doorCupboard, music, waterTap). Classes
  without a folder keep their procedural source.
  """

  def __init__(self, root: str | os.PathLike, fs: float = 24000.0):
    self.root = pathlib.Path(root)
    self.fs = float(fs)
    if not self.root.is_dir():
      raise FileNotFoundError(f'Sources folder not found: {self.root}')
    self.clips: dict[int, list[np.ndarray]] = {}
    for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
      key = folder.name.lower().replace('_', '').replace('-', '')
      if key not in CLIP_FOLDERS:
        logging.warning('Sources: ignoring unknown class folder %s', folder)
        continue
      files = sorted(
          p for p in folder.iterdir() if p.suffix.lower() in _AUDIO_EXTENSIONS
      )
      clips = [c for c in (load_clip(p, self.fs) for p in files) if len(c)]
      if clips:
        self.clips.setdefault(CLIP_FOLDERS[key], []).extend(clips)
    if not self.clips:
      raise ValueError(f'No audio clips found in class folders of {self.root}')

  @property
  def procedural_classes(self) -> tuple[int, ...]:
    return tuple(c for c in range(NUM_CLASSES) if c not in self.clips)

  def describe(self) -> str:
    names = events_lib.STARSS_CLASSES
    real = ', '.join(
        f'{names[c]} ({len(self.clips[c])})' for c in sorted(self.clips)
    )
    proc = ', '.join(names[c] for c in self.procedural_classes) or 'none'
    return (
        f'Sources from {self.root}: real clips for {real}; procedural sources '
        f'for the classes without a folder: {proc}.'
    )

  def sample(self, class_index: int, rng) -> np.ndarray:
    """A segment of a random clip of the class (procedural if none)."""
    if class_index not in self.clips:
      return synthesize(class_index, rng, self.fs)
    clips = self.clips[class_index]
    clip = clips[rng.integers(len(clips))]
    n = int(sample_duration(class_index, rng) * self.fs)
    if len(clip) > n:
      start = int(rng.integers(0, len(clip) - n + 1))
      clip = clip[start : start + n]
    return _finish(clip, self.fs)


@functools.lru_cache(maxsize=4)
def load_library(root: str, fs: float) -> ClipLibrary:
  """A cached `ClipLibrary` (one load per process)."""
  return ClipLibrary(root, fs)

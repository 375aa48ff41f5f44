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

"""Classical direction estimates per label frame, for tests (numpy/scipy).

FOA: the active-intensity vector Re{W* (X, Y, Z)} summed over 100 Hz - 8 kHz
(each bin weighted by its energy). MIC: GCC-PHAT peak lags between the
capsule pairs, compared with the arrival-time differences of
`seld_jax.synth.spatial.geometric_delays`. The same estimators as
`tests/synth_spatial_test.py`, on channel-first float audio [C, N].
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from seld_jax.synth import spatial

PAIRS = tuple((i, j) for i in range(4) for j in range(i + 1, 4))


def stft_by_label_frame(
    audio: np.ndarray,
    nperseg: int,
    fs: int = 24000,
    hop: int = 240,
    label_rate: int = 10,
):
  """(freqs, STFT [C, F, frames], label frame of each STFT frame)."""
  x = np.asarray(audio, np.float64)
  f, _, spec = sps.stft(
      x,
      fs,
      nperseg=nperseg,
      noverlap=nperseg - hop,
      boundary=None,
      padded=False,
  )
  centres = np.arange(spec.shape[-1]) * hop + nperseg // 2
  return f, spec, centres // (fs // label_rate)


def foa_directions(
    foa: np.ndarray,
    frames,
    fs: int = 24000,
    band: tuple[float, float] = (100.0, 8000.0),
) -> np.ndarray:
  """Active-intensity unit vectors (x, y, z) [len(frames), 3].

  Args:
    foa: [4, N] in ACN order W, Y, Z, X.
    frames: label frames (10 per second) to estimate.
    fs: sample rate.
    band: frequency band in Hz.

  Returns:
    Unit vectors, one per frame.
  """
  f, spec, label = stft_by_label_frame(foa, 512, fs)
  keep = (f >= band[0]) & (f <= band[1])
  w, y, z, x = (spec[c, keep] for c in range(4))
  intensity = np.real(np.conj(w)[None] * np.stack([x, y, z]))
  out = np.stack([intensity[:, :, label == fr].sum((1, 2)) for fr in frames])
  return out / np.linalg.norm(out, axis=-1, keepdims=True)


def mic_lags(
    mic: np.ndarray, frames, fs: int = 24000, upsample: int = 16
) -> np.ndarray:
  """GCC-PHAT peak lags t_i - t_j in samples [len(frames), 6] (`PAIRS`)."""
  _, spec, label = stft_by_label_frame(mic, 1024, fs)
  reach = 12 * upsample
  lags = np.zeros((len(frames), len(PAIRS)))
  for k, fr in enumerate(frames):
    s = spec[..., label == fr]
    for p, (i, j) in enumerate(PAIRS):
      cross = np.sum(s[i] * np.conj(s[j]), axis=-1)
      gcc = np.fft.irfft(cross / (np.abs(cross) + 1e-12), 1024 * upsample)
      gcc = np.concatenate([gcc[-reach:], gcc[: reach + 1]])
      lags[k, p] = (np.argmax(gcc) - reach) / upsample
  return lags


def expected_mic_lags(
    directions: np.ndarray, mic_model: str = 'rigid', fs: int = 24000
) -> np.ndarray:
  """Arrival-time differences t_i - t_j [..., 6] of unit vectors [..., 3]."""
  delays = spatial.geometric_delays(directions, mic_model, fs)
  return np.stack([delays[..., i] - delays[..., j] for i, j in PAIRS], -1)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Angle in degrees between vectors [..., 3]."""
  cos = (
      np.sum(a * b, -1)
      / np.linalg.norm(a, axis=-1)
      / np.linalg.norm(b, axis=-1)
  )
  return np.rad2deg(np.arccos(np.clip(cos, -1, 1)))

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

"""Diffuse, coloured ambient noise (room tone, ventilation, rumble).

Each channel is independent Gaussian noise shaped in the frequency domain by
a random colour: a 1/f^a power slope (a in 0.5-1.6, between pink and brown),
an optional low-frequency rumble below ~150 Hz and an optional broad
ventilation bump between 200 Hz and 2 kHz, with a slow level fluctuation.
Scaled by an encoder's diffuse-field gains (FOA dipoles at 1/sqrt(3) of W in
SN3D) the channels form an isotropic diffuse field (for MIC, independent
capsules: the low-frequency coherence of a real diffuse field is not
modelled).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft


def colour(rng, freqs: np.ndarray) -> np.ndarray:
  """A random amplitude response over freqs (Hz), for `ambient`."""
  f = np.maximum(freqs, 20.0)
  slope = rng.uniform(0.5, 1.6)
  power = (f / 100.0) ** -slope
  if rng.uniform() < 0.5:  # rumble
    power *= 1 + rng.uniform(1, 10) / (1 + (f / rng.uniform(60, 150)) ** 4)
  if rng.uniform() < 0.5:  # ventilation bump
    centre = rng.uniform(200, 2000)
    power *= 1 + rng.uniform(1, 4) * np.exp(-(np.log(f / centre) ** 2) / 0.5)
  power[freqs < 20.0] = 0.0
  return np.sqrt(power)


def ambient(rng, num_samples: int, fs: float = 24000.0) -> np.ndarray:
  """Four independent coloured noise channels [4, num_samples], unit power.

  Scale the channels by an encoder's `diffuse_gains` to get its diffuse field;
  one draw serves every format of a scene (the same room tone).

  Args:
    rng: numpy Generator for the colour, the drift and the samples.
    num_samples: length.
    fs: sample rate in Hz.
  """
  nfft = sp_fft.next_fast_len(num_samples, real=True)
  freqs = sp_fft.rfftfreq(nfft, 1.0 / fs)
  shape = colour(rng, freqs).astype(np.float32)
  t = np.arange(num_samples) / fs
  drift = 1 + 0.1 * np.sin(
      2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi)
  )
  # Gaussian noise shaped in the frequency domain: complex Gaussian bins times
  # the colour (statistically the same as filtering white noise).
  bins = rng.standard_normal((4, 2, len(freqs)), dtype=np.float32)
  spec = (bins[:, 0] + 1j * bins[:, 1]) * shape
  out = sp_fft.irfft(spec, nfft, axis=-1)[:, :num_samples] * drift
  return out / np.sqrt(np.mean(out**2, axis=-1, keepdims=True))

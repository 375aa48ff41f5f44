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

"""Spatial encoders: a plane wave from a direction -> 4 channel filters.

FOA: first-order Ambisonics, ACN channel order with SN3D normalisation, as in
TAU-NIGENS and STARSS23:

  W = s,  Y = s sin(az) cos(el),  Z = s sin(el),  X = s cos(az) cos(el).

MIC: the tetrahedral subset of the Eigenmike em32 used by TAU-NIGENS and
STARSS23: four capsules on a rigid sphere of radius 4.2 cm at (azimuth,
elevation) M1 (45, 35) front-left-up, M2 (-45, -35) front-right-down, M3
(135, -35) back-left-down, M4 (-135, 35) back-right-up. Each capsule's response
to a plane wave is the analytical rigid-sphere model that the TAU datasets
document (DCASE2019 task 3 / TAU-NIGENS README):

  H_m(f) = 1 / (kR)^2  sum_{n=0}^{N} i^(n-1) / h_n^(2)'(kR) (2n+1) P_n(cos g_m)

with k = 2 pi f / c, g_m the angle between capsule m and the source direction,
h_n^(2)' the derivative of the spherical Hankel function of the second kind
and N = 30. The response depends only on g_m, so FIR filters are tabulated on
a 0.25-degree grid of g_m once per process. `mic_model='open'` gives ideal
omnidirectional capsules at the same positions in free field (pure delays) for
comparison.

Directions are unit vectors [..., 3] (x front, y left, z up), as
`seld_jax.events.polar_to_cartesian` makes them.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

SPEED_OF_SOUND = 343.0  # m/s
MIC_RADIUS = 0.042  # m
# (azimuth, elevation) of the tetrahedral capsules M1..M4, degrees.
MIC_CAPSULES_DEG = (
    (45.0, 35.0),
    (-45.0, -35.0),
    (135.0, -35.0),
    (-135.0, 35.0),
)
FORMATS = ('foa', 'mic')

_MIC_TAPS = 64  # FIR length of one capsule response
_MIC_LEAD = 24  # samples of the FIR before the sphere-centre arrival time
_MIC_ORDER = 30  # spherical-harmonic order of the series
_MIC_GRID = 721  # angles 0..180 degrees in 0.25-degree steps
_MIC_NFFT = 512


def unit_vectors(azimuth_deg, elevation_deg) -> np.ndarray:
  """Degrees -> unit vectors [..., 3] (x front, y left, z up)."""
  azi = np.deg2rad(np.asarray(azimuth_deg, np.float64))
  ele = np.deg2rad(np.asarray(elevation_deg, np.float64))
  return np.stack(
      [np.cos(azi) * np.cos(ele), np.sin(azi) * np.cos(ele), np.sin(ele)],
      axis=-1,
  )


def capsule_directions() -> np.ndarray:
  """Unit vectors [4, 3] of the MIC capsules M1..M4."""
  return unit_vectors(*np.asarray(MIC_CAPSULES_DEG).T)


def geometric_delays(
    directions: np.ndarray, mic_model: str = 'rigid', fs: float = 24000.0
) -> np.ndarray:
  """Arrival times [..., 4] in samples at M1..M4, relative to the centre.

  For `open` capsules this is the free-field delay -R cos(g) / c. For the
  rigid sphere it is the ray model of a plane wave around the sphere: the
  projected path -R cos(g) / c on the lit side (g <= 90 degrees) and the
  creeping-wave arc R (g - 90 degrees) / c in the shadow; the GCC-PHAT peaks of
  the rigid-sphere filters follow it within a sample at 24 kHz, whereas the
  free-field formula is off by up to ~2 samples.

  Args:
    directions: source unit vectors [..., 3].
    mic_model: 'rigid' or 'open'.
    fs: sample rate in Hz.

  Returns:
    Delays in samples, [..., 4].
  """
  cos_g = np.clip(np.asarray(directions) @ capsule_directions().T, -1.0, 1.0)
  if mic_model == 'open':
    path = -MIC_RADIUS * cos_g
  elif mic_model == 'rigid':
    g = np.arccos(cos_g)
    path = np.where(
        g <= np.pi / 2, -MIC_RADIUS * cos_g, MIC_RADIUS * (g - np.pi / 2)
    )
  else:
    raise ValueError(f'Unknown mic_model {mic_model!r}.')
  return path / SPEED_OF_SOUND * fs


class FoaEncoder:
  """First-order Ambisonics, ACN order (W, Y, Z, X), SN3D."""

  name = 'foa'
  num_channels = 4
  taps = 1
  lead = 0
  # Channel gains of an isotropic diffuse field: SN3D dipoles carry 1/3 of
  # the omni energy.
  diffuse_gains = np.array([1.0, 3**-0.5, 3**-0.5, 3**-0.5])

  def filters(self, directions: np.ndarray) -> np.ndarray:
    """Unit vectors [..., 3] -> gains [..., 4, 1]."""
    d = np.asarray(directions, np.float64)
    gains = np.stack(
        [np.ones(d.shape[:-1]), d[..., 1], d[..., 2], d[..., 0]], axis=-1
    )
    return gains[..., None]


class MicEncoder:
  """Tetrahedral array: rigid-sphere (default) or open omni capsules.

  `filters` returns FIRs of `taps` samples whose sample `lead` is the arrival
  time at the sphere centre.
  """

  name = 'mic'
  num_channels = 4
  taps = _MIC_TAPS
  lead = _MIC_LEAD
  # Independent, equal-energy capsule signals (the low-frequency coherence
  # of a real diffuse field is not modelled).
  diffuse_gains = np.ones(4)

  def __init__(self, fs: float = 24000.0, mic_model: str = 'rigid'):
    self.fs = float(fs)
    self.mic_model = mic_model
    self._table = _capsule_fir_table(self.fs, mic_model)
    self._capsules = capsule_directions()

  def filters(self, directions: np.ndarray) -> np.ndarray:
    """Unit vectors [..., 3] -> FIRs [..., 4, taps]."""
    cos_g = np.clip(np.asarray(directions) @ self._capsules.T, -1.0, 1.0)
    index = np.rint(np.arccos(cos_g) * ((_MIC_GRID - 1) / np.pi)).astype(int)
    return self._table[index]


def get_encoder(fmt: str, fs: float = 24000.0, mic_model: str = 'rigid'):
  """The encoder of a format name ('foa' or 'mic')."""
  if fmt == 'foa':
    return FoaEncoder()
  if fmt == 'mic':
    return _cached_mic_encoder(float(fs), mic_model)
  raise ValueError(f'Unknown format {fmt!r}; expected one of {FORMATS}.')


@functools.cache
def _cached_mic_encoder(fs: float, mic_model: str) -> MicEncoder:
  return MicEncoder(fs, mic_model)


def capsule_response(cos_g: np.ndarray, freqs: np.ndarray, mic_model: str):
  """Complex capsule responses [len(cos_g), len(freqs)] (see module doc)."""
  cos_g = np.asarray(cos_g, np.float64)
  kr = 2 * np.pi * np.asarray(freqs, np.float64) * MIC_RADIUS / SPEED_OF_SOUND
  if mic_model == 'open':
    return np.exp(1j * kr[None, :] * cos_g[:, None])
  if mic_model != 'rigid':
    raise ValueError(f'Unknown mic_model {mic_model!r}.')
  kr_safe = np.maximum(kr, 1e-6)
  out = np.zeros((len(cos_g), len(kr)), np.complex128)
  for n in range(_MIC_ORDER + 1):
    dh = special.spherical_jn(n, kr_safe, derivative=True) - 1j * (
        special.spherical_yn(n, kr_safe, derivative=True)
    )
    legendre = special.eval_legendre(n, cos_g)
    out += (1j ** (n - 1) * (2 * n + 1) / dh)[None, :] * legendre[:, None]
  out /= (kr_safe**2)[None, :]
  out[:, kr < 1e-6] = 1.0  # the limit at DC
  return out


@functools.cache
def _capsule_fir_table(fs: float, mic_model: str) -> np.ndarray:
  """FIRs [_MIC_GRID, taps] of one capsule vs the capsule-source angle."""
  angles = np.linspace(0.0, np.pi, _MIC_GRID)
  freqs = np.fft.rfftfreq(_MIC_NFFT, 1.0 / fs)
  resp = capsule_response(np.cos(angles), freqs, mic_model)
  resp *= np.exp(-2j * np.pi * freqs * _MIC_LEAD / fs)[None, :]
  firs = np.fft.irfft(resp, _MIC_NFFT, axis=-1)[:, :_MIC_TAPS]
  # Short tapers against truncation ripple (the responses are compact).
  taper = np.ones(_MIC_TAPS)
  taper[:4] = np.sin(np.linspace(0, np.pi / 2, 6)[1:5]) ** 2
  taper[-10:] = np.cos(np.linspace(0, np.pi / 2, 12)[1:11]) ** 2
  return (firs * taper).astype(np.float64)

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

"""Room acoustics: image sources, a diffuse tail, time-varying convolution.

A source at a position relative to the microphone is heard through

  * the direct path and the shoebox image sources up to `order` reflections
    (Allen & Berkley), each with gain reflection^k / distance, its own
    propagation delay, and encoded from its own direction by the format's
    encoder (so early reflections arrive from the walls, floor and ceiling);
  * a diffuse late tail: independent noise per channel (scaled by the
    encoder's diffuse-field channel gains), in three bands (<500 Hz,
    500-4000 Hz, >4 kHz) decaying with 1.2, 1.0 and 0.6 x RT60, rising over
    the first 30 ms after the direct sound. Its energy is set by the classical
    diffuse-field theory: the reverberant energy (early reflections + tail)
    equals that of the direct sound at the critical distance
    r_c = 0.057 sqrt(V / RT60), so the direct-to-reverberant ratio falls as
    1 / r^2 with the source distance r.

The wall absorption follows from RT60 by Sabine's formula. `room=None` renders
the direct path only (anechoic). Moving sources are rendered block-wise: the
signal is cut into Hann-windowed blocks (50 % overlap, summing to one), each
block is convolved with the early response of the position at its centre, and
the blocks are overlap-added; the late tail is convolved once.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy import fft as sp_fft
from scipy import signal as sps

from seld_jax.synth import spatial

_TAIL_BANDS = ((None, 500.0, 1.2), (500.0, 4000.0, 1.0), (4000.0, None, 0.6))
_TAIL_RISE = 0.03  # seconds from the direct sound to the full tail level


@dataclasses.dataclass(frozen=True)
class Room:
  """A shoebox room with the microphone inside it (metres, seconds)."""

  size: tuple[float, float, float]
  mic: tuple[float, float, float]
  rt60: float

  @property
  def volume(self) -> float:
    return float(np.prod(self.size))

  @property
  def surface(self) -> float:
    x, y, z = self.size
    return 2.0 * (x * y + x * z + y * z)

  @property
  def absorption(self) -> float:
    """Mean absorption coefficient by Sabine's formula (capped at 0.99)."""
    return min(0.161 * self.volume / (self.surface * self.rt60), 0.99)

  @property
  def reflection(self) -> float:
    """Pressure reflection coefficient of every wall."""
    return float(np.sqrt(1.0 - self.absorption))

  @property
  def critical_distance(self) -> float:
    return 0.057 * float(np.sqrt(self.volume / self.rt60))


def sample_room(
    rng,
    size_range=((4.0, 10.0), (3.0, 8.0), (2.5, 4.0)),
    rt60_range=(0.2, 0.8),
) -> Room:
  """A random room; the microphone near the middle at 1.2-1.8 m height."""
  size = tuple(float(rng.uniform(lo, hi)) for lo, hi in size_range)
  mic = (
      size[0] * float(rng.uniform(0.35, 0.65)),
      size[1] * float(rng.uniform(0.35, 0.65)),
      float(rng.uniform(1.2, max(1.25, min(1.8, size[2] - 0.8)))),
  )
  return Room(size, mic, float(rng.uniform(*rt60_range)))


def max_distance(room: Room, directions: np.ndarray, margin=0.3) -> np.ndarray:
  """Largest source distance along directions [..., 3] that stays inside."""
  d = np.asarray(directions, np.float64)
  mic = np.asarray(room.mic)
  size = np.asarray(room.size)
  with np.errstate(divide='ignore'):
    to_far = np.where(d > 1e-9, (size - margin - mic) / d, np.inf)
    to_near = np.where(d < -1e-9, (margin - mic) / d, np.inf)
  return np.min(np.minimum(to_far, to_near), axis=-1)


@functools.lru_cache(maxsize=8)
def _image_indices(order: int) -> np.ndarray:
  """Integer image indices [I, 3] with |i|+|j|+|k| <= order, direct first."""
  r = np.arange(-order, order + 1)
  grid = np.stack(np.meshgrid(r, r, r, indexing='ij'), -1).reshape(-1, 3)
  grid = grid[np.abs(grid).sum(1) <= order]
  return grid[np.argsort(np.abs(grid).sum(1), kind='stable')]


def image_sources(room: Room | None, positions: np.ndarray, order: int):
  """Image sources of sources at `positions` [B, 3] (relative to the mic).

  Returns:
    (vectors [B, I, 3] from the mic to each image, gains [I] = reflection^k).
    The direct path is image 0. Without a room, only the direct path.
  """
  positions = np.asarray(positions, np.float64)
  if room is None or order <= 0:
    return positions[:, None, :], np.ones(1)
  idx = _image_indices(order)
  size = np.asarray(room.size)
  mic = np.asarray(room.mic)
  src = positions + mic  # room coordinates [B, 3]
  odd = (idx % 2).astype(bool)  # [I, 3]
  img = idx * size + np.where(odd, size - src[:, None, :], src[:, None, :])
  gains = room.reflection ** np.abs(idx).sum(1)
  return img - mic, gains


def early_rirs(
    positions: np.ndarray,
    room: Room | None,
    encoder,
    fs: float,
    order: int = 3,
) -> np.ndarray:
  """Direct + early-reflection responses [B, C, L] for positions [B, 3].

  Sample `encoder.lead + round(d / c * fs)` holds the arrival of a path of
  length d (the encoders' FIRs peak `lead` samples after their start).
  """
  vectors, gains = image_sources(room, positions, order)
  dist = np.maximum(np.linalg.norm(vectors, axis=-1), 0.05)  # [B, I]
  amp = gains[None, :] / dist
  delay = np.rint(dist / spatial.SPEED_OF_SOUND * fs).astype(np.int64)
  filt = encoder.filters(vectors / dist[..., None])  # [B, I, C, T]
  num_b, num_i, num_c, taps = filt.shape
  length = int(delay.max()) + taps
  # Scatter-add every (block, image, channel, tap) into the flat response.
  base = (np.arange(num_b)[:, None] * num_c + np.arange(num_c)) * length
  index = base[:, None, :, None] + delay[:, :, None, None] + np.arange(taps)
  weights = amp[:, :, None, None] * filt
  flat = np.bincount(
      index.reshape(-1), weights.reshape(-1), minlength=num_b * num_c * length
  )
  return flat.reshape(num_b, num_c, length)


def reflection_energy(position: np.ndarray, room: Room, order: int) -> float:
  """Omni energy of the early reflections (images other than the direct)."""
  vectors, gains = image_sources(room, np.asarray(position)[None], order)
  dist = np.maximum(np.linalg.norm(vectors[0], axis=-1), 0.05)
  return float(np.sum((gains[1:] / dist[1:]) ** 2))


def diffuse_tail(
    rng,
    room: Room,
    encoder,
    fs: float,
    start: int,
    energy: float,
) -> np.ndarray:
  """Late reverberation [C, L] starting at sample `start` (see module doc).

  Args:
    rng: numpy Generator for the noise.
    room: gives RT60.
    encoder: gives the channel count and the diffuse-field channel gains.
    fs: sample rate.
    start: sample index of the direct sound (the tail rises from there).
    energy: omni (channel-0) energy of the tail.

  Returns:
    float64 [C, start + tail length].
  """
  num_c = encoder.num_channels
  longest = max(f for _, _, f in _TAIL_BANDS) * room.rt60
  n = int(longest * fs) + 1
  t = np.arange(n) / fs
  rise = np.minimum(t / _TAIL_RISE, 1.0) ** 2
  noise = rng.standard_normal((num_c, n))
  tail = np.zeros((num_c, n))
  for lo, hi, factor in _TAIL_BANDS:
    if lo is None:
      sos = sps.butter(4, hi, 'lowpass', fs=fs, output='sos')
    elif hi is None:
      sos = sps.butter(4, lo, 'highpass', fs=fs, output='sos')
    else:
      sos = sps.butter(2, (lo, hi), 'bandpass', fs=fs, output='sos')
    env = np.exp(-6.908 * t / (factor * room.rt60))  # -60 dB at factor*RT60
    tail += sps.sosfilt(sos, noise, axis=-1) * env
  tail *= rise
  fade = min(int(0.05 * fs), n)
  tail[:, n - fade :] *= np.linspace(1.0, 0.0, fade)
  # Each channel gets the same energy before the diffuse-field gains.
  tail *= np.sqrt(
      energy / np.maximum(np.sum(tail**2, -1, keepdims=True), 1e-30)
  )
  tail *= np.asarray(encoder.diffuse_gains)[:, None]
  return np.concatenate([np.zeros((num_c, start)), tail], axis=1)


def tail_energy(position: np.ndarray, room: Room, order: int) -> float:
  """Omni tail energy: reverberant energy 1/r_c^2 minus the early part."""
  total = 1.0 / room.critical_distance**2
  return max(total - reflection_energy(position, room, order), 0.25 * total)


def spatialize(
    signal: np.ndarray,
    positions: np.ndarray,
    hop: int,
    room: Room | None,
    encoder,
    fs: float,
    order: int = 3,
    tail_rng=None,
) -> np.ndarray:
  """Renders a mono source through the room into the encoder's channels.

  Args:
    signal: mono dry signal [n].
    positions: source positions relative to the mic [B, 3] at times b * hop /
      fs (b = 0..B-1); B == 1 for a static source. A moving source needs
      B == ceil(n / hop) + 1.
    hop: block hop in samples (blocks are 2 * hop long).
    room: the room, or None for the direct path only.
    encoder: a `spatial` encoder.
    fs: sample rate in Hz.
    order: image-source order.
    tail_rng: numpy Generator for the diffuse tail (required with a room).

  Returns:
    float64 [C, n + L]; sample 0 is the emission time of signal[0].
  """
  signal = np.asarray(signal, np.float64)
  positions = np.asarray(positions, np.float64).reshape(-1, 3)
  rirs = early_rirs(positions, room, encoder, fs, order)
  tail = None
  if room is not None:
    direct = np.linalg.norm(positions[0]) / spatial.SPEED_OF_SOUND * fs
    energy = tail_energy(positions[0], room, order)
    tail = diffuse_tail(
        tail_rng, room, encoder, fs, int(round(direct)) + encoder.lead, energy
    )
  if len(positions) == 1:
    rir = rirs[0]
    if tail is not None:
      rir = _add_padded(rir, tail)
    out = _convolve(signal, rir)
  else:
    out = _block_convolve(signal, rirs, hop)
    if tail is not None:
      late = _convolve(signal, tail)
      out = _add_padded(out, late)
  return out[:, encoder.lead :]


def num_blocks(n: int, hop: int) -> int:
  """Blocks that `spatialize` needs for a moving source of n samples."""
  return -(-n // hop) + 1


def _block_convolve(signal: np.ndarray, rirs: np.ndarray, hop: int):
  """Overlap-add of Hann blocks (centres b * hop) through rirs [B, C, L]."""
  n = len(signal)
  num_b, num_c, length = rirs.shape
  if num_b != num_blocks(n, hop):
    raise ValueError(f'{num_b} responses for {num_blocks(n, hop)} blocks.')
  padded = np.zeros((num_b + 1) * hop)
  padded[hop : hop + n] = signal
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))
  frames = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop]
  frames = (frames[:num_b] * window).astype(np.float32)
  size = 2 * hop + length - 1
  nfft = _fft_len(size)
  spec = sp_fft.rfft(frames, nfft, axis=-1)[:, None, :]
  spec = spec * sp_fft.rfft(rirs.astype(np.float32), nfft, axis=-1)
  blocks = sp_fft.irfft(spec, nfft, axis=-1)[..., :size]
  out = np.zeros((num_c, (num_b - 1) * hop + size), np.float32)
  for b in range(num_b):
    out[:, b * hop : b * hop + size] += blocks[b]
  return out[:, hop:]


def _fft_len(n: int) -> int:
  return sp_fft.next_fast_len(int(n), real=True)


def _convolve(signal: np.ndarray, rir: np.ndarray) -> np.ndarray:
  """FFT convolution of signal [n] with rir [C, L] -> [C, n + L - 1].

  In single precision: twice as fast, and far below the 16-bit output's
  quantisation step.
  """
  size = len(signal) + rir.shape[1] - 1
  nfft = _fft_len(size)
  spec = sp_fft.rfft(signal.astype(np.float32), nfft)
  spec = spec * sp_fft.rfft(rir.astype(np.float32), nfft, axis=-1)
  return sp_fft.irfft(spec, nfft, axis=-1)[:, :size]


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """a + b for [C, La] and [C, Lb], zero-padding the shorter."""
  if a.shape[1] < b.shape[1]:
    a, b = b, a
  out = a.copy()
  out[:, : b.shape[1]] += b
  return out

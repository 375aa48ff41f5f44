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

"""The synthesiser's labels match its audio: FOA intensity and MIC delays.

Single sources at known directions (static and moving, anechoic and
reverberant) are rendered through `render.render_events`; the direction of
every label frame is estimated from the FOA active-intensity vector and the
MIC inter-capsule delays (GCC-PHAT) and compared with the labels.
"""

import numpy as np
import pytest
from scipy import signal as sps

from seld_jax.synth import render
from seld_jax.synth import room as room_lib
from seld_jax.synth import scenes
from seld_jax.synth import sources
from seld_jax.synth import spatial

FS = 24000
HOP = 240  # STFT hop (10 ms); 10 STFT frames per label frame
PAIRS = [(i, j) for i in range(4) for j in range(i + 1, 4)]
ROOM = room_lib.Room((6.0, 5.0, 3.0), (3.0, 2.4, 1.5), 0.5)


def _stft_by_label_frame(audio, nperseg):
  """STFT [C, F, T] of int16 [n, C] and each STFT frame's label frame."""
  x = audio.astype(np.float64).T
  f, _, spec = sps.stft(
      x,
      FS,
      nperseg=nperseg,
      noverlap=nperseg - HOP,
      boundary=None,
      padded=False,
  )
  centres = np.arange(spec.shape[-1]) * HOP + nperseg // 2
  return f, spec, centres // (FS // 10)


def foa_directions(foa, frames):
  """Active-intensity unit vectors [len(frames), 3], 100 Hz - 8 kHz."""
  f, spec, label = _stft_by_label_frame(foa, 512)
  band = (f >= 100) & (f <= 8000)
  w, y, z, x = (spec[c, band] for c in range(4))
  # Summing Re{W* V} over the bins weights each bin by its energy.
  intensity = np.real(np.conj(w)[None] * np.stack([x, y, z]))
  out = np.stack([intensity[:, :, label == fr].sum((1, 2)) for fr in frames])
  return out / np.linalg.norm(out, axis=-1, keepdims=True)


def mic_lags(mic, frames, upsample=16):
  """GCC-PHAT peak lags t_i - t_j in samples [len(frames), 6]."""
  _, spec, label = _stft_by_label_frame(mic, 1024)
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


def angle_deg(a, b):
  cos = (
      np.sum(a * b, -1)
      / np.linalg.norm(a, axis=-1)
      / np.linalg.norm(b, axis=-1)
  )
  return np.rad2deg(np.arccos(np.clip(cos, -1, 1)))


def render_single(moving, reverb, mic_model='rigid', distance=1.5, seed=0):
  config = render.SynthConfig(
      duration=4.0, snr_range=(40.0, 40.0), reverb=reverb, mic_model=mic_model
  )
  rng = np.random.default_rng(seed)
  dry = sps.lfilter([1.0], [1.0, -0.5], rng.standard_normal(3 * FS))
  event = scenes.Event(
      class_index=10,
      onset=FS // 2,
      signal=dry / sources.active_rms(dry, FS),
      azimuth=60.0,
      elevation=20.0,
      distance=distance,
      azimuth_speed=30.0 if moving else 0.0,
      elevation_speed=6.0 if moving else 0.0,
      elevation_range=(-45.0, 45.0),
  )
  audio, table = render.render_events(
      config, [event], seed, ROOM if reverb else None
  )
  return audio, table


def _errors(audio, table, mic_model):
  labelled = spatial.unit_vectors(table.azimuth, table.elevation)
  foa_err = angle_deg(foa_directions(audio['foa'], table.frame), labelled)
  delays = spatial.geometric_delays(labelled, mic_model, FS)
  expected = np.stack([delays[:, i] - delays[:, j] for i, j in PAIRS], 1)
  lag_err = np.abs(mic_lags(audio['mic'], table.frame) - expected)
  return foa_err, lag_err


@pytest.mark.parametrize('moving', [False, True])
def test_labels_match_direct_path_audio(moving):
  audio, table = render_single(moving=moving, reverb=False)
  assert len(table) == 30  # 3 s at 10 frames/s, onset 0.5 s
  if moving:
    assert np.ptp(table.azimuth) >= 80  # 30 deg/s for 3 s
  foa_err, lag_err = _errors(audio, table, 'rigid')
  # Direct path only: the intensity vector is the labelled direction (the
  # labels are rounded to whole degrees) and the GCC-PHAT peaks sit within a
  # sample of the rigid-sphere arrival-time differences.
  assert foa_err.max() < 2.0, foa_err
  assert lag_err.max() < 1.0, lag_err


def test_open_capsules_follow_free_field_delays():
  audio, table = render_single(moving=True, reverb=False, mic_model='open')
  _, lag_err = _errors(audio, table, 'open')
  assert lag_err.max() < 0.5, lag_err


@pytest.mark.parametrize('moving', [False, True])
def test_labels_match_reverberant_audio(moving):
  audio, table = render_single(moving=moving, reverb=True)
  foa_err, lag_err = _errors(audio, table, 'rigid')
  # RT60 0.5 s at 1.5 m (about 2 x the critical distance): reflections bias
  # the intensity vector by ~10 degrees on average; GCC-PHAT keeps finding the
  # direct path.
  assert np.median(foa_err) < 15.0, foa_err
  assert np.percentile(foa_err, 90) < 25.0, foa_err
  assert np.mean(lag_err < 1.0) > 0.95, lag_err


def test_foa_encoding_formula():
  rng = np.random.default_rng(0)
  azi = rng.uniform(-180, 180, 20)
  ele = rng.uniform(-90, 90, 20)
  gains = spatial.FoaEncoder().filters(spatial.unit_vectors(azi, ele))[..., 0]
  a, e = np.deg2rad(azi), np.deg2rad(ele)
  expected = np.stack(
      [np.ones(20), np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], 1
  )
  np.testing.assert_allclose(gains, expected, atol=1e-12)


def test_mic_capsules_and_rigid_sphere_response():
  caps = spatial.capsule_directions()
  np.testing.assert_allclose(
      caps[0], spatial.unit_vectors(45, 35), atol=1e-12
  )  # M1 front-left-up
  assert caps[1, 1] < 0 and caps[1, 2] < 0  # M2 right, down
  assert caps[2, 0] < 0 and caps[2, 1] > 0 and caps[2, 2] < 0  # M3
  assert caps[3, 0] < 0 and caps[3, 1] < 0 and caps[3, 2] > 0  # M4
  # Low-frequency limit of the rigid sphere: unit gain and a phase advance of
  # 1.5 kR cos(g) (diffraction makes the sphere look 1.5 x larger).
  cos_g = np.array([1.0, 0.0, -1.0])
  resp = spatial.capsule_response(cos_g, np.array([50.0]), 'rigid')[:, 0]
  kr = 2 * np.pi * 50 * spatial.MIC_RADIUS / spatial.SPEED_OF_SOUND
  np.testing.assert_allclose(np.abs(resp), 1.0, atol=1e-3)
  np.testing.assert_allclose(np.angle(resp), 1.5 * kr * cos_g, atol=1e-4)
  # High frequencies: the lit capsule is louder than the shadowed one.
  resp = spatial.capsule_response(cos_g, np.array([8000.0]), 'rigid')[:, 0]
  assert np.abs(resp[0]) > 1.5 * np.abs(resp[2])


def _schroeder_rt60(h):
  energy = np.cumsum(h[::-1] ** 2)[::-1]
  db = 10 * np.log10(energy / energy[0] + 1e-30)
  return 3 * (np.argmax(db < -25) - np.argmax(db < -5)) / FS


def test_tail_decays_with_rt60_and_drr_falls_with_distance():
  encoder = spatial.get_encoder('foa')
  tail = room_lib.diffuse_tail(
      np.random.default_rng(0), ROOM, encoder, FS, 0, 1.0
  )
  mid = sps.sosfilt(
      sps.butter(4, (700, 3000), 'bandpass', fs=FS, output='sos'), tail[0]
  )
  assert _schroeder_rt60(mid) == pytest.approx(ROOM.rt60, rel=0.15)
  # Diffuse FOA: dipole channels carry 1/3 of the omni energy each.
  energy = np.sum(tail**2, -1)
  np.testing.assert_allclose(energy[1:] / energy[0], 1 / 3, rtol=1e-6)
  # Direct-to-reverberant ratio: about -6 dB per doubling of distance.
  impulse = np.zeros(64)
  impulse[0] = 1.0
  drr = []
  for d in (0.5, 1.0, 2.0):
    y = room_lib.spatialize(
        impulse,
        [[-d, 0.0, 0.0]],
        1200,
        ROOM,
        encoder,
        FS,
        3,
        np.random.default_rng(1),
    )
    arrival = int(round(d / spatial.SPEED_OF_SOUND * FS))
    assert np.argmax(np.abs(y[0])) == arrival
    direct = y[0, arrival] ** 2
    drr.append(10 * np.log10(direct / (np.sum(y[0] ** 2) - direct)))
  assert np.diff(drr) == pytest.approx([-6.0, -6.0], abs=1.5)


def test_sources_stay_inside_the_room():
  config = render.SynthConfig(duration=20.0, moving_prob=1.0)
  rng = np.random.default_rng(3)
  make = lambda c, k: np.ones(int(FS * 5.0))
  events = scenes.sample_events(config, rng, config.num_samples, make, ROOM)
  for ev in events:
    t = np.linspace(0, ev.num_samples / FS, 50)
    pos = ev.positions(t) + np.asarray(ROOM.mic)
    assert np.all(pos > 0) and np.all(pos < np.asarray(ROOM.size)), ev
    assert ev.distance >= 0.3

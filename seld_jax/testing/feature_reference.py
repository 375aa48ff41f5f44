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

"""Literal numpy/librosa references of the official DCASE feature extractors.

Each function follows the official code line by line (float64, one channel
at a time through `librosa.stft`, `librosa.power_to_db`, `np.fft.irfft`) and
returns the official layout, usually a flat `[frames, channels * bins]`
matrix. `unflatten_channel_major` / `unflatten_bin_major` turn those into the
`[channels, frames, bins]` layout of `seld_jax.features`.

Sources (function names as in the official repositories):
  * 2022-2024 `cls_feature_class.py:FeatureClass` (seld-dcase2022, identical
    in seld-dcase2023 and DCASE2024_seld_baseline): `_load_audio`,
    `_spectrogram`, `_get_mel_spectrogram`, `_get_foa_intensity_vectors`,
    `_get_gcc`, `_get_salsalite`.
  * seld-dcase2021 and seld-dcase2020 `_get_foa_intensity_vectors`.
  * seld-dcase2019 `_spectrogram` and `preprocess_features`.
  * seld-net (2018) `_spectrogram`.
  * DCASE2025_seld_baseline `utils.extract_log_mel_spectrogram`.

Used by `tests/features_test.py` and `benchmarks/features.py`; not part of
the library proper (it imports librosa and soundfile).
"""

import math

import librosa
import numpy as np
import soundfile as sf

EPS = 1e-8  # `FeatureClass._eps` (2020-2024).


def load_audio(path, num_channels=4, eps=EPS):
  """`_load_audio`: int16 wav -> float64 `[samples, channels]`.

  The official loader uses `scipy.io.wavfile.read`; soundfile with
  `dtype='int16'` returns the same integers.

  Args:
    path: wav file path.
    num_channels: number of leading channels kept (`audio[:, :4]`).
    eps: constant added to every sample (1e-8 in 2020-2024).

  Returns:
    `[samples, channels]` float64 and the sample rate.
  """
  audio, fs = sf.read(str(path), dtype='int16', always_2d=True)
  return audio[:, :num_channels] / 32768.0 + eps, fs


def next_greater_power_of_2(x):
  return 2 ** (x - 1).bit_length()


def nb_feat_frames(num_samples, hop_len):
  """`_get_spectrogram_for_file`: `int(len(audio) / float(hop_len))`."""
  return int(num_samples / float(hop_len))


def mel_weights(fs, nfft, nb_mel_bins):
  """`librosa.filters.mel(sr, n_fft, n_mels).T` -> `[nfft // 2 + 1, mels]`."""
  return librosa.filters.mel(sr=fs, n_fft=nfft, n_mels=nb_mel_bins).T


def spectrogram(
    audio, nfft, hop_len, win_len, nb_frames, window='hann', pad_mode=None
):
  """`_spectrogram` (2022-2024): `[frames, nfft // 2 + 1, channels]`.

  Args:
    audio: `[samples, channels]`.
    nfft: FFT size.
    hop_len: hop in samples.
    win_len: window length in samples.
    nb_frames: number of leading STFT columns kept.
    window: librosa window spec.
    pad_mode: None for librosa's default ('constant' in librosa >= 0.9).

  Returns:
    complex128 `[frames, bins, channels]`.
  """
  kwargs = {} if pad_mode is None else {'pad_mode': pad_mode}
  spectra = []
  for ch_cnt in range(audio.shape[1]):
    stft_ch = librosa.core.stft(
        np.asfortranarray(audio[:, ch_cnt]),
        n_fft=nfft,
        hop_length=hop_len,
        win_length=win_len,
        window=window,
        **kwargs,
    )
    spectra.append(stft_ch[:, :nb_frames])
  return np.array(spectra).T


def get_mel_spectrogram(linear_spectra, mel_wts):
  """`_get_mel_spectrogram` (2021-2024): `[frames, channels * mels]`."""
  nb_mel_bins = mel_wts.shape[1]
  mel_feat = np.zeros(
      (linear_spectra.shape[0], nb_mel_bins, linear_spectra.shape[-1])
  )
  for ch_cnt in range(linear_spectra.shape[-1]):
    mag_spectra = np.abs(linear_spectra[:, :, ch_cnt]) ** 2
    mel_spectra = np.dot(mag_spectra, mel_wts)
    log_mel_spectra = librosa.power_to_db(mel_spectra)
    mel_feat[:, :, ch_cnt] = log_mel_spectra
  return mel_feat.transpose((0, 2, 1)).reshape((linear_spectra.shape[0], -1))


def get_foa_intensity_vectors(linear_spectra, mel_wts, eps=EPS):
  """`_get_foa_intensity_vectors` (2022-2024): `[frames, 3 * mels]`."""
  nb_mel_bins = mel_wts.shape[1]
  w = linear_spectra[:, :, 0]
  i = np.real(np.conj(w)[:, :, np.newaxis] * linear_spectra[:, :, 1:])
  e = eps + (
      np.abs(w) ** 2 + ((np.abs(linear_spectra[:, :, 1:]) ** 2).sum(-1)) / 3.0
  )
  i_norm = i / e[:, :, np.newaxis]
  i_norm_mel = np.transpose(
      np.dot(np.transpose(i_norm, (0, 2, 1)), mel_wts), (0, 2, 1)
  )
  return i_norm_mel.transpose((0, 2, 1)).reshape(
      (linear_spectra.shape[0], nb_mel_bins * 3)
  )


def get_foa_intensity_vectors_2021(linear_spectra, mel_wts, eps=EPS):
  """seld-dcase2021 `_get_foa_intensity_vectors`: `[frames, 3 * mels]`."""
  ivx = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 3])
  ivy = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 1])
  ivz = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 2])
  normal = (
      eps
      + (
          np.abs(linear_spectra[:, :, 0]) ** 2
          + np.abs(linear_spectra[:, :, 1]) ** 2
          + np.abs(linear_spectra[:, :, 2]) ** 2
          + np.abs(linear_spectra[:, :, 3]) ** 2
      )
      / 2.0
  )
  ivx = np.dot(ivx / normal, mel_wts)
  ivy = np.dot(ivy / normal, mel_wts)
  ivz = np.dot(ivz / normal, mel_wts)
  foa_iv = np.dstack((ivx, ivy, ivz))
  return foa_iv.transpose((0, 2, 1)).reshape((linear_spectra.shape[0], -1))


def get_foa_intensity_vectors_2020(linear_spectra, mel_wts, eps=EPS):
  """seld-dcase2020 `_get_foa_intensity_vectors`: `[frames, mels * 3]`.

  Note the 2020 flattening is mel-major (index `mel * 3 + component`), unlike
  the channel-major layout of 2021-2024.
  """
  nb_mel_bins = mel_wts.shape[1]
  ivx = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 3])
  ivy = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 1])
  ivz = np.real(np.conj(linear_spectra[:, :, 0]) * linear_spectra[:, :, 2])
  normal = np.sqrt(ivx**2 + ivy**2 + ivz**2) + eps
  ivx = np.dot(ivx / normal, mel_wts)
  ivy = np.dot(ivy / normal, mel_wts)
  ivz = np.dot(ivz / normal, mel_wts)
  foa_iv = np.dstack((ivx, ivy, ivz))
  return foa_iv.reshape((linear_spectra.shape[0], nb_mel_bins * 3))


def get_mel_spectrogram_2020(linear_spectra, mel_wts):
  """seld-dcase2020 `_get_mel_spectrogram`: mel-major `[frames, mels * ch]`."""
  nb_mel_bins = mel_wts.shape[1]
  mel_feat = np.zeros(
      (linear_spectra.shape[0], nb_mel_bins, linear_spectra.shape[-1])
  )
  for ch_cnt in range(linear_spectra.shape[-1]):
    mag_spectra = np.abs(linear_spectra[:, :, ch_cnt]) ** 2
    mel_spectra = np.dot(mag_spectra, mel_wts)
    mel_feat[:, :, ch_cnt] = librosa.power_to_db(mel_spectra)
  return mel_feat.reshape(
      (linear_spectra.shape[0], nb_mel_bins * linear_spectra.shape[-1])
  )


def dcase2020_network_input(mel_spect, foa_iv, nb_mel_bins):
  """seld-dcase2020 `extract_all_feature` + `DataGenerator.generate` layout.

  `feat = concat(mel_spect, foa_iv)` (both mel-major), then the generator
  does `reshape(frames, nb_mel_bins, nb_ch)` and `transpose` to
  `[nb_ch, frames, nb_mel_bins]`.

  Args:
    mel_spect: `[frames, mels * 4]` from `get_mel_spectrogram_2020`.
    foa_iv: `[frames, mels * 3]` from `get_foa_intensity_vectors_2020` (or
      the GCC matrix for MIC).
    nb_mel_bins: mel bins.

  Returns:
    `[channels, frames, mels]` as the 2020 network receives it.
  """
  feat = np.concatenate((mel_spect, foa_iv), axis=-1)
  nb_ch = feat.shape[1] // nb_mel_bins
  return feat.reshape((feat.shape[0], nb_mel_bins, nb_ch)).transpose(2, 0, 1)


def get_gcc(linear_spectra, nb_mel_bins):
  """`_get_gcc` (2021-2024): `[frames, 6 * nb_mel_bins]` for 4 channels."""
  num_channels = linear_spectra.shape[-1]
  gcc_channels = math.comb(num_channels, 2)
  gcc_feat = np.zeros((linear_spectra.shape[0], nb_mel_bins, gcc_channels))
  cnt = 0
  for m in range(num_channels):
    for n in range(m + 1, num_channels):
      r = np.conj(linear_spectra[:, :, m]) * linear_spectra[:, :, n]
      cc = np.fft.irfft(np.exp(1.0j * np.angle(r)))
      cc = np.concatenate(
          (cc[:, -nb_mel_bins // 2 :], cc[:, : nb_mel_bins // 2]), axis=-1
      )
      gcc_feat[:, :, cnt] = cc
      cnt += 1
  return gcc_feat.transpose((0, 2, 1)).reshape((linear_spectra.shape[0], -1))


def salsalite_bins(fs, nfft, fmin_doa=50, fmax_doa=2000, fmax_spectra=9000):
  """`FeatureClass.__init__` SALSA-lite constants: lower, upper, cutoff."""
  lower_bin = int(np.floor(fmin_doa * nfft / float(fs)))
  lower_bin = max(1, lower_bin)
  upper_bin = int(np.floor(min(fmax_doa, fs // 2) * nfft / float(fs)))
  cutoff_bin = int(np.floor(fmax_spectra * nfft / float(fs)))
  assert upper_bin <= cutoff_bin
  return lower_bin, upper_bin, cutoff_bin


def get_salsalite(
    linear_spectra,
    fs,
    nfft,
    fmin_doa=50,
    fmax_doa=2000,
    fmax_spectra=9000,
    c=343,
):
  """`_get_salsalite` (2022-2024): `[frames, 7 * (cutoff - lower)]`."""
  lower_bin, upper_bin, cutoff_bin = salsalite_bins(
      fs, nfft, fmin_doa, fmax_doa, fmax_spectra
  )
  delta = 2 * np.pi * fs / (nfft * c)
  freq_vector = np.arange(nfft // 2 + 1)
  freq_vector[0] = 1
  freq_vector = freq_vector[None, :, None]

  phase_vector = np.angle(
      linear_spectra[:, :, 1:] * np.conj(linear_spectra[:, :, 0, None])
  )
  phase_vector = phase_vector / (delta * freq_vector)
  phase_vector = phase_vector[:, lower_bin:cutoff_bin, :]
  phase_vector[:, upper_bin:, :] = 0  # Official quirk: relative to lower_bin.
  phase_vector = phase_vector.transpose((0, 2, 1)).reshape(
      (phase_vector.shape[0], -1)
  )

  linear_spectra = np.abs(linear_spectra) ** 2
  for ch_cnt in range(linear_spectra.shape[-1]):
    linear_spectra[:, :, ch_cnt] = librosa.power_to_db(
        linear_spectra[:, :, ch_cnt], ref=1.0, amin=1e-10, top_db=None
    )
  linear_spectra = linear_spectra[:, lower_bin:cutoff_bin, :]
  linear_spectra = linear_spectra.transpose((0, 2, 1)).reshape(
      (linear_spectra.shape[0], -1)
  )
  return np.concatenate((linear_spectra, phase_vector), axis=-1)


def dcase2019_spectrogram(audio, nfft, hop_len, win_len, max_frames):
  """seld-dcase2019 `_spectrogram`: `[frames, nfft // 2, channels]`.

  Bin 0 is dropped (`stft_ch[1:, :max_frames]`).
  """
  nb_bins = nfft // 2
  spectra = np.zeros((max_frames, nb_bins, audio.shape[1]), dtype=complex)
  for ch_cnt in range(audio.shape[1]):
    stft_ch = librosa.core.stft(
        audio[:, ch_cnt],
        n_fft=nfft,
        hop_length=hop_len,
        win_length=win_len,
        window='hann',
    )
    spectra[:, :, ch_cnt] = stft_ch[1:, :max_frames].T
  return spectra


def dcase2019_features(spectra):
  """seld-dcase2019 saved spectrogram -> `concat(|X|, angle(X))`.

  `_extract_spectrogram_for_file` saves `spectra.reshape(frames, -1)` (bin
  major, index `bin * channels + ch`); `preprocess_features` feeds
  `np.concatenate((np.abs(f), np.angle(f)), axis=1)` to the scaler.

  Args:
    spectra: `[frames, bins, channels]` from `dcase2019_spectrogram`.

  Returns:
    `[frames, 2 * bins * channels]`.
  """
  feat_file = spectra.reshape(spectra.shape[0], -1)
  return np.concatenate((np.abs(feat_file), np.angle(feat_file)), axis=1)


def dcase2019_network_input(feat, nb_channels=4):
  """seld-dcase2019 `DataGenerator.generate`: reshape + transpose.

  `reshape(frames, feat_len, 2 * nb_ch)` then `transpose` -> `[2 * nb_ch,
  frames, feat_len]`.

  Args:
    feat: `[frames, 2 * bins * channels]` from `dcase2019_features`.
    nb_channels: audio channels.

  Returns:
    `[2 * channels, frames, bins]` as the 2019 network receives it.
  """
  feat_len = feat.shape[1] // (2 * nb_channels)
  return feat.reshape((feat.shape[0], feat_len, 2 * nb_channels)).transpose(
      2, 0, 1
  )


def seldnet_spectrogram(audio, nfft, max_frames):
  """seld-net (2018) `_spectrogram`: `[frames, nfft // 2, channels]`.

  Symmetric `np.hanning(nfft)`, hop `nfft / 2`, no centring,
  `np.fft.fft(..., norm='ortho')`, first `nfft // 2` bins.
  """
  win_len = nfft
  hop_len = nfft // 2
  nb_ch = audio.shape[1]
  hann_win = np.repeat(np.hanning(win_len)[np.newaxis].T, nb_ch, 1)
  nb_bins = nfft // 2
  spectra = np.zeros((max_frames, nb_bins, nb_ch), dtype=complex)
  for ind in range(max_frames):
    start_ind = ind * hop_len
    aud_frame = audio[start_ind + np.arange(0, win_len), :] * hann_win
    spectra[ind] = np.fft.fft(aud_frame, n=nfft, axis=0, norm='ortho')[
        :nb_bins, :
    ]
  return spectra


def extract_log_mel_spectrogram_2025(
    audio, sr, n_fft, hop_length, win_length, nb_mels
):
  """DCASE2025 `utils.extract_log_mel_spectrogram`: `[2, frames, mels]`.

  Args:
    audio: `[channels, samples]` (as `librosa.load(mono=False)` returns).
    sr: sample rate.
    n_fft: FFT size.
    hop_length: hop in samples.
    win_length: window length in samples.
    nb_mels: mel bins.

  Returns:
    `[channels, 1 + samples // hop, mels]`; top_db is applied jointly.
  """
  linear_stft = librosa.stft(
      y=audio, n_fft=n_fft, hop_length=hop_length, win_length=win_length
  ).T
  linear_stft_mag = np.abs(linear_stft) ** 2
  mel_spec = librosa.feature.melspectrogram(
      S=linear_stft_mag, sr=sr, n_mels=nb_mels
  )
  log_mel_spectrogram = librosa.power_to_db(mel_spec)
  return log_mel_spectrogram.transpose((2, 0, 1))


def unflatten_channel_major(feat, num_channels):
  """`[frames, channels * bins]` (index `ch * bins + f`) -> `[C, T, F]`."""
  frames = feat.shape[0]
  return feat.reshape(frames, num_channels, -1).transpose(1, 0, 2)


def unflatten_bin_major(feat, num_channels):
  """`[frames, bins * channels]` (index `f * C + ch`) -> `[C, T, F]`."""
  frames = feat.shape[0]
  return feat.reshape(frames, -1, num_channels).transpose(2, 0, 1)

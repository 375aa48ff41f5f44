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

"""Benchmark: jitted seld_jax.features against the official numpy/librosa code.

A batch of `--batch` x 4 channels x `--seconds` s at 24 kHz is tiled from the
real 1-s excerpts in ../shared/data/real_audio (STARSS22 and TAU-NIGENS 2020,
rotated per example). For each feature the jitted JAX function is timed after
a warm-up call (median of `--repeats` runs, input already on the device) and
the literal reference (`seld_jax.testing.feature_reference`: librosa STFT per
channel, float64, one example at a time as the official code processes one
file at a time; after a warm-up call, median of `--reference_repeats` runs)
on the same audio. Prints one JSON object.

  python -m benchmarks.features [--batch=16 --seconds=5 --repeats=10]
"""

import functools
import json
import os
import pathlib
import platform
import statistics
import time

from absl import app
from absl import flags
import jax
import librosa
import numpy as np

from seld_jax import features
from seld_jax.testing import feature_reference as ref

_BATCH = flags.DEFINE_integer('batch', 16, 'Examples per batch.')
_SECONDS = flags.DEFINE_float('seconds', 5.0, 'Seconds of audio per example.')
_REPEATS = flags.DEFINE_integer('repeats', 10, 'Timed runs of the JAX code.')
_REF_REPEATS = flags.DEFINE_integer(
    'reference_repeats', 3, 'Timed runs of the numpy/librosa reference.'
)
_DATA = flags.DEFINE_string(
    'data',
    os.environ.get(
        'SELD_SHARED_DATA',
        str(pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'),
    ),
    'The shared test-data folder (holds real_audio/).',
)

SAMPLE_RATE = 24000
EXCERPTS = (
    'starss22_mic_fold3_room21_mix001_1s.wav',
    'tau2020_mic_fold1_room1_mix001_ov1_1s.wav',
    'tau2020_foa_fold1_room1_mix001_ov1_1s.wav',
)
NFFT, HOP, WIN, MELS = 1024, 480, 960, 64


def _batch(batch, seconds, data_dir):
  """`[batch, 4, samples]` float64 tiled from the real excerpts."""
  clips = []
  for name in EXCERPTS:
    path = pathlib.Path(data_dir) / 'real_audio' / name
    if not path.exists():
      raise FileNotFoundError(f'Benchmark audio not found at {path}.')
    clips.append(ref.load_audio(path)[0].T)  # [4, 24000]
  num_samples = int(round(seconds * SAMPLE_RATE))
  out = np.empty((batch, 4, num_samples))
  for b in range(batch):
    tiled = np.concatenate(
        [clips[(b + i) % len(clips)] for i in range(-(-num_samples // 24000))],
        axis=1,
    )
    out[b] = tiled[:, :num_samples]
  return out


# The official pipelines, one example (file) at a time, float64.
def _reference_foa(audio):
  spec = ref.spectrogram(audio.T, NFFT, HOP, WIN, audio.shape[1] // HOP)
  mel = ref.mel_weights(SAMPLE_RATE, NFFT, MELS)
  return np.concatenate(
      [
          ref.get_mel_spectrogram(spec, mel),
          ref.get_foa_intensity_vectors(spec, mel),
      ],
      axis=-1,
  )


def _reference_mic(audio):
  spec = ref.spectrogram(audio.T, NFFT, HOP, WIN, audio.shape[1] // HOP)
  mel = ref.mel_weights(SAMPLE_RATE, NFFT, MELS)
  return np.concatenate(
      [ref.get_mel_spectrogram(spec, mel), ref.get_gcc(spec, MELS)], axis=-1
  )


def _reference_salsa(audio):
  spec = ref.spectrogram(audio.T, NFFT, HOP, WIN, audio.shape[1] // HOP)
  return ref.get_salsalite(spec, SAMPLE_RATE, NFFT)


REFERENCES = {
    'foa_logmel_iv': (_reference_foa, 7),
    'mic_logmel_gcc': (_reference_mic, 10),
    'salsa_lite': (_reference_salsa, 7),
}


def _time(fn, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv):
  del argv
  audio = _batch(_BATCH.value, _SECONDS.value, _DATA.value)
  audio_seconds = audio.shape[0] * audio.shape[2] / SAMPLE_RATE
  x = jax.device_put(audio.astype(np.float32))
  results = {}
  for name, (reference, channels) in REFERENCES.items():
    fn = jax.jit(functools.partial(features.FEATURES[name], sample_rate=24000))
    start = time.perf_counter()
    out = fn(x).block_until_ready()
    compile_s = time.perf_counter() - start
    jax_s = _time(lambda fn=fn: fn(x).block_until_ready(), _REPEATS.value)
    expected = []

    def run_reference(reference=reference, expected=expected):
      expected[:] = [reference(example) for example in audio]

    reference(audio[0])  # Warm-up (librosa's first STFT call is slow).
    ref_s = _time(run_reference, _REF_REPEATS.value)
    # Official flat [T, C*F] -> [C, T, F]; agreement as a sanity check.
    expected = np.stack(
        [ref.unflatten_channel_major(e, channels) for e in expected]
    )
    out = np.asarray(out)
    scale = np.abs(expected[:, 4:]).max()
    results[name] = {
        'output_shape': list(out.shape),
        'jax_compile_and_first_run_s': round(compile_s, 4),
        'jax_s_per_batch': round(jax_s, 5),
        'reference_s_per_batch': round(ref_s, 4),
        'speedup': round(ref_s / jax_s, 1),
        'jax_audio_s_per_s': round(audio_seconds / jax_s, 1),
        'reference_audio_s_per_s': round(audio_seconds / ref_s, 1),
        'max_abs_diff_spectral_db': float(
            np.abs(out[:, :4] - expected[:, :4]).max()
        ),
        'max_rel_diff_spatial': float(
            np.abs(out[:, 4:] - expected[:, 4:]).max() / scale
        ),
    }
  report = {
      'batch': {
          'examples': audio.shape[0],
          'channels': audio.shape[1],
          'seconds_per_example': audio.shape[2] / SAMPLE_RATE,
          'sample_rate': SAMPLE_RATE,
          'audio_seconds': audio_seconds,
          'source': 'tiled real 24 kHz excerpts (STARSS22, TAU-NIGENS 2020)',
      },
      'timing': (
          f'median of {_REPEATS.value} jitted runs after warm-up, input on '
          f'device; reference: median of {_REF_REPEATS.value} runs after '
          'warm-up'
      ),
      'machine': {
          'cpu_count': os.cpu_count(),
          'sched_affinity_cpus': len(os.sched_getaffinity(0)),
          # Other processes compete for the CPUs when this is above cpu_count.
          'load_average_1m_at_end': round(os.getloadavg()[0], 2),
          'processor': platform.processor() or platform.machine(),
          'python': platform.python_version(),
          'jax': jax.__version__,
          'jax_backend': jax.default_backend(),
          'devices': [str(d) for d in jax.devices()],
          'numpy': np.__version__,
          'librosa': librosa.__version__,
      },
      'results': results,
  }
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main)

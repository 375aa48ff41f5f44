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

"""Benchmark: bytes on disk per hour of audio, ours vs feature dumps.

Ours: the ArrayRecord files of a built dataset (raw int16 PCM, events and
metadata per recording, compressed by ArrayRecord) divided by the hours of
audio they hold (every split; the audio length is read from the records).
Unless `--data_dir`/`--dataset` name a built dataset, a small
`synthetic_seld` one is rendered into a temporary folder first
(`--num_train` + `--num_test` scenes of `--duration` s, a custom builder
config).

The reference pipelines (DCASE 2020-2024, `cls_feature_class.py`) keep the
wav files and write, per recording, the 7 x 64 log-mel + intensity-vector
features at 50 frames/s as .npy, once unnormalised (`foa_dev/`) and once
normalised (`foa_dev_norm/`), and the multi-ACCDOA labels at 10 frames/s
([T, 6, 4, 13], `foa_dev_adpit_label/`). The code computes these in float64
(numpy/librosa defaults); the table gives the float32 figure (7 x 64 x 50 x
4 bytes per second) as well. `--write_npy` also writes the actual .npy files
of the first training recording (features from the float64 reference
implementation, `seld_jax.testing.feature_reference`) and reports their
sizes per hour. Prints one JSON object.

  python -m benchmarks.storage [--data_dir=D --dataset=synthetic_seld/foa]
"""

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow_datasets as tfds

from seld_jax import records

# The dataset flags, shared with benchmarks/end_to_end.py.
_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'TFDS data dir of a built dataset; else build one.'
)
_DATASET = flags.DEFINE_string(
    'dataset', None, 'The built dataset `name/config` in --data_dir.'
)
_NUM_TRAIN = flags.DEFINE_integer('num_train', 12, 'Scenes to render (train).')
_NUM_TEST = flags.DEFINE_integer('num_test', 2, 'Scenes to render (test).')
_DURATION = flags.DEFINE_float('duration', 120.0, 'Seconds per scene.')
_WRITE_NPY = flags.DEFINE_bool(
    'write_npy', True, 'Write the reference .npy files of one recording.'
)

SAMPLE_RATE = 24000
CHANNELS = 4
FEATURE_CHANNELS, MEL_BINS, FEATURE_FPS = 7, 64, 50
LABEL_FPS, TRACKS, ELEMENTS, CLASSES = 10, 6, 4, 13
MB = 1e6


def build_synthetic(
    data_dir: str,
    num_train: int,
    num_test: int,
    duration: float,
    seed: int = 0,
    name: str = 'bench',
) -> str:
  """Renders a small synthetic_seld dataset; returns its `name/config`."""
  # pylint: disable=g-import-not-at-top
  from data_builders.synthetic_seld import synthetic_seld_dataset_builder as sb

  # pylint: enable=g-import-not-at-top
  config = sb.SyntheticSeldConfig(
      name=name,
      description='benchmark subset',
      num_train=num_train,
      num_test=num_test,
      duration=duration,
      seed=seed,
      train_rooms=max(1, min(8, num_train)),
      test_rooms=max(1, min(4, num_test)),
  )
  builder = sb.Builder(
      config=config, data_dir=data_dir, file_format='array_record'
  )
  # TFDS prints its progress to stdout; keep stdout for the JSON report.
  with contextlib.redirect_stdout(sys.stderr):
    builder.download_and_prepare(file_format='array_record')
  return f'synthetic_seld/{name}'


def dataset_from_flags(tmp: str) -> tuple[str, str | None, bool]:
  """(dataset, data_dir, built here) from the flags; builds into `tmp`."""
  data_dir, dataset = _DATA_DIR.value, _DATASET.value
  if dataset is not None:
    return dataset, data_dir, False
  if data_dir is not None:
    raise app.UsageError('--data_dir needs --dataset.')
  data_dir = os.path.join(tmp, 'tfds')
  dataset = build_synthetic(
      data_dir, _NUM_TRAIN.value, _NUM_TEST.value, _DURATION.value
  )
  return dataset, data_dir, True


def dataset_dir(dataset: str, data_dir: str | None) -> str:
  """The folder holding the dataset's record files."""
  builder = tfds.builder(dataset, data_dir=data_dir)
  return os.fspath(builder.data_dir)


def audio_seconds(dataset: str, data_dir: str | None) -> dict[str, dict]:
  """Per split: recordings, audio seconds, channels and sample dtype."""
  builder = tfds.builder(dataset, data_dir=data_dir)
  out = {}
  for split in builder.info.splits:
    source = tfds.data_source(dataset, split=split, data_dir=data_dir)
    seconds, channels, dtypes = 0.0, set(), set()
    for i in range(len(source)):
      ex = source[i]
      audio = np.asarray(ex['audio'])
      seconds += audio.shape[0] / float(ex['sample_rate'])
      channels.add(int(audio.shape[1]))
      dtypes.add(str(audio.dtype))
    out[split] = {
        'recordings': len(source),
        'audio_seconds': round(seconds, 3),
        'channels': sorted(channels),
        'dtype': sorted(dtypes),
    }
  return out


def record_files(directory: str) -> dict[str, dict]:
  """Sizes of the files of a built dataset (apparent and allocated)."""
  out = {}
  for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if os.path.isfile(path):
      st = os.stat(path)
      out[name] = {'bytes': st.st_size, 'allocated': st.st_blocks * 512}
  return out


def reference_formula() -> dict:
  """Bytes per hour of the reference feature and label dumps."""
  feat_f32 = FEATURE_CHANNELS * MEL_BINS * FEATURE_FPS * 4
  feat_f64 = 2 * feat_f32
  label_f64 = LABEL_FPS * TRACKS * ELEMENTS * CLASSES * 8
  wav = CHANNELS * 2 * SAMPLE_RATE
  hour = 3600
  return {
      'features_float32_bytes_per_s': feat_f32,
      'features_float32_mb_per_h': feat_f32 * hour / MB,
      'features_float32_plus_labels_mb_per_h': (
          (feat_f32 + label_f64) * hour / MB
      ),
      'features_as_coded_float64_mb_per_h': feat_f64 * hour / MB,
      'labels_adpit_float64_mb_per_h': label_f64 * hour / MB,
      'as_coded_unnormalised_plus_normalised_plus_labels_mb_per_h': (
          (2 * feat_f64 + label_f64) * hour / MB
      ),
      'wav_pcm16_mb_per_h': wav * hour / MB,
      'as_coded_total_with_wavs_mb_per_h': (
          (2 * feat_f64 + label_f64 + wav) * hour / MB
      ),
  }


def write_reference_npy(
    dataset: str, data_dir: str | None, out_dir: str
) -> dict:
  """Writes the reference .npy files of the first training recording."""
  # pylint: disable=g-import-not-at-top
  from seld_jax import targets
  from seld_jax.testing import feature_reference as ref

  # pylint: enable=g-import-not-at-top
  source = tfds.data_source(dataset, split='train', data_dir=data_dir)
  ex = source[0]
  audio = records.audio_from_example(ex).T.astype(np.float64) + ref.EPS
  seconds = audio.shape[0] / float(ex['sample_rate'])
  hop, win, nfft = 480, 960, 1024
  frames = ref.nb_feat_frames(audio.shape[0], hop)
  start = time.perf_counter()
  spec = ref.spectrogram(audio, nfft, hop, win, frames)
  mel = ref.mel_weights(SAMPLE_RATE, nfft, MEL_BINS)
  feat = np.concatenate(
      [
          ref.get_mel_spectrogram(spec, mel),
          ref.get_foa_intensity_vectors(spec, mel),
      ],
      axis=-1,
  )  # [T, 448] float64, as the official code saves it
  extract_s = time.perf_counter() - start
  label_frames = int(audio.shape[0] / 2400)
  events = records.events_from_example(ex)
  label = targets.multi_accdoa(events, label_frames, CLASSES)
  files = {
      'features_float64.npy': feat,
      'features_float32.npy': feat.astype(np.float32),
      'adpit_label_float64.npy': label.astype(np.float64),
  }
  out = {
      'recording_seconds': round(seconds, 3),
      'feature_shape': list(feat.shape),
      'label_shape': list(label.shape),
      'reference_extraction_s': round(extract_s, 2),
  }
  for name, array in files.items():
    path = os.path.join(out_dir, name)
    np.save(path, array)
    size = os.path.getsize(path)
    out[name] = {
        'bytes': size,
        'mb_per_h': round(size / seconds * 3600 / MB, 2),
    }
  return out


def main(argv):
  del argv
  tmp = tempfile.mkdtemp(prefix='seld_storage_')
  try:
    start = time.perf_counter()
    dataset, data_dir, built = dataset_from_flags(tmp)
    build_s = round(time.perf_counter() - start, 1) if built else None
    directory = dataset_dir(dataset, data_dir)
    files = record_files(directory)
    splits = audio_seconds(dataset, data_dir)
    hours = sum(s['audio_seconds'] for s in splits.values()) / 3600
    record_bytes = sum(
        f['bytes'] for n, f in files.items() if '.array_record' in n
    )
    record_alloc = sum(
        f['allocated'] for n, f in files.items() if '.array_record' in n
    )
    all_bytes = sum(f['bytes'] for f in files.values())
    formula = reference_formula()
    ours_mb_h = record_bytes / hours / MB
    report = {
        'benchmark': 'storage',
        'dataset': dataset,
        'built_here_s': build_s,
        'splits': splits,
        'audio_hours': round(hours, 4),
        'files': files,
        'ours': {
            'array_record_bytes': record_bytes,
            'array_record_mb_per_audio_h': round(ours_mb_h, 2),
            'allocated_mb_per_audio_h': round(record_alloc / hours / MB, 2),
            'all_files_mb_per_audio_h': round(all_bytes / hours / MB, 2),
            'vs_pcm16_wav': round(ours_mb_h / formula['wav_pcm16_mb_per_h'], 3),
        },
        'reference_formula': {k: round(v, 2) for k, v in formula.items()},
        'ratios': {
            'reference_float32_features_plus_labels_over_ours': round(
                formula['features_float32_plus_labels_mb_per_h'] / ours_mb_h,
                3,
            ),
            'reference_as_coded_dumps_over_ours': round(
                formula[
                    'as_coded_unnormalised_plus_normalised_plus_labels_mb_per_h'
                ]
                / ours_mb_h,
                3,
            ),
            'reference_as_coded_with_wavs_over_ours': round(
                formula['as_coded_total_with_wavs_mb_per_h'] / ours_mb_h, 3
            ),
        },
        'notes': (
            'MB = 1e6 bytes. Ours holds the raw audio (lossless) and labels, '
            'so features of any kind can be computed from it; the reference '
            'dumps hold one feature type and still need the wavs to change '
            'it. Compression depends on the audio: synthetic scenes are not '
            'real recordings.'
        ),
    }
    if _WRITE_NPY.value:
      npy_dir = os.path.join(tmp, 'npy')
      os.makedirs(npy_dir)
      report['reference_npy_one_recording'] = write_reference_npy(
          dataset, data_dir, npy_dir
      )
    print(json.dumps(report, indent=2))
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
  app.run(main)

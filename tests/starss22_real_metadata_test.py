"""Builds starss22 from the 67 genuine STARSS22 metadata files.

The CSVs are copied from ../shared/data/starss22 into a temporary manual_dir
next to silent 4-channel int16 wavs that cover the last labelled frame plus
half a frame. Every record's events must equal the CSV, row for row, and its
event count must equal an independent count from the CSV text.

Audio stubs. At the real 24 kHz the 67 stubs (169 minutes) are 1.95 GB of
int16, written, serialised and read back: measured 38 s (3.5 s writing the
wavs, 27.6 s building, 7 s reading back) and 3.7 GB of temporary disk on the
2-core test machine, too much for the suite. The full build
therefore uses a custom config of the same builder with `sample_rate=240`:
every validation (pairing, headers, PCM subtype, audio length against the
last label frame, at 24 samples per label frame) runs unchanged, and the
labels, which are what this test checks, do not depend on the rate. The
production `foa` config (24 kHz) is built from the three longest recordings
(up to 333.5 s) to show that the real rate goes through the same path.
"""

import pathlib
import shutil

from conftest import shared_data_path
import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from data_builders.starss22 import starss22_dataset_builder
from seld_jax import builder_utils
from seld_jax import formats
from seld_jax import records

FOLDERS = ('dev-train-sony', 'dev-train-tau')


def _csv_event_count(path) -> int:
  """Contiguous frame runs per (class, source), from the CSV text alone."""
  runs, last = 0, {}
  for line in path.read_text().splitlines():
    if not line.strip():
      continue
    cells = line.split(',')
    key, frame = (int(cells[1]), int(cells[2])), int(cells[0])
    if last.get(key) not in (frame - 1, frame):  # repeats continue an event
      runs += 1
    last[key] = frame
  return runs


def _last_frame(path) -> int:
  lines = [l for l in path.read_text().splitlines() if l.strip()]
  return max(int(l.split(',')[0]) for l in lines)


def _manual_dir(root, sample_rate, stems=None):
  """Copies the CSVs and writes silent wavs covering their last frame."""
  src = shared_data_path('starss22', 'metadata_dev')
  csvs = {}
  for folder in FOLDERS:
    for csv in sorted((src / folder).glob('*.csv')):
      if stems is not None and csv.stem not in stems:
        continue
      dst = root / 'metadata_dev' / folder / csv.name
      dst.parent.mkdir(parents=True, exist_ok=True)
      shutil.copyfile(csv, dst)
      hop = sample_rate // 10
      num_samples = (_last_frame(csv) + 1) * hop + hop // 2
      wav = root / 'foa_dev' / folder / f'{csv.stem}.wav'
      wav.parent.mkdir(parents=True, exist_ok=True)
      soundfile.write(
          wav, np.zeros((num_samples, 4), np.int16), sample_rate, 'PCM_16'
      )
      csvs[f'{folder}/{csv.stem}'] = csv
  return csvs


def _build(manual_dir, data_dir, config):
  builder = starss22_dataset_builder.Builder(data_dir=data_dir, config=config)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
  )
  return builder


def _check(builder, csvs):
  seen = set()
  for ex in tfds.as_numpy(builder.as_dataset(split='train')):
    rid = records.as_text(ex['id'])
    csv = csvs[rid]
    table = records.events_from_example(ex)
    expected = formats.read_metadata(csv, 'starss22')
    assert table.equals(expected, atol=0), rid
    assert table.num_events() == _csv_event_count(csv), rid
    assert len(table) == len(csv.read_text().splitlines()), rid
    assert ex['num_frames'] == _last_frame(csv) + 2, rid
    assert records.as_text(ex['provenance']['metadata_path']) == (
        f'metadata_dev/{rid}.csv'
    )
    seen.add(rid)
  assert seen == set(csvs)


def test_all_67_real_files_at_a_reduced_sample_rate(tmp_path):
  csvs = _manual_dir(tmp_path / 'manual', sample_rate=240)
  assert len(csvs) == 67
  config = builder_utils.SeldConfig(
      name='foa_240hz', audio_format='foa', sample_rate=240
  )
  builder = _build(tmp_path / 'manual', tmp_path / 'data', config)
  assert builder.info.splits['train'].num_examples == 67
  assert set(builder.info.splits) == {'train'}
  _check(builder, csvs)
  total_events = sum(_csv_event_count(c) for c in csvs.values())
  assert total_events > 1000


def test_three_longest_files_at_24_khz(tmp_path):
  src = shared_data_path('starss22', 'metadata_dev')
  longest = sorted(src.glob('*/*.csv'), key=_last_frame)[-3:]
  csvs = _manual_dir(
      tmp_path / 'manual', sample_rate=24000, stems={p.stem for p in longest}
  )
  assert len(csvs) == 3
  builder = _build(tmp_path / 'manual', tmp_path / 'data', 'foa')
  _check(builder, csvs)


def test_audio_shorter_than_the_real_labels_is_rejected(tmp_path):
  csvs = _manual_dir(tmp_path / 'manual', sample_rate=240)
  rid = sorted(csvs)[5]
  wav = tmp_path / 'manual' / 'foa_dev' / f'{rid}.wav'
  last = _last_frame(csvs[rid])
  soundfile.write(wav, np.zeros((last * 24, 4), np.int16), 240, 'PCM_16')
  config = builder_utils.SeldConfig(
      name='foa_240hz', audio_format='foa', sample_rate=240
  )
  with pytest.raises(
      builder_utils.DataValidationError,
      match=f'metadata_dev/{rid}.csv: labels reach frame {last} ',
  ):
    _build(tmp_path / 'manual', tmp_path / 'data', config)
  assert not list(pathlib.Path(tmp_path / 'data').rglob('1.0.0*'))

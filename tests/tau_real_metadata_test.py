"""Builds tau_spatial_2019 and tau_nigens_2021 from genuine metadata files.

The 4 real DCASE2019 CSVs and the real TAU-NIGENS 2021 CSV from
../shared/data are copied into a temporary manual_dir next to silent wavs of
the datasets' real length (60 s, at their real 48 kHz / 24 kHz rates). The
DCASE2019 files hold events that run past the end of the 60-s recording
(up to 60.69 s): those rows must be dropped as the official 3000-frame label
matrix drops them, every other row kept exactly.
"""

import shutil

from conftest import shared_data_path
import numpy as np
import soundfile
import tensorflow_datasets as tfds

from data_builders.tau_nigens_2021 import tau_nigens_2021_dataset_builder
from data_builders.tau_spatial_2019 import tau_spatial_2019_dataset_builder
from seld_jax import formats
from seld_jax import records


def _silence(path, seconds, rate):
  path.parent.mkdir(parents=True, exist_ok=True)
  soundfile.write(
      path, np.zeros((int(seconds * rate), 4), np.int16), rate, 'PCM_16'
  )


def _build(builder_cls, manual_dir, data_dir):
  builder = builder_cls(data_dir=data_dir, config='foa')
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
  )
  return builder


def test_dcase2019_real_files(tmp_path):
  src = shared_data_path('dcase2019', 'metadata_dev')
  manual = tmp_path / 'manual'
  csvs = sorted(src.glob('*.csv'))
  assert len(csvs) == 4
  for csv in csvs:
    (manual / 'metadata_dev').mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv, manual / 'metadata_dev' / csv.name)
    _silence(manual / 'foa_dev' / f'{csv.stem}.wav', 60.0, 48000)
  builder = _build(
      tau_spatial_2019_dataset_builder.Builder, manual, tmp_path / 'data'
  )
  assert builder.info.splits['split1'].num_examples == 4
  dropped = 0
  for ex in tfds.as_numpy(builder.as_dataset(split='split1')):
    rid = records.as_text(ex['id'])
    assert ex['num_frames'] == 3000 and ex['sample_rate'] == 48000
    full = formats.read_metadata(src / f'{rid}.csv', 'dcase2019')
    table = records.events_from_example(ex)
    assert table.label_rate == 50.0
    assert table.equals(full.select(full.frame < 3000), atol=0), rid
    dropped += int(np.sum(full.frame >= 3000))
    assert records.as_text(ex['provenance']['split_folder']) == ''
    assert ex['provenance']['room'] == int(rid.split('_ir')[1][0])
  # split1_ir0_ov2_11 (drawer to 60.69 s) and split1_ir1_ov2_31 (phone to
  # 60.33 s): frames 3000..3035 and 3000..3017.
  assert dropped == 36 + 18


def test_tau_nigens_2021_real_file(tmp_path):
  src = shared_data_path('tau_nigens_2021', 'metadata_dev')
  manual = tmp_path / 'manual'
  csv = src / 'fold1_room1_mix001.csv'
  (manual / 'metadata_dev' / 'dev-train').mkdir(parents=True)
  shutil.copyfile(csv, manual / 'metadata_dev' / 'dev-train' / csv.name)
  _silence(manual / 'foa_dev' / 'dev-train' / f'{csv.stem}.wav', 60.0, 24000)
  builder = _build(
      tau_nigens_2021_dataset_builder.Builder, manual, tmp_path / 'data'
  )
  (ex,) = list(tfds.as_numpy(builder.as_dataset(split='train')))
  assert records.as_text(ex['id']) == 'dev-train/fold1_room1_mix001'
  table = records.events_from_example(ex)
  expected = formats.read_metadata(csv, 'dcase2021')
  assert table.equals(expected, atol=0)
  assert len(table) == 1052 and table.num_events() == 37
  assert table.source.max() == 16  # track indices up to 16 in this file
  assert ex['num_frames'] == 600 and table.last_frame() == 599

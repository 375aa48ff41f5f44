"""Tests for seld_jax.records and seld_jax.builder_utils (builder validation).

Each validation case breaks one file of a copy of the starss23 dummy data,
builds, and checks the error names the file and that no dataset version
directory (complete or `incomplete.*`) is left in the data dir.
"""

import pathlib
import shutil

import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from data_builders.starss23 import starss23_dataset_builder
from seld_jax import builder_utils
from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax import records
from seld_jax.testing import dummy_data

DUMMY = pathlib.Path(starss23_dataset_builder.__file__).parent / 'dummy_data'
TRAIN_WAV = 'foa_dev/dev-train-sony/fold3_room21_mix001.wav'
TRAIN_CSV = 'metadata_dev/dev-train-sony/fold3_room21_mix001.csv'
TEST_WAV = 'foa_dev/dev-test-tau/fold4_room2_mix001.wav'


@pytest.fixture
def manual_dir(tmp_path):
  root = tmp_path / 'manual'
  shutil.copytree(DUMMY, root)
  return root


def _build(manual_dir, data_dir, config='foa'):
  builder = starss23_dataset_builder.Builder(data_dir=data_dir, config=config)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
  )
  return builder


def _assert_nothing_written(data_dir):
  root = pathlib.Path(data_dir) / 'starss23'
  leftovers = [
      p for p in root.rglob('*') if '1.0.0' in p.name or 'incomplete' in p.name
  ]
  assert not leftovers, leftovers


def _build_fails(manual_dir, tmp_path, match, config='foa', error=None):
  data_dir = tmp_path / 'data'
  with pytest.raises(error or builder_utils.DataValidationError, match=match):
    _build(manual_dir, data_dir, config)
  _assert_nothing_written(data_dir)


# Records
# -----------------------------------------------------------------------------


def test_example_round_trip_through_tfds_encoding():
  table = dummy_data.random_events(30, 13, seed=3)
  table = table.replace(distance=table.distance + 1e-7)  # not float32-exact
  audio = (np.arange(4000 * 2, dtype=np.int32).reshape(4000, 2) - 4000) << 12
  feats = records.features_dict(2, 8000, audio_dtype=np.int32)
  ex = records.example_from(
      id='dev-train-x/fold1_room2_mix003',
      audio=audio,
      sample_rate=8000,
      events=table,
      provenance={'dataset': 'x', 'fold': 1, 'format': 'mic'},
  )
  decoded = feats.deserialize_example_np(feats.serialize_example(ex))
  back = records.events_from_example(decoded)
  assert back.equals(table, atol=0)
  assert back.num_frames == 5  # ceil(4000 samples * 10 fps / 8000 Hz)
  np.testing.assert_array_equal(decoded['audio'], audio)
  np.testing.assert_array_equal(
      records.audio_from_example(decoded, 10, 20),
      audio[10:20].T.astype(np.float32) * 2.0**-31,
  )
  assert records.as_text(decoded['id']) == 'dev-train-x/fold1_room2_mix003'
  assert decoded['provenance']['room'] == -1
  assert bool(decoded['provenance']['labeled'])


def test_example_rejects_paths_and_bad_audio():
  table = events_lib.EventTable.empty()
  kwargs = dict(sample_rate=24000, events=table, provenance={})
  with pytest.raises(ValueError, match='relative'):
    records.example_from(
        id='/abs/path', audio=np.zeros((4, 1), np.int16), **kwargs
    )
  with pytest.raises(ValueError, match='int16 or int32'):
    records.example_from(id='a', audio=np.zeros((4, 1), np.float32), **kwargs)
  with pytest.raises(ValueError, match='unknown provenance'):
    records.example_from(
        id='a',
        audio=np.zeros((4, 1), np.int16),
        sample_rate=24000,
        events=table,
        provenance={'folder': 'x'},
    )


@pytest.mark.parametrize(
    'num_samples, rate, label_rate, expected',
    [
        (24000, 24000, 10, 10),
        (24001, 24000, 10, 11),
        (23999, 24000, 10, 10),
        (1024, 44100, 44100 / 512, 2),
        (1025, 44100, 44100 / 512, 3),
        (48000 * 60, 48000, 50, 3000),
    ],
)
def test_num_label_frames(num_samples, rate, label_rate, expected):
  assert records.num_label_frames(num_samples, rate, label_rate) == expected


def test_parse_recording_name():
  assert builder_utils.parse_recording_name('fold3_room21_mix001') == {
      'fold': 3,
      'room': 21,
  }
  assert builder_utils.parse_recording_name('fold1_room1_mix001_ov1') == {
      'fold': 1,
      'room': 1,
  }
  assert builder_utils.parse_recording_name('split1_ir0_ov1_1') == {
      'fold': 1,
      'room': 0,
  }
  assert builder_utils.parse_recording_name('mix001') == {
      'fold': -1,
      'room': -1,
  }


# Validation errors, nothing half-written
# -----------------------------------------------------------------------------


def test_corrupt_wav(manual_dir, tmp_path):
  (manual_dir / TRAIN_WAV).write_bytes(b'RIFF\x00\x00 this is not audio' * 9)
  _build_fails(manual_dir, tmp_path, f'{TRAIN_WAV}: cannot read the audio file')


def test_truncated_wav(manual_dir, tmp_path):
  path = manual_dir / TRAIN_WAV
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])
  _build_fails(
      manual_dir,
      tmp_path,
      f'{TRAIN_WAV}: truncated: the header declares 24000 samples, the file '
      'holds 11997',
  )


def test_wrong_channel_count(manual_dir, tmp_path):
  dummy_data.write_wav(manual_dir / TEST_WAV, 19200, 2, 24000)
  _build_fails(manual_dir, tmp_path, f'{TEST_WAV}: 2 channels, expected 4')


def test_wrong_sample_rate(manual_dir, tmp_path):
  dummy_data.write_wav(manual_dir / TEST_WAV, 38400, 4, 48000)
  _build_fails(
      manual_dir, tmp_path, f'{TEST_WAV}: sample rate 48000 Hz, expected 24000'
  )


def test_24_bit_wav_needs_the_int32_dtype(manual_dir, tmp_path):
  dummy_data.write_wav(manual_dir / TEST_WAV, 19200, 4, 24000, subtype='PCM_24')
  _build_fails(
      manual_dir, tmp_path, f'{TEST_WAV}: PCM subtype PCM_24 cannot be stored'
  )


def test_int32_config_keeps_24_bit_audio_losslessly(manual_dir, tmp_path):
  for wav in (manual_dir / 'foa_dev').rglob('*.wav'):
    audio, rate = soundfile.read(wav)
    soundfile.write(wav, audio * 0.7, rate, subtype='PCM_24')
  config = builder_utils.SeldConfig(
      name='foa_int32', audio_format='foa', audio_dtype='int32'
  )
  builder = _build(manual_dir, tmp_path / 'data', config)
  found = dummy_data.check_records_match_files(
      builder, manual_dir, 'starss23', ['train', 'test']
  )
  assert len(found) == 5
  ex = found['dev-train-sony/fold3_room21_mix001']['example']
  assert ex['audio'].dtype == np.int32
  assert records.as_text(ex['provenance']['pcm_subtype']) == 'PCM_24'
  assert np.all(ex['audio'] % 256 == 0)  # 24-bit samples, left-aligned
  assert np.any(ex['audio'] % 65536 != 0)  # ... with more than 16 bits


def test_csv_without_wav(manual_dir, tmp_path):
  (manual_dir / TRAIN_WAV).unlink()
  _build_fails(
      manual_dir,
      tmp_path,
      f'{TRAIN_CSV}: 1 metadata file\\(s\\) without a audio file: '
      f'{TRAIN_CSV} \\(expected {TRAIN_WAV}\\)',
  )


def test_wav_without_csv(manual_dir, tmp_path):
  (manual_dir / TRAIN_CSV).unlink()
  _build_fails(
      manual_dir,
      tmp_path,
      f'{TRAIN_WAV}: 1 audio file\\(s\\) without a metadata file: '
      f'{TRAIN_WAV} \\(expected {TRAIN_CSV}\\)',
  )


def test_wav_without_video(manual_dir, tmp_path):
  (manual_dir / 'video_dev/dev-test-tau/fold4_room2_mix001.mp4').unlink()
  _build_fails(
      manual_dir,
      tmp_path,
      'audio file\\(s\\) without a video file: '
      f'{TEST_WAV} \\(expected video_dev/dev-test-tau/fold4_room2_mix001.mp4',
      config='foa_video',
  )


def test_malformed_csv_row(manual_dir, tmp_path):
  path = manual_dir / TRAIN_CSV
  lines = path.read_text().splitlines()
  lines[2] = '7,1,0,45'  # 4 columns
  path.write_text('\n'.join(lines) + '\n')
  _build_fails(
      manual_dir,
      tmp_path,
      f'{path}:3: expected 6 columns',
      error=formats.FormatError,
  )


def test_labels_past_the_end_of_the_audio(manual_dir, tmp_path):
  path = manual_dir / TRAIN_CSV
  path.write_text(path.read_text() + '10,1,5,30,0,200\n')  # audio: 10 frames
  _build_fails(
      manual_dir,
      tmp_path,
      f'{TRAIN_CSV}: labels reach frame 10 \\(1.00 s\\) but {TRAIN_WAV} '
      'covers only 10 label frames',
  )
  # A config may allow a known overhang.
  config = builder_utils.SeldConfig(
      name='foa_overhang', audio_format='foa', max_label_overhang_frames=1
  )
  builder = _build(manual_dir, tmp_path / 'data2', config)
  assert builder.info.splits['train'].num_examples == 3
  for ex in tfds.as_numpy(builder.as_dataset(split='train')):
    table = records.events_from_example(ex)
    assert table.last_frame() < ex['num_frames']  # the overhang row dropped
    if records.as_text(ex['id']) == 'dev-train-sony/fold3_room21_mix001':
      expected = formats.read_metadata(path, 'starss23')
      assert table.equals(expected.select(expected.frame < 10))


def test_failure_while_writing_leaves_no_partial_dataset(
    manual_dir, tmp_path, monkeypatch
):
  """An I/O error after some examples were written (headers were fine)."""
  calls = []
  read_wav = builder_utils.read_wav

  def flaky_read_wav(info, dtype):
    calls.append(info.path)
    if len(calls) == 4:
      raise builder_utils.DataValidationError(info.path, 'simulated I/O error')
    return read_wav(info, dtype)

  monkeypatch.setattr(builder_utils, 'read_wav', flaky_read_wav)
  _build_fails(manual_dir, tmp_path, 'simulated I/O error')
  assert len(calls) == 4  # Earlier splits had been written to the temp dir.


def test_missing_manual_dir_folders(tmp_path):
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'README').write_text('x')
  _build_fails(tmp_path / 'empty', tmp_path, 'no starss23 folders found')

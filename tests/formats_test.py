"""Tests for seld_jax.formats: every metadata format <-> EventTable."""

import math

from conftest import shared_data_path
import numpy as np
import pytest

from seld_jax import events as events_lib
from seld_jax import formats

EventTable = events_lib.EventTable


def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return path


# Real third-party files
# -----------------------------------------------------------------------------


def _starss22_files():
  root = shared_data_path('starss22', 'metadata_dev')
  return sorted(root.glob('*/*.csv'))


def test_all_starss22_files_parse_with_row_and_event_counts():
  files = _starss22_files()
  assert len(files) == 67
  total = 0
  for path in files:
    rows = [l.split(',') for l in path.read_text().splitlines() if l.strip()]
    table = formats.read_metadata(path)
    assert formats.detect_format(path) == 'starss22'
    assert len(table) == len(rows), path
    # Independent event count: contiguous frame runs per (class, source).
    runs = 0
    last = {}
    for r in rows:
      key, frame = (int(r[1]), int(r[2])), int(r[0])
      # Real files repeat some rows verbatim (same frame, class and source):
      # a repeat continues the event.
      if last.get(key) not in (frame - 1, frame):
        runs += 1
      last[key] = frame
    assert table.num_events() == runs, path
    np.testing.assert_array_equal(table.frame, [int(r[0]) for r in rows])
    np.testing.assert_array_equal(table.azimuth, [float(r[3]) for r in rows])
    np.testing.assert_array_equal(table.elevation, [float(r[4]) for r in rows])
    assert np.all(np.isnan(table.distance))
    assert table.class_index.max() < 13
    total += len(table)
  assert total == 118627  # `cat */*.csv | wc -l` on the 67 files


def test_starss22_same_class_overlaps_are_kept():
  # Real annotations contain frames with two sources of one class.
  found = False
  for path in _starss22_files():
    t = formats.read_metadata(path)
    key = t.frame * 100 + t.class_index
    _, counts = np.unique(key, return_counts=True)
    if counts.max() >= 2:
      found = True
      break
  assert found


def test_first_starss22_file_values():
  path = shared_data_path(
      'starss22', 'metadata_dev', 'dev-train-sony', 'fold3_room21_mix001.csv'
  )
  t = formats.read_metadata(path, 'starss22')
  assert len(t) == 788
  assert (t.frame[0], t.class_index[0], t.source[0]) == (12, 1, 1)
  assert (t.azimuth[0], t.elevation[0]) == (-98.0, -16.0)
  assert t.label_rate == 10.0
  assert t.class_names == events_lib.STARSS_CLASSES


def test_tau_nigens_2021_file():
  path = shared_data_path(
      'tau_nigens_2021', 'metadata_dev', 'fold1_room1_mix001.csv'
  )
  t = formats.read_metadata(path, 'dcase2021')
  assert len(t) == 1052
  assert t.last_frame() == 599
  assert t.source.max() == 16
  assert t.class_names == events_lib.TAU_NIGENS_2021_CLASSES
  assert t.class_index.max() < 12


@pytest.mark.parametrize(
    'name',
    [
        'split1_ir0_ov1_1.csv',
        'split1_ir0_ov2_11.csv',
        'split1_ir1_ov1_21.csv',
        'split1_ir1_ov2_31.csv',
    ],
)
def test_dcase2019_files(name):
  path = shared_data_path('dcase2019', 'metadata_dev', name)
  lines = path.read_text().splitlines()[1:]
  assert formats.detect_format(path) == 'dcase2019'
  t = formats.read_metadata(path)
  expected_rows = 0
  for line in lines:
    cells = line.split(',')
    start = math.floor(float(cells[1]) * 50)
    end = math.ceil(float(cells[2]) * 50)
    expected_rows += end - start + 1
  assert len(t) == expected_rows
  assert t.num_events() == len(lines)
  assert t.label_rate == 50.0
  assert set(np.unique(t.distance)) <= {1.0, 2.0}
  first = lines[0].split(',')
  rows0 = t.select(t.source == 0)
  assert rows0.class_index[0] == events_lib.DCASE2019_CLASSES.index(first[0])
  assert rows0.frame[0] == math.floor(float(first[1]) * 50)
  assert rows0.frame[-1] == math.ceil(float(first[2]) * 50)
  assert rows0.elevation[0] == float(first[3])
  assert rows0.azimuth[0] == float(first[4])


def test_dcase2019_round_trip(tmp_path):
  path = shared_data_path('dcase2019', 'metadata_dev', 'split1_ir0_ov2_11.csv')
  t = formats.read_metadata(path)
  out = tmp_path / 'out.csv'
  formats.write_metadata(out, t, 'dcase2019')
  back = formats.read_metadata(out)
  assert back.num_events() == t.num_events()
  # Sources are renumbered by event order; compare everything else.
  order = lambda x: np.lexsort((x.class_index, x.frame, x.azimuth))
  a, b = t.select(order(t)), back.select(order(back))
  for col in ('frame', 'class_index', 'azimuth', 'elevation', 'distance'):
    np.testing.assert_array_equal(getattr(a, col), getattr(b, col))


# Round trips of the frame-wise formats
# -----------------------------------------------------------------------------


def _random_table(rng, n=50, distance=True, onscreen=False, integral=True):
  frame = np.sort(rng.integers(0, 100, n))
  azi = rng.integers(-180, 180, n).astype(float)
  ele = rng.integers(-45, 46, n).astype(float)
  if not integral:
    azi += rng.uniform(-0.5, 0.5, n)
    ele += rng.uniform(-0.5, 0.5, n)
  return EventTable.from_columns(
      frame,
      rng.integers(0, 13, n),
      azi,
      ele,
      source=rng.integers(0, 4, n),
      distance=rng.integers(50, 500, n) / 100 if distance else None,
      onscreen=rng.integers(0, 2, n) if onscreen else None,
  )


@pytest.mark.parametrize('fmt', ['starss22', 'starss23', 'dcase2021'])
def test_reference_round_trip(tmp_path, fmt):
  t = _random_table(np.random.default_rng(0), distance=fmt == 'starss23')
  t = t.replace(class_index=t.class_index % 12)
  path = tmp_path / f'{fmt}.csv'
  formats.write_metadata(path, t, fmt)
  back = formats.read_metadata(path, fmt)
  assert back.equals(t)
  assert formats.detect_format(path) in (fmt, 'starss22')
  if fmt == 'starss23':
    # Distances are stored in integer centimetres.
    cells = path.read_text().splitlines()[0].split(',')
    assert len(cells) == 6 and cells[5] == str(round(t.distance[0] * 100))


def test_cartesian7_round_trip_and_units(tmp_path):
  t = _random_table(np.random.default_rng(1), integral=False)
  path = tmp_path / 'pred.csv'
  formats.write_metadata(path, t, 'cartesian7')
  assert formats.detect_format(path) == 'cartesian7'
  back = formats.read_metadata(path)
  np.testing.assert_allclose(back.azimuth, t.azimuth, atol=1e-9)
  np.testing.assert_allclose(back.elevation, t.elevation, atol=1e-9)
  np.testing.assert_allclose(back.distance, t.distance)  # metres


def test_cartesian6_detected_and_unnormalised_vectors(tmp_path):
  path = _write(tmp_path, 'p.csv', '3,2,0,0.5,0.5,0.0\n4,2,0,0.0,-0.3,0.3\n')
  assert formats.detect_format(path) == 'cartesian6'
  t = formats.read_metadata(path)
  np.testing.assert_allclose(t.azimuth, [45.0, -90.0])
  np.testing.assert_allclose(t.elevation, [0.0, 45.0])


def test_dcase2025_round_trip(tmp_path):
  t = _random_table(np.random.default_rng(2), onscreen=True)
  t = t.replace(elevation=np.zeros(len(t)))
  path = tmp_path / 'stereo.csv'
  formats.write_metadata(path, t, 'dcase2025')
  text = path.read_text().splitlines()
  assert text[0] == 'frame,class,source,azimuth,distance,onscreen'
  assert formats.detect_format(path) == 'dcase2025'
  back = formats.read_metadata(path)
  assert back.equals(t)
  assert back.has_onscreen


def test_polar4(tmp_path):
  path = _write(tmp_path, 'p.csv', '0,1,10.5,-20\n1,1,11,-20\n')
  assert formats.detect_format(path) == 'polar4'
  t = formats.read_metadata(path)
  np.testing.assert_array_equal(t.azimuth, [10.5, 11.0])
  np.testing.assert_array_equal(t.source, [0, 0])


def test_empty_prediction_file(tmp_path):
  path = _write(tmp_path, 'empty.csv', '')
  t = formats.read_metadata(path, 'cartesian7')
  assert len(t) == 0 and t.last_frame() == -1


# Malformed input
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'text,line,fragment',
    [
        ('0,1,0,10,20\n1,1,0,10\n', 2, 'expected 5 columns'),
        ('0,1,0,10,20\n1.5,1,0,10,20\n', 2, 'column 1 must be an integer'),
        ('0,1.2,0,10,20\n', 1, 'column 2 must be an integer'),
        ('0,1,0,10,20\n0,13,0,10,20\n', 2, 'class index >= 13'),
        ('0,1,0,nan,20\n', 1, 'non-finite'),
        ('0,1,0,10,inf\n', 1, 'non-finite'),
        ('0,1,0,10,20\n\n2,x,0,10,20\n', 3, 'non-numeric'),
        ('-1,1,0,10,20\n', 1, 'negative frame'),
        ('0,1,0,10,95\n', 1, 'elevation outside'),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, text, line, fragment):
  path = _write(tmp_path, 'bad.csv', text)
  with pytest.raises(formats.FormatError) as e:
    formats.read_metadata(path, 'starss22')
  assert e.value.line == line
  assert f'{path}:{line}:' in str(e.value)
  assert fragment in str(e.value)


def test_malformed_starss23_and_dcase2025(tmp_path):
  path = _write(tmp_path, 'a.csv', '0,1,0,10,20,-5\n')
  with pytest.raises(formats.FormatError, match='negative distance'):
    formats.read_metadata(path, 'starss23')
  path = _write(
      tmp_path, 'b.csv', formats.DCASE2025_HEADER + '\n0,1,0,10,100,2\n'
  )
  with pytest.raises(formats.FormatError, match=r'b.csv:2: onscreen'):
    formats.read_metadata(path)
  path = _write(tmp_path, 'c.csv', '0,1,0,10,100,1\n')
  with pytest.raises(formats.FormatError, match='expected the header'):
    formats.read_metadata(path, 'dcase2025')


def test_dcase2019_unknown_class_and_bad_span(tmp_path):
  header = formats.DCASE2019_HEADER
  path = _write(tmp_path, 'a.csv', f'{header}\nbanjo,0.1,0.2,0,0,1\n')
  with pytest.raises(formats.FormatError, match=r'a.csv:2: unknown class'):
    formats.read_metadata(path)
  path = _write(
      tmp_path, 'b.csv', f'{header}\nknock,0.1,0.2,0,0,1\nknock,1,0.5,0,0,1\n'
  )
  with pytest.raises(formats.FormatError, match=r'b.csv:3: invalid time span'):
    formats.read_metadata(path)


def test_missing_file_and_unknown_format(tmp_path):
  with pytest.raises(formats.FormatError, match='file not found'):
    formats.read_metadata(tmp_path / 'nope.csv', 'starss22')
  with pytest.raises(ValueError, match='Unknown metadata format'):
    formats.get_format('starss99')
  path = _write(tmp_path, 'x.csv', '1,2,3,4,5,6,7,8\n')
  with pytest.raises(formats.FormatError, match='cannot detect'):
    formats.read_metadata(path)


def test_write_is_atomic_and_keeps_old_file_on_error(tmp_path):
  path = tmp_path / 'keep.csv'
  path.write_text('old content\n')
  t = _random_table(np.random.default_rng(3), distance=False)
  with pytest.raises(ValueError, match='needs distances'):
    formats.write_metadata(path, t, 'starss23')
  assert path.read_text() == 'old content\n'
  assert [p.name for p in tmp_path.iterdir()] == ['keep.csv']


# TUT Sound Events 2018 desc files
# -----------------------------------------------------------------------------

_TUT_HEADER = 'sound_event_recording,start_time,end_time,ele,azi,dist\n'
_RATE = 44100 / 512


def test_tut2018_static(tmp_path):
  path = _write(
      tmp_path,
      'desc.csv',
      _TUT_HEADER
      + 'clearthroat023.wav,0.5,1.0,10,-40,2\n'
      'speech101.wav,0.8,2.0,-20,170,1\n',
  )
  assert formats.detect_format(path) == 'tut2018'
  t = formats.read_metadata(path)
  assert t.label_rate == pytest.approx(_RATE)
  first = t.select(t.source == 0)
  assert first.class_index[0] == events_lib.DCASE2019_CLASSES.index(
      'clearthroat'
  )
  assert first.frame[0] == math.floor(0.5 * _RATE)
  assert first.frame[-1] == math.ceil(1.0 * _RATE)  # SED end inclusive
  assert np.all(first.azimuth == -40) and np.all(first.elevation == 10)
  second = t.select(t.source == 1)
  assert second.class_index[0] == events_lib.DCASE2019_CLASSES.index('speech')


def test_tut2018_moving_real(tmp_path):
  header = 'sound_event_recording,start_time,end_time,ele,azi,ang_vel,dist\n'
  path = _write(
      tmp_path, 'd.csv', header + '123-3-0-1.wav,0.0,1.0,10,170,20,2\n'
  )
  t = formats.read_metadata(path, 'tut2018')
  assert t.class_names == formats.TUT2018_REAL_CLASSES
  assert t.class_index[0] == 1  # UrbanSound id 3 (dog_bark)
  # Azimuth moves +20 deg/s from 170 and wraps past 180.
  assert t.azimuth[0] == 170
  assert t.azimuth[-2] == pytest.approx(-170.0, abs=1.0)
  assert np.all(t.elevation == 10)


def test_tut2018_moving_synthetic(tmp_path):
  header = (
      'sound_event_recording,start_time,end_time,ele,azi,ele_dir,azi_dir,'
      'ang_vel,dist\n'
  )
  path = _write(
      tmp_path, 'm.csv', header + 'knock001.wav,0.0,2.0,0,0,0,90,30,1\n'
  )
  t = formats.read_metadata(path, 'tut2018')
  # Rotation in the horizontal plane at 30 deg/s towards +90 deg azimuth.
  assert t.azimuth[0] == pytest.approx(0.0, abs=1e-9)
  assert t.azimuth[-2] == pytest.approx(60.0, abs=1.5)
  np.testing.assert_allclose(t.elevation, 0.0, atol=1e-9)
  assert np.all(np.diff(t.azimuth) >= -1e-9)


def test_tut2018_writing_is_refused():
  t = _random_table(np.random.default_rng(4))
  with pytest.raises(ValueError, match='not supported'):
    formats.format_metadata(t, 'tut2018')


def test_event_table_helpers():
  t = EventTable.from_columns([0, 1, 2, 5], [1, 1, 1, 1], [0, 0, 0, 0])
  assert t.num_events() == 2  # gap between frames 2 and 5
  np.testing.assert_allclose(t.xyz()[0], [1, 0, 0])
  cat = events_lib.concatenate([t, t])
  assert len(cat) == 8
  with pytest.raises(ValueError, match='rows'):
    EventTable.from_columns([0, 1], [1], [0, 0])

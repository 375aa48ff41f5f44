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

"""End-to-end tests of `python -m seld_jax.score` on CSVs written here."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from seld_jax import events
from seld_jax import metrics
from seld_jax import score

REF_A = [  # frame,class,source,azimuth,elevation,distance (cm)
    (f, 0, 0, 20, 10, 150) for f in range(0, 30)
] + [(f, 5, 1, -90, 0, 300) for f in range(10, 25)]
REF_B = [(f, 8, 0, 120, -20, 250) for f in range(5, 47)]


def _xyz(azi, ele):
  a, e = math.radians(azi), math.radians(ele)
  return math.cos(a) * math.cos(e), math.sin(a) * math.cos(e), math.sin(e)


def _pred_rows(ref, offset, dist_scale=1.0):
  rows = []
  for f, c, _, azi, ele, d in ref:
    x, y, z = _xyz(azi + offset, ele)
    rows.append(f'{f},{c},0,{x!r},{y!r},{z!r},{d / 100 * dist_scale!r}')
  return rows


def _write(path, lines):
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(''.join(f'{line}\n' for line in lines))


@pytest.fixture
def folders(tmp_path):
  ref, pred = tmp_path / 'ref', tmp_path / 'pred'
  _write(
      ref / 'dev-test-sony' / 'a.csv', [','.join(map(str, r)) for r in REF_A]
  )
  _write(ref / 'dev-test-tau' / 'b.csv', [','.join(map(str, r)) for r in REF_B])
  _write(pred / 'a.csv', _pred_rows(REF_A, 12.0, 1.2))
  _write(pred / 'b.csv', _pred_rows(REF_B, 30.0, 0.9))
  return ref, pred


def _main(capsys, *args):
  rc = score.main([str(a) for a in args])
  out = capsys.readouterr()
  return rc, out.out, out.err


def _tables(ref_rows, pred_offset, dist_scale):
  f, c, s, a, e, d = (np.array(x, float) for x in zip(*ref_rows))
  ref = events.EventTable.from_columns(
      f.astype(int),
      c.astype(int),
      a,
      e,
      source=s.astype(int),
      distance=d / 100,
  )
  xyz = events.polar_to_cartesian(a + pred_offset, e)
  pred = events.EventTable.from_cartesian(
      f.astype(int), c.astype(int), xyz, distance=d / 100 * dist_scale
  )
  return ref, pred


@pytest.mark.parametrize('metric', ['dcase2023', 'dcase2024'])
def test_json_output_matches_evaluate(capsys, folders, metric):
  ref, pred = folders
  rc, out, err = _main(
      capsys, '--ref', ref, '--pred', pred, '--metric', metric, '--json'
  )
  assert rc == 0, err
  result = json.loads(out)  # Exactly one JSON object.
  ra, pa = _tables(REF_A, 12.0, 1.2)
  rb, pb = _tables(REF_B, 30.0, 0.9)
  direct = metrics.evaluate(metric, {'a': ra, 'b': rb}, {'a': pa, 'b': pb})
  assert result['files'] == 2 and result['metric'] == metric
  for key in metrics.KEYS[metric]:
    if direct[key] is None or math.isnan(direct[key]):
      assert result[key] is None
    else:
      assert result[key] == pytest.approx(direct[key], abs=1e-9)
  assert list(result['classwise']) == list(events.STARSS_CLASSES)
  assert result['classwise']['knock']['F'] == 0


def test_table_output_with_class_names_and_jackknife(capsys, folders):
  ref, pred = folders
  rc, out, _ = _main(
      capsys,
      '--ref',
      ref,
      '--pred',
      pred,
      '--metric',
      'dcase2023',
      '--jackknife',
  )
  assert rc == 0
  assert 'dcase2023, macro average, 2 files' in out
  assert 'female_speech' in out and 'domestic_sounds' in out
  assert '95% CI' in out
  rc, out, _ = _main(
      capsys,
      '--ref',
      ref,
      '--pred',
      pred,
      '--metric',
      'dcase2023',
      '--average',
      'micro',
  )
  assert rc == 0 and 'Class-wise' not in out


def test_missing_prediction_modes(capsys, folders):
  ref, pred = folders
  (pred / 'b.csv').unlink()
  args = ['--ref', ref, '--pred', pred, '--metric', 'dcase2023', '--json']
  rc, out, err = _main(capsys, *args)
  assert rc == 0 and 'b.csv' in err and 'warning' in err
  empty = json.loads(out)
  assert empty['files'] == 2 and empty['missing_predictions'] == ['b.csv']
  rc, out, err = _main(capsys, *args, '--missing', 'skip')
  assert rc == 0 and not err
  skip = json.loads(out)
  assert skip['files'] == 1
  assert skip['classwise']['music']['F'] == 0
  assert skip['ER'] < empty['ER']
  rc, out, err = _main(capsys, *args, '--missing', 'error')
  assert rc == 2 and 'b.csv' in err and not out


def test_prediction_without_reference_is_an_error(capsys, folders):
  ref, pred = folders
  _write(pred / 'zzz.csv', [])
  rc, out, err = _main(
      capsys, '--ref', ref, '--pred', pred, '--metric', 'dcase2023'
  )
  assert rc == 2 and 'zzz.csv' in err and not out


def test_unparseable_file_names_file_and_line(capsys, folders):
  ref, pred = folders
  lines = _pred_rows(REF_A, 0.0)
  lines[2] = '2,0,0,0.5,oops,0.1,1.0'
  _write(pred / 'a.csv', lines)
  rc, _, err = _main(
      capsys, '--ref', ref, '--pred', pred, '--metric', 'dcase2023'
  )
  assert rc == 2
  assert 'a.csv:3' in err


def test_empty_prediction_file(capsys, folders):
  ref, pred = folders
  _write(pred / 'b.csv', [])
  rc, out, _ = _main(
      capsys, '--ref', ref, '--pred', pred, '--metric', 'dcase2024', '--json'
  )
  assert rc == 0
  assert json.loads(out)['classwise']['music']['F'] == 0


def test_duplicate_file_names_in_subfolders(capsys, folders):
  ref, pred = folders
  _write(ref / 'other' / 'a.csv', ['0,0,0,0,0,100'])
  rc, _, err = _main(
      capsys, '--ref', ref, '--pred', pred, '--metric', 'dcase2023'
  )
  assert rc == 2 and 'a.csv' in err


def test_dcase2020_six_columns_are_cartesian(capsys, tmp_path):
  # `frame,class,track,x,y,z` even when x, y, z look like integers.
  _write(
      tmp_path / 'ref' / 'fold' / 'r.csv', [f'{f},3,0,0,0' for f in range(20)]
  )
  _write(tmp_path / 'pred' / 'r.csv', [f'{f},3,0,1,0,0' for f in range(20)])
  rc, out, err = _main(
      capsys,
      '--ref',
      tmp_path / 'ref',
      '--pred',
      tmp_path / 'pred',
      '--metric',
      'dcase2020',
      '--json',
  )
  assert rc == 0, err
  r = json.loads(out)
  assert r['F'] == pytest.approx(1.0) and r['LE'] == pytest.approx(0.0)
  assert r['average'] == 'micro'


def test_dcase2024_polar_predictions_are_metres(capsys, tmp_path):
  _write(
      tmp_path / 'ref' / 's' / 'r.csv', [f'{f},1,0,10,0,250' for f in range(9)]
  )
  _write(tmp_path / 'pred' / 'r.csv', [f'{f},1,0,10,0,2.5' for f in range(9)])
  rc, out, err = _main(
      capsys,
      '--ref',
      tmp_path / 'ref',
      '--pred',
      tmp_path / 'pred',
      '--metric',
      'dcase2024',
      '--json',
      '--average',
      'micro',
  )
  assert rc == 0, err
  assert json.loads(out)['DistE'] == pytest.approx(0.0)


def test_dcase2025_and_options(capsys, tmp_path):
  header = 'frame,class,source,azimuth,distance,onscreen'
  _write(
      tmp_path / 'ref' / 's' / 'c.csv',
      [header] + [f'{f},2,0,30,200,1' for f in range(10)],
  )
  _write(
      tmp_path / 'pred' / 'c.csv',
      [header] + [f'{f},2,0,150,250,0' for f in range(10)],
  )
  args = [
      '--ref',
      tmp_path / 'ref',
      '--pred',
      tmp_path / 'pred',
      '--metric',
      'dcase2025',
      '--json',
  ]
  rc, out, err = _main(capsys, *args)
  assert rc == 0, err
  r = json.loads(out)
  assert r['DOAE'] == 0 and r['DistE'] == pytest.approx(50.0)
  assert r['onscreen_acc'] == 0 and r['F'] > 0
  rc, out, _ = _main(capsys, *args, '--req-onscreen')
  assert json.loads(out)['classwise']['clapping']['F'] == 0
  rc, _, err = _main(capsys, *args, '--no-distance')
  assert rc == 2 and 'evaluate_distance' in err


def test_dcase2019_files(capsys, tmp_path):
  _write(
      tmp_path / 'ref' / 'foa_dev' / 'split1_ir0_ov1_1.csv',
      [
          'sound_event_recording,start_time,end_time,ele,azi,dist',
          'speech,0.505,1.505,10,20,2',
      ],
  )
  _write(
      tmp_path / 'pred' / 'split1_ir0_ov1_1.csv',
      [f'{f},5,20,10' for f in range(25, 77)],  # floor(25.25)..ceil(75.25)
  )
  rc, out, err = _main(
      capsys,
      '--ref',
      tmp_path / 'ref',
      '--pred',
      tmp_path / 'pred',
      '--metric',
      'dcase2019',
      '--json',
  )
  assert rc == 0, err
  r = json.loads(out)
  assert r['ER'] == 0 and r['F'] == pytest.approx(1.0)
  assert r['FR'] == 1.0 and r['DOA'] == pytest.approx(0.0, abs=1e-5)


def test_module_entry_point(folders):
  ref, pred = folders
  proc = subprocess.run(
      [
          sys.executable,
          '-m',
          'seld_jax.score',
          '--ref',
          str(ref),
          '--pred',
          str(pred),
          '--metric',
          'dcase2022',
          '--json',
      ],
      capture_output=True,
      text=True,
      check=False,
      cwd=pathlib.Path(__file__).resolve().parents[1],
  )
  assert proc.returncode == 0, proc.stderr
  assert json.loads(proc.stdout)['metric'] == 'dcase2022'

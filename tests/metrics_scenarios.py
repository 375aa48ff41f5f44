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

"""Deterministic reference / prediction CSV scenarios for the metric tests.

The golden values in `testdata/metrics_golden.json` are the numbers the
official DCASE metric code printed on exactly these files (see
`metrics_golden_test.py`). Everything here is generated from
`random.Random(seed).random()` only, whose sequence Python guarantees across
versions, and from the real reference files in ../shared/data; the golden
file stores a SHA-256 of every rendered scenario so that a drift in the
generator fails loudly instead of comparing different data.

Families and their CSV renderings:

  tau        100-ms frames, polar references, Cartesian predictions:
             dcase2020/2021/2022 -> ref `frame,class,source,azi,ele`,
                                   pred `frame,class,0,x,y,z`
             dcase2023/2024      -> ref `...,dist_cm`, pred `...,x,y,z,dist_m`
  dcase2019  20-ms frames; ref = the DCASE2019 time-segment files, pred =
             `frame,class,azimuth,elevation`
  dcase2025  header `frame,class,source,azimuth,distance,onscreen` for both
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import hashlib
import math
import os
import pathlib
import random

from seld_jax import events as events_lib

# Rows:
#   tau ref:   (frame, class, source, azi, ele, dist_cm)        ints
#   tau pred:  (frame, class, azi, ele, dist_m, scale)          floats
#   2019 ref:  (class_name, start_s, end_s, ele, azi, dist)
#   2019 pred: (frame, class, azi, ele)                         ints
#   2025:      (frame, class, source, azi, dist_cm, onscreen)


@dataclasses.dataclass
class Scenario:
  name: str
  family: str
  refs: dict[str, list]  # 'split/name.csv' -> rows
  preds: dict[str, list | None]  # 'name.csv' -> rows (None: no file)
  configs: tuple[str, ...]  # 'metric/average[/option=value...]'


# Rendering
# -----------------------------------------------------------------------------


def _f7(v: float) -> str:
  return f'{v:.7f}'


def _tau_ref_line(row, with_distance: bool) -> str:
  f, c, s, azi, ele, dist_cm = row
  cells = [f, c, s, azi, ele] + ([dist_cm] if with_distance else [])
  return ','.join(str(int(v)) for v in cells)


def _tau_pred_line(row, with_distance: bool) -> str:
  f, c, azi, ele, dist_m, scale = row
  a, e = math.radians(azi), math.radians(ele)
  xyz = (
      scale * math.cos(a) * math.cos(e),
      scale * math.sin(a) * math.cos(e),
      scale * math.sin(e),
  )
  cells = [str(int(f)), str(int(c)), '0'] + [_f7(v) for v in xyz]
  if with_distance:
    cells.append(f'{dist_m:.4f}')
  return ','.join(cells)


def _by_frame(rows, key=lambda r: r[0]):
  return sorted(rows, key=key)  # Stable: file order kept within a frame.


def render(scn: Scenario, metric: str) -> tuple[dict, dict]:
  """CSV texts ({ref relpath: text}, {pred name: text}) for one metric."""
  refs, preds = {}, {}
  if scn.family == 'tau':
    dist = metric in ('dcase2023', 'dcase2024')
    for path, rows in scn.refs.items():
      lines = [_tau_ref_line(r, dist) for r in _by_frame(rows)]
      refs[path] = ''.join(line + '\n' for line in lines)
    for name, rows in scn.preds.items():
      if rows is not None:
        lines = [_tau_pred_line(r, dist) for r in _by_frame(rows)]
        preds[name] = ''.join(line + '\n' for line in lines)
  elif scn.family == 'dcase2019':
    header = 'sound_event_recording,start_time,end_time,ele,azi,dist\n'
    for path, rows in scn.refs.items():
      lines = [
          f'{n},{s!r},{e!r},{int(el)},{int(az)},{int(d)}'
          for n, s, e, el, az, d in rows
      ]
      refs[path] = header + ''.join(line + '\n' for line in lines)
    for name, rows in scn.preds.items():
      if rows is not None:
        lines = [','.join(str(int(v)) for v in r) for r in _by_frame(rows)]
        preds[name] = ''.join(line + '\n' for line in lines)
  elif scn.family == 'dcase2025':
    header = 'frame,class,source,azimuth,distance,onscreen\n'

    def line(r):
      f, c, s, az, d, on = r
      num = lambda v: str(int(v)) if float(v).is_integer() else f'{v:.3f}'
      return f'{int(f)},{int(c)},{int(s)},{num(az)},{num(d)},{int(on)}'

    for path, rows in scn.refs.items():
      refs[path] = header + ''.join(line(r) + '\n' for r in _by_frame(rows))
    for name, rows in scn.preds.items():
      if rows is not None:
        preds[name] = header + ''.join(line(r) + '\n' for r in _by_frame(rows))
  else:
    raise ValueError(scn.family)
  return refs, preds


def write(scn: Scenario, metric: str, root) -> tuple[pathlib.Path, ...]:
  """Writes the CSVs under root/ref/<split>/ and root/pred/; returns dirs."""
  root = pathlib.Path(root)
  refs, preds = render(scn, metric)
  for rel, text in refs.items():
    path = root / 'ref' / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
  (root / 'pred').mkdir(parents=True, exist_ok=True)
  for name, text in preds.items():
    (root / 'pred' / name).write_text(text)
  return root / 'ref', root / 'pred'


def digest(scn: Scenario, metric: str) -> str:
  refs, preds = render(scn, metric)
  h = hashlib.sha256()
  for k in sorted(refs):
    h.update(f'ref/{k}\n{refs[k]}'.encode())
  for k in sorted(preds):
    h.update(f'pred/{k}\n{preds[k]}'.encode())
  return h.hexdigest()


def metrics_of(scn: Scenario) -> list[str]:
  return sorted({c.split('/')[0] for c in scn.configs})


# Builders
# -----------------------------------------------------------------------------


def seg(c, s, f0, f1, azi, ele, dist_cm=100):
  """Reference rows of one static source over frames f0..f1 (inclusive)."""
  return [(f, c, s, azi, ele, dist_cm) for f in range(f0, f1 + 1)]


def pseg(c, f0, f1, azi, ele, dist_m=1.0, scale=1.0):
  return [(f, c, azi, ele, dist_m, scale) for f in range(f0, f1 + 1)]


class _Rng:
  """Only `random.Random.random()`, whose sequence is guaranteed stable."""

  def __init__(self, seed: int):
    self._r = random.Random(seed)

  def u(self) -> float:
    return self._r.random()

  def uniform(self, a, b) -> float:
    return a + (b - a) * self.u()

  def int(self, n: int) -> int:
    return min(int(self.u() * n), n - 1)

  def gauss(self) -> float:
    u1 = max(self.u(), 1e-12)
    u2 = self.u()
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


def _wrap(azi: float) -> float:
  return (azi + 180.0) % 360.0 - 180.0


# tau family: hand-crafted
# -----------------------------------------------------------------------------

_TAU_CONFIGS = (
    'dcase2020/micro',
    'dcase2021/micro',
    'dcase2022/macro',
    'dcase2022/micro',
    'dcase2023/macro',
    'dcase2023/micro',
    'dcase2024/macro',
    'dcase2024/micro',
)


def _tau_handcrafted() -> list[Scenario]:
  out = []
  add = lambda name, refs, preds, configs=_TAU_CONFIGS: out.append(
      Scenario(name, 'tau', refs, preds, configs)
  )

  # DOA errors below/above 20 deg, a class only predicted, wrap-around, N_f =
  # 33 (not a multiple of 10).
  add(
      'tau_basic',
      {
          'dev-test/fold4_room1_mix001.csv': (
              seg(0, 0, 0, 29, 10, 0, 150)
              + seg(3, 0, 5, 14, -90, 20, 200)
              + seg(8, 1, 20, 33, 170, -10, 300)
          )
      },
      {
          'fold4_room1_mix001.csv': (
              pseg(0, 0, 29, 15, 5, 1.6)
              + pseg(3, 5, 14, -50, 20, 2.0)
              + pseg(5, 30, 34, 0, 0, 1.0)
              + pseg(8, 22, 40, -175, -10, 3.5, 0.7)
          )
      },
  )

  file_a = seg(0, 0, 0, 49, 40, 10, 120) + seg(2, 0, 20, 44, -30, 0, 250)
  pred_a = pseg(0, 2, 47, 44, 12, 1.1) + pseg(2, 20, 40, -25, 3, 2.7)
  file_b = seg(1, 0, 3, 38, 100, -20, 180) + seg(4, 0, 10, 25, 0, 40, 90)
  # Same data scored with an empty prediction file and without any file.
  add(
      'tau_empty_pred',
      {'dev-test/a.csv': file_a, 'dev-train/b.csv': file_b},
      {'a.csv': pred_a, 'b.csv': []},
  )
  add(
      'tau_missing_pred',
      {'dev-test/a.csv': file_a, 'dev-train/b.csv': file_b},
      {'a.csv': pred_a},
  )

  # 2 and 3 same-class instances per frame, swapped prediction order, 1..4
  # predictions per frame.
  refs = (
      seg(1, 0, 0, 19, 30, 0, 100)
      + seg(1, 1, 0, 19, -60, 10, 250)
      + seg(1, 2, 10, 14, 120, -20, 400)
      + seg(4, 0, 25, 47, 80, 0, 200)
  )
  preds = (
      [(f, 1, -55, 10, 2.4, 1.0) for f in range(0, 10)]
      + [(f, 1, 33, 2, 1.1, 0.9) for f in range(0, 10)]
      + [(f, 1, 118, -18, 3.0, 1.0) for f in range(10, 15)]
      + [(f, 1, -62, 8, 2.5, 1.0) for f in range(10, 15)]
      + [(f, 1, 28, 0, 1.0, 1.0) for f in range(10, 15)]
      + [(12, 1, 0, 0, 1.0, 1.0)]
      + [(f, 1, -60, 10, 2.5, 1.0) for f in range(15, 20)]
      + [(f, 1, 150, 0, 1.0, 1.0) for f in range(20, 25)]
      + [(f, 1, -150, 0, 1.0, 1.0) for f in range(20, 25)]
      + pseg(4, 25, 47, 85, 3, 1.5)
  )
  add('tau_same_class', {'dev-test/s.csv': refs}, {'s.csv': preds})

  # N_f a multiple of 10 (frame 60 dropped by the segment metrics) and not
  # (57); predictions beyond the last reference frame.
  add(
      'tau_nf_mult10',
      {
          'dev-test/m.csv': (
              seg(2, 0, 41, 60, 45, 30, 120) + seg(6, 0, 0, 9, 0, 0)
          )
      },
      {'m.csv': pseg(2, 41, 65, 47, 28, 1.3) + pseg(6, 0, 9, 2, 0, 1.0)},
  )
  add(
      'tau_nf_not_mult10',
      {
          'dev-test/n.csv': (
              seg(2, 0, 41, 57, 45, 30, 120) + seg(6, 0, 0, 9, 0, 0)
          )
      },
      {'n.csv': pseg(2, 41, 65, 47, 28, 1.3) + pseg(6, 0, 9, 2, 0, 1.0)},
  )
  add(
      'tau_pred_beyond',
      {
          'dev-test/p.csv': (
              seg(6, 0, 0, 99, -120, 0, 300) + seg(9, 0, 580, 599, 60, 0)
          )
      },
      {
          'p.csv': (
              pseg(6, 0, 99, -118, 1, 3.0)
              + pseg(7, 150, 250, 10, 10, 1.0)
              + pseg(9, 585, 610, 62, 0, 1.0)
          )
      },
  )

  # DOA errors 5, 19, 21, 90, 170 deg; block averages 22.5 (10/35 deg
  # alternating) and 17.5 (5/30).
  refs, preds = [], []
  for c, err in enumerate((5, 19, 21, 90, 170)):
    refs += seg(c, 0, 0, 29, 10, 0, 100)
    preds += pseg(c, 0, 29, 10 + err, 0, 1.0)
  refs += seg(5, 0, 0, 29, -40, 0, 100)
  preds += [(f, 5, -40 + (10 if f % 2 else 35), 0, 1.0, 1.0) for f in range(30)]
  refs += seg(6, 0, 0, 29, 60, 0, 100)
  preds += [(f, 6, 60 + (5 if f % 2 else 30), 0, 1.0, 1.0) for f in range(30)]
  add('tau_doa_errors', {'dev-test/d.csv': refs}, {'d.csv': preds})

  # A class in a block of both files without any frame in common (the Np
  # quirk), with 2 predictions per frame.
  refs = (
      seg(9, 0, 0, 3, 20, 0)
      + seg(9, 0, 10, 13, 20, 0)
      + seg(10, 0, 20, 29, -20, 0)
  )
  preds = (
      pseg(9, 5, 8, 25, 0)
      + pseg(9, 5, 8, -90, 0)
      + pseg(9, 15, 17, 22, 0)
      + pseg(10, 20, 29, -21, 0)
  )
  add('tau_no_common_frame', {'dev-test/q.csv': refs}, {'q.csv': preds})

  # Relative distance errors above and below 100 %.
  refs, preds = [], []
  for c, (d_cm, p_m) in enumerate(
      ((100, 2.5), (200, 2.9), (300, 0.0), (50, 0.5), (400, 9.0), (150, 3.2))
  ):
    refs += seg(c, 0, 0, 24, 30 * c - 60, 5, d_cm)
    preds += pseg(c, 0, 24, 30 * c - 58, 5, p_m)
  add('tau_distance', {'dev-test/r.csv': refs}, {'r.csv': preds})

  # Two different reference positions matched in one block: DE_TP > min(Ng,
  # Np) (track = list position).
  refs = (
      [(0, 11, 0, 10, 0, 100)]
      + [(1, 11, 0, 10, 0, 100), (1, 11, 1, -100, 0, 200)]
      + seg(3, 0, 0, 19, 0, 0)
  )
  preds = [(0, 11, -95, 0, 1.0, 1.0), (1, 11, -95, 0, 2.0, 1.0)] + pseg(
      3, 0, 19, 3, 0, 1.0
  )
  add('tau_mixed_tracks', {'dev-test/t.csv': refs}, {'t.csv': preds})

  add(
      'tau_all_empty',
      {'dev-test/a.csv': file_a, 'dev-test/b.csv': file_b},
      {'a.csv': [], 'b.csv': []},
  )
  return out


# tau family: random
# -----------------------------------------------------------------------------


def perturb_tau(refs: list, rng: _Rng, num_classes: int, last_frame: int):
  """Predictions from reference rows: misses, jitter, confusions, FPs."""
  preds = []
  for f, c, _, azi, ele, d_cm in refs:
    if rng.u() < 0.15:
      continue
    big = rng.u() < 0.12
    azi_p = _wrap(azi + rng.gauss() * (40.0 if big else 7.0))
    ele_p = max(-89.0, min(89.0, ele + rng.gauss() * 5.0))
    dist = d_cm / 100.0 * math.exp(rng.gauss() * 0.35)
    if rng.u() < 0.05:
      dist *= 3.0
    c_p = rng.int(num_classes) if rng.u() < 0.03 else c
    f_p = f + (rng.int(3) - 1 if rng.u() < 0.1 else 0)
    scale = rng.uniform(0.55, 1.0)
    preds.append((max(f_p, 0), c_p, azi_p, ele_p, dist, scale))
    if rng.u() < 0.05:  # A second same-class prediction.
      preds.append((
          max(f_p, 0),
          c_p,
          _wrap(azi_p + rng.uniform(-60, 60)),
          ele_p,
          dist,
          scale,
      ))
  for _ in range(rng.int(12)):
    c = rng.int(num_classes)
    f0 = rng.int(last_frame + 20)
    n = 3 + rng.int(30)
    azi, ele = rng.uniform(-180, 180), rng.uniform(-45, 45)
    d = rng.uniform(0.5, 5.0)
    preds += [(f, c, azi, ele, d, 1.0) for f in range(f0, f0 + n)]
  return preds


def synth_tau_refs(rng: _Rng, num_classes: int, num_frames: int):
  """STARSS-like references: up to 3 moving sources, same-class overlaps."""
  rows = []
  next_src = 0
  active = []
  for f in range(num_frames):
    active = [a for a in active if a['end'] >= f]
    if len(active) < 3 and rng.u() < 0.04:
      c = rng.int(num_classes)
      if active and rng.u() < 0.3:
        c = active[0]['class']  # Same-class overlap.
      active.append({
          'class': c,
          'src': next_src,
          'end': f + 5 + rng.int(80),
          'azi': rng.uniform(-180, 180),
          'ele': rng.uniform(-40, 40),
          'vel': rng.gauss() * 2.0,
          'dist': 50 + rng.int(450),
      })
      next_src += 1
    for a in active:
      a['azi'] = _wrap(a['azi'] + a['vel'])
      rows.append((
          f,
          a['class'],
          a['src'],
          int(round(a['azi'])),
          int(round(a['ele'])),
          a['dist'],
      ))
  return rows


def read_starss22(path) -> list:
  """Real STARSS22 rows plus a deterministic distance (cm) column."""
  rows = []
  for line in pathlib.Path(path).read_text().splitlines():
    if line.strip():
      f, c, s, azi, ele = (int(v) for v in line.split(','))
      dist = 80 + (s * 37 + c * 53 + (f // 30) * 11) % 420
      rows.append((f, c, s, azi, ele, dist))
  return rows


def starss22_files(shared_data: Callable[..., pathlib.Path], count: int = 8):
  root = shared_data('starss22', 'metadata_dev')
  files = sorted(root.glob('*/*.csv'))
  step = max(len(files) // count, 1)
  return files[::step][:count]


def _tau_random(shared_data) -> list[Scenario]:
  out = []
  rng = _Rng(20230313)
  refs, preds = {}, {}
  for k in range(8):
    rows = synth_tau_refs(rng, 12, 600 - rng.int(40))
    name = f'fold{4 + k % 2}_room{k}_mix{k:03d}.csv'
    refs[f'dev-test-{"ab"[k % 2]}/{name}'] = rows
    preds[name] = perturb_tau(rows, rng, 12, rows[-1][0])
  preds[name] = []  # One empty prediction file.
  out.append(Scenario('tau_random_synth', 'tau', refs, preds, _TAU_CONFIGS))

  if shared_data is not None:
    rng = _Rng(20240618)
    refs, preds = {}, {}
    for path in starss22_files(shared_data):
      rows = read_starss22(path)
      refs[f'{path.parent.name}/{path.name}'] = rows
      preds[path.name] = perturb_tau(rows, rng, 13, rows[-1][0])
    configs = tuple(c for c in _TAU_CONFIGS if not c.startswith('dcase2021'))
    configs += (
        'dcase2023/macro/jackknife',
        'dcase2023/micro/jackknife',
        'dcase2024/macro/jackknife',
        'dcase2024/micro/jackknife',
        (
            'dcase2024/macro/doa_threshold=10/dist_threshold=0.5'
            '/reldist_threshold=0.3'
        ),
        'dcase2024/macro/evaluate_distance=False',
    )
    out.append(Scenario('tau_random_starss22', 'tau', refs, preds, configs))
  return out


# dcase2019 family
# -----------------------------------------------------------------------------

_D19_CONFIGS = ('dcase2019/micro',)


def _d19_expand(rows):
  """(frame, class index, azi, ele) of the reference, as the official code."""
  out = []
  names = events_lib.DCASE2019_CLASSES
  for name, start, end, ele, azi, _ in rows:
    f0 = int(math.floor(start * 50))
    f1 = min(int(math.ceil(end * 50)), 2999)
    out += [(f, names.index(name), azi, ele) for f in range(f0, f1 + 1)]
  return out


def _d19_scenarios(shared_data) -> list[Scenario]:
  out = []
  # Times in the middle of 20-ms frames: floor/ceil are unambiguous.
  refs = {
      'foa_dev/split1_ir0_ov2_1.csv': [
          ('speech', 0.505, 2.305, 10, 20, 2),
          ('knock', 1.005, 1.505, -20, -170, 1),
          ('phone', 3.005, 5.505, 40, 90, 2),
          ('cough', 10.005, 11.005, 0, 0, 1),
          ('keyboard', 59.005, 59.995, -40, 170, 1),
      ],
      'foa_dev/split1_ir0_ov1_2.csv': [
          ('clearthroat', 10.005, 12.005, 0, 30, 1)
      ],
  }
  preds = {
      'split1_ir0_ov2_1.csv': (
          [(f, 5, 23, 12) for f in range(25, 116)]  # Off-grid: same cells.
          + [(f, 0, -175, -20) for f in range(50, 76)]  # Cell -180.
          + [(f, 3, 175, 45) for f in range(150, 276)]  # Clipped to 170/40.
          + [(349, 8, 0, 0)]  # Only in the ignored last frame of second 6.
          + [(f, 8, 0, 0) for f in range(500, 551)]
          + [(f, 6, -180, -40) for f in range(2950, 3000)]
          + [(f, 1, 60, 0) for f in range(2990, 3010)]  # Beyond 3000 frames.
          + [(f, 2, 60, 0) for f in range(25, 40)]  # Two classes, 2 DOAs.
      ),
      'split1_ir0_ov1_2.csv': [],
  }
  out.append(Scenario('d19_basic', 'dcase2019', refs, preds, _D19_CONFIGS))

  if shared_data is not None:
    rng = _Rng(20191120)
    refs, preds = {}, {}
    root = shared_data('dcase2019', 'metadata_dev')
    for path in sorted(root.glob('*.csv')):
      rows = []
      for line in path.read_text().splitlines()[1:]:
        n, s, e, el, az, d = line.split(',')
        rows.append((n, float(s), float(e), int(el), int(az), int(d)))
      refs[f'metadata_dev/{path.name}'] = rows
      pred = []
      for f, c, azi, ele in _d19_expand(rows):
        if rng.u() < 0.1:
          continue
        pred.append((
            f + (rng.int(5) - 2 if rng.u() < 0.2 else 0),
            rng.int(11) if rng.u() < 0.03 else c,
            int(round(azi + rng.gauss() * 12)),
            int(round(ele + rng.gauss() * 8)),
        ))
      for _ in range(rng.int(8)):
        f0, c = rng.int(3000), rng.int(11)
        azi, ele = rng.int(360) - 180, rng.int(90) - 45
        pred += [(f, c, azi, ele) for f in range(f0, f0 + 10 + rng.int(60))]
      preds[path.name] = [p for p in pred if p[0] >= 0]
    out.append(
        Scenario('d19_random_real', 'dcase2019', refs, preds, _D19_CONFIGS)
    )
  return out


# dcase2025 family
# -----------------------------------------------------------------------------

_D25_CONFIGS = (
    'dcase2025/macro',
    'dcase2025/micro',
    'dcase2025/macro/req_onscreen=True',
    'dcase2025/micro/req_onscreen=True',
    'dcase2025/macro/doa_threshold=10/dist_threshold=50/reldist_threshold=0.5',
)


def _clip(c, s, f0, f1, azi, dist, on):
  return [(f, c, s, azi, dist, on) for f in range(f0, f1 + 1)]


def _d25_handcrafted() -> list[Scenario]:
  refs, preds = {}, {}

  def clip(name, ref, pred):
    refs[f'dev-test-sony/{name}'] = ref
    preds[name] = pred

  # Perfect.
  ref = _clip(0, 0, 0, 49, 30, 150, 1) + _clip(5, 0, 10, 30, -120, 300, 0)
  clip('c_perfect.csv', ref, list(ref))
  # Azimuth folding: back/front mirror images are the same stereo direction.
  clip(
      'c_fold.csv',
      _clip(2, 0, 0, 49, 30, 200, 1)
      + _clip(3, 0, 0, 49, -100, 200, 1)
      + _clip(4, 0, 0, 49, 100, 200, 1),
      _clip(2, 0, 0, 49, 150, 210, 1)
      + _clip(3, 0, 0, 49, -80, 190, 1)
      + _clip(4, 0, 0, 49, -100, 200, 1),
  )
  # On-screen mismatch in half of the frames.
  clip(
      'c_onscreen.csv',
      _clip(6, 0, 0, 40, 10, 100, 1) + _clip(7, 0, 0, 40, -10, 100, 0),
      _clip(6, 0, 0, 20, 12, 100, 0)
      + _clip(6, 0, 21, 40, 12, 100, 1)
      + _clip(7, 0, 0, 40, -10, 100, 1),
  )
  # Relative distance errors (above and below 100 %).
  clip(
      'c_reldist.csv',
      _clip(7, 0, 0, 45, 0, 100, 0)
      + _clip(8, 0, 0, 45, 40, 200, 0)
      + _clip(9, 0, 0, 45, -40, 10, 0)
      + _clip(10, 0, 0, 45, 60, 400, 1),
      _clip(7, 0, 0, 45, 2, 250, 0)
      + _clip(8, 0, 0, 45, 41, 50, 0)
      + _clip(9, 0, 0, 45, -38, 30, 0)
      + _clip(10, 0, 0, 45, 55, 360.5, 1),
  )
  # Same-class instances with tied costs (ties decide the distance error).
  clip(
      'c_same_class.csv',
      _clip(0, 0, 0, 49, 20, 100, 1)
      + _clip(0, 1, 0, 49, 60, 300, 0)
      + _clip(0, 2, 20, 29, -40, 200, 1),
      _clip(0, 0, 0, 19, 40, 150, 0)
      + _clip(0, 0, 0, 19, 40, 280, 1)
      + _clip(0, 0, 20, 29, 40, 150, 1)
      + _clip(0, 0, 20, 29, -20, 220, 1)
      + _clip(0, 0, 30, 49, 20, 100, 1)
      + _clip(0, 0, 30, 49, 60, 300, 0)
      + _clip(0, 0, 30, 49, 160, 300, 0),
  )
  # 12 same-class references (sources 0..11) and 11 predictions (source 0):
  # at most 10 tracks per class and frame in `organize_labels`.
  ref = [(5, 1, s, -90 + 15 * s, 100 + 10 * s, s % 2) for s in range(12)]
  ref += _clip(2, 0, 0, 10, 0, 100, 1)
  pred = [(5, 1, 0, -88 + 15 * s, 100 + 10 * s, s % 2) for s in range(11)]
  pred += _clip(2, 0, 0, 10, 0, 100, 1)
  clip('c_many_tracks.csv', ref, pred)
  # Empty prediction (header only), missing prediction, empty reference,
  # predictions beyond the last reference frame.
  clip('c_empty_pred.csv', _clip(3, 0, 5, 30, 45, 120, 1), [])
  refs['dev-test-tau/c_missing.csv'] = _clip(4, 0, 0, 49, -45, 220, 0)
  clip('c_empty_ref.csv', [], _clip(4, 0, 0, 20, 0, 100, 0))
  clip(
      'c_beyond.csv',
      _clip(11, 0, 0, 30, 70, 330, 1),
      _clip(11, 0, 0, 49, 72, 300, 1) + _clip(12, 0, 31, 49, 0, 100, 0),
  )
  return [Scenario('d25_handcrafted', 'dcase2025', refs, preds, _D25_CONFIGS)]


def _d25_random() -> list[Scenario]:
  rng = _Rng(20250527)
  refs, preds = {}, {}
  for k in range(40):
    rows = []
    for src in range(1 + rng.int(4)):
      c = rng.int(13) if src == 0 or rng.u() > 0.3 else rows[-1][1]
      f0 = rng.int(40)
      f1 = min(49, f0 + 3 + rng.int(40))
      azi, vel = rng.uniform(-180, 180), rng.gauss() * 3
      dist, on = 50 + rng.int(500), int(rng.u() < 0.6)
      for f in range(f0, f1 + 1):
        rows.append(
            (f, c, src, int(round(_wrap(azi + vel * (f - f0)))), dist, on)
        )
    name = f'fold4_room{k % 3}_clip{k:03d}.csv'
    refs[f'dev-test-{"st"[k % 2]}/{name}'] = rows
    pred = []
    for f, c, _, azi, dist, on in rows:
      if rng.u() < 0.15:
        continue
      big = rng.u() < 0.1
      azi_p = _wrap(azi + rng.gauss() * (50 if big else 8))
      if rng.u() < 0.2:
        azi_p = _wrap(180 - azi_p)  # Front/back confusion.
      azi_p = round(azi_p) if rng.u() < 0.8 else round(azi_p, 2)
      d = round(dist * math.exp(rng.gauss() * 0.4))
      on_p = on if rng.u() < 0.8 else 1 - on
      pred.append((f, rng.int(13) if rng.u() < 0.03 else c, 0, azi_p, d, on_p))
    for _ in range(rng.int(3)):
      c, f0 = rng.int(13), rng.int(50)
      azi = rng.int(360) - 180
      pred += [
          (f, c, 0, azi, 100 + rng.int(300), rng.int(2))
          for f in range(f0, min(f0 + 5 + rng.int(20), 55))
      ]
    preds[name] = pred
  return [Scenario('d25_random', 'dcase2025', refs, preds, _D25_CONFIGS)]


# All
# -----------------------------------------------------------------------------


def all_scenarios(shared_data=None) -> dict[str, Scenario]:
  """Every scenario; those needing ../shared/data only with `shared_data`."""
  scenarios = (
      _tau_handcrafted()
      + _tau_random(shared_data)
      + _d19_scenarios(shared_data)
      + _d25_handcrafted()
      + _d25_random()
  )
  return {s.name: s for s in scenarios}


def parse_config(config: str) -> tuple[str, str, dict]:
  """'metric/average/key=value/...' -> (metric, average, options)."""
  parts = config.split('/')
  opts = {}
  for part in parts[2:]:
    if part == 'jackknife':
      opts['jackknife'] = True
      continue
    k, v = part.split('=')
    if v in ('True', 'False'):
      opts[k] = v == 'True'
    else:
      opts[k] = float(v)
  return parts[0], parts[1], opts


if __name__ == '__main__':
  # Prints the scenario digests (a quick check of determinism).
  import sys

  sys.path.insert(0, os.path.dirname(__file__))
  for scn in all_scenarios().values():
    for metric in metrics_of(scn):
      print(scn.name, metric, digest(scn, metric)[:16])

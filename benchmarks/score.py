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

"""Times reading + scoring a STARSS23-dev-test-sized split for every metric.

  python -m benchmarks.score [--files 80] [--frames 1800] [--workdir DIR]

Generates synthetic reference / prediction folders (STARSS-like polyphony:
up to 3 simultaneous events, same-class overlaps, moving sources; predictions
with misses, angular / distance noise, false alarms and duplicate same-class
outputs), then times `seld_jax.score.load_folder` (CSV parsing) and
`seld_jax.metrics.evaluate` per metric, and prints one JSON object with the
seconds. The 100-ms set has 12 classes so that every 2020-2024 metric accepts
it; DCASE2025 gets 5-s clips of the same total length, DCASE2019 60-s files of
20-ms frames.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import tempfile
import time

import numpy as np

from seld_jax import metrics
from seld_jax import score


def _tracks(rng, num_frames, num_classes, max_poly=3, rate=0.04):
  """(frame, class, source, azi, ele, dist_cm) rows of one recording."""
  rows = []
  active = []
  src = 0
  for f in range(num_frames):
    active = [a for a in active if a[2] >= f]
    if len(active) < max_poly and rng.random() < rate:
      c = int(rng.integers(num_classes))
      if active and rng.random() < 0.3:
        c = active[0][0]
      active.append([
          c,
          src,
          f + int(rng.integers(5, 120)),
          rng.uniform(-180, 180),
          rng.uniform(-40, 40),
          rng.normal() * 1.5,
          int(rng.integers(50, 500)),
      ])
      src += 1
    for a in active:
      a[3] = (a[3] + a[5] + 180) % 360 - 180
      rows.append((f, a[0], a[1], round(a[3]), round(a[4]), a[6]))
  return rows


def _predict(rng, rows, num_frames, num_classes):
  """(frame, class, azi, ele, dist_m) predictions from reference rows."""
  out = []
  for f, c, _, azi, ele, d in rows:
    if rng.random() < 0.2:
      continue
    big = rng.random() < 0.1
    out.append((
        f,
        c,
        azi + rng.normal() * (40 if big else 8),
        float(np.clip(ele + rng.normal() * 5, -89, 89)),
        d / 100 * float(np.exp(rng.normal() * 0.4)),
    ))
    if rng.random() < 0.05:
      out.append((f, c, azi + rng.uniform(-90, 90), ele, d / 100))
  for _ in range(int(rng.poisson(15 * num_frames / 1800))):
    c, f0 = int(rng.integers(num_classes)), int(rng.integers(num_frames))
    azi, ele = rng.uniform(-180, 180), rng.uniform(-40, 40)
    for f in range(f0, min(f0 + int(rng.integers(3, 40)), num_frames)):
      out.append((f, c, azi, ele, rng.uniform(0.5, 5)))
  out.sort(key=lambda r: r[0])
  return out


def _cartesian(azi, ele):
  a, e = np.radians(azi), np.radians(ele)
  return np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)


def make_tau_split(root, rng, num_files, num_frames, num_classes=12):
  """STARSS23-style folders: ref/<split>/*.csv (cm), pred/*.csv (7 columns)."""
  counts = [0, 0]
  for k in range(num_files):
    name = f'fold4_room{k % 8}_mix{k:03d}.csv'
    rows = _tracks(rng, num_frames, num_classes)
    split = 'dev-test-sony' if k % 2 else 'dev-test-tau'
    ref = root / 'ref' / split / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(''.join(','.join(map(str, r)) + '\n' for r in rows))
    pred = _predict(rng, rows, num_frames, num_classes)
    lines = []
    for f, c, azi, ele, d in pred:
      x, y, z = _cartesian(azi, ele)
      lines.append(f'{f},{c},0,{x:.6f},{y:.6f},{z:.6f},{d:.4f}\n')
    (root / 'pred').mkdir(parents=True, exist_ok=True)
    (root / 'pred' / name).write_text(''.join(lines))
    counts[0] += len(rows)
    counts[1] += len(pred)
  return counts


def make_stereo_split(root, rng, num_clips):
  header = 'frame,class,source,azimuth,distance,onscreen\n'
  counts = [0, 0]
  for k in range(num_clips):
    name = f'fold4_clip{k:05d}.csv'
    rows = _tracks(rng, 50, 13, rate=0.08)
    on = {r[2]: int(rng.random() < 0.6) for r in rows}
    ref = root / 'ref' / 'dev-test' / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(
        header
        + ''.join(f'{f},{c},{s},{a},{d},{on[s]}\n' for f, c, s, a, _, d in rows)
    )
    pred = _predict(rng, rows, 50, 13)
    (root / 'pred').mkdir(parents=True, exist_ok=True)
    (root / 'pred' / name).write_text(
        header
        + ''.join(
            f'{f},{c},0,{round((a + 180) % 360 - 180)},{round(d * 100)},'
            f'{int(rng.random() < 0.6)}\n'
            for f, c, a, _, d in pred
        )
    )
    counts[0] += len(rows)
    counts[1] += len(pred)
  return counts


def make_dcase2019_split(root, rng, num_files):
  names = metrics.CLASS_NAMES['dcase2019']
  header = 'sound_event_recording,start_time,end_time,ele,azi,dist\n'
  counts = [0, 0]
  for k in range(num_files):
    name = f'split1_ir0_ov2_{k}.csv'
    events, preds = [], []
    for track in range(2):
      t = rng.uniform(0, 2)
      while t < 58:
        dur = rng.uniform(0.3, 3.0)
        c = int(rng.integers(11))
        azi = int(rng.integers(36)) * 10 - 180
        ele = int(rng.integers(9)) * 10 - 40
        events.append((names[c], t + 0.005, t + dur + 0.005, ele, azi))
        f0, f1 = int(np.floor((t + 0.005) * 50)), int(np.ceil((t + dur) * 50))
        for f in range(f0, min(f1 + 1, 3000)):
          if rng.random() < 0.9:
            preds.append((
                f,
                c,
                int(azi + rng.normal() * 10),
                int(ele + rng.normal() * 5),
            ))
        t += dur + rng.uniform(0.1, 2.0) * (1 + track)
    ref = root / 'ref' / 'foa_dev' / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(
        header
        + ''.join(f'{n},{s},{e},{el},{az},2\n' for n, s, e, el, az in events)
    )
    preds.sort(key=lambda r: r[0])
    (root / 'pred').mkdir(parents=True, exist_ok=True)
    (root / 'pred' / name).write_text(
        ''.join(','.join(map(str, p)) + '\n' for p in preds)
    )
    counts[0] += len(events)
    counts[1] += len(preds)
  return counts


def _time(metric, root, **kwargs):
  t0 = time.perf_counter()
  refs = score.load_folder(root / 'ref', metric, 'ref')
  preds = score.load_folder(root / 'pred', metric, 'pred')
  t1 = time.perf_counter()
  result = metrics.evaluate(metric, refs, preds, **kwargs)
  t2 = time.perf_counter()
  out = {
      'files': result['files'],
      'read_s': round(t1 - t0, 3),
      'score_s': round(t2 - t1, 3),
      'total_s': round(t2 - t0, 3),
  }
  main_key = 'SELD' if 'SELD' in result else 'F'
  out[main_key] = round(result[main_key], 4)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--files', type=int, default=80)
  parser.add_argument('--frames', type=int, default=1800)
  parser.add_argument('--dcase2019-files', type=int, default=100)
  parser.add_argument('--workdir', default=None)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument(
      '--keep', default=None, help='also write the generated folders here'
  )
  args = parser.parse_args()
  rng = np.random.default_rng(args.seed)
  with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
    tmp = pathlib.Path(tmp)
    tau_rows = make_tau_split(tmp / 'tau', rng, args.files, args.frames)
    clips = args.files * args.frames // 50
    stereo_rows = make_stereo_split(tmp / 'stereo', rng, clips)
    d19_rows = make_dcase2019_split(tmp / 'd19', rng, args.dcase2019_files)
    report = {
        'setup': {
            'tau_split': (
                f'{args.files} files x {args.frames} frames, '
                f'{tau_rows[0]} ref rows, {tau_rows[1]} pred rows'
            ),
            'dcase2025_split': (
                f'{clips} clips x 50 frames, '
                f'{stereo_rows[0]} ref rows, {stereo_rows[1]} pred rows'
            ),
            'dcase2019_split': (
                f'{args.dcase2019_files} files x 3000 frames, '
                f'{d19_rows[0]} ref events, {d19_rows[1]} pred rows'
            ),
            'cpus': os.cpu_count(),
        }
    }
    for metric in (
        'dcase2023',
        'dcase2024',
        'dcase2022',
        'dcase2021',
        'dcase2020',
    ):
      report[metric] = _time(metric, tmp / 'tau')
    report['dcase2023_jackknife'] = _time(
        'dcase2023', tmp / 'tau', jackknife=True
    )
    report['dcase2024_jackknife'] = _time(
        'dcase2024', tmp / 'tau', jackknife=True
    )
    report['dcase2025'] = _time('dcase2025', tmp / 'stereo')
    report['dcase2019'] = _time('dcase2019', tmp / 'd19')
    if args.keep:
      import shutil  # pylint: disable=g-import-not-at-top

      shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  main()

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

r"""Scores a folder of prediction CSVs against reference CSVs.

  python -m seld_jax.score --ref metadata_dev --pred results/dev-test \
      --metric dcase2023 [--average macro|micro] [--json] \
      [--missing empty|skip|error] [--jackknife]

REF may contain sub-folders (as `metadata_dev/dev-test-sony`); every `*.csv`
below REF and PRED is read, and predictions are matched to references by file
name. References without a prediction are scored against an empty prediction
with a warning (`--missing empty`, default), ignored as the official drivers
do (`skip`), or make the run fail (`error`). A prediction without a reference
or an unreadable file is an error naming the file (and line).

Each file is read in the format the official code of the metric reads it in
(e.g. 6-column predictions are Cartesian `frame,class,track,x,y,z` for
dcase2020-2022, 6-column DCASE2024 predictions carry metres, not
centimetres); see `read_table`.

Prints a table (global scores, then class-wise scores with class names), or
with `--json` exactly one JSON object (NaN written as null). Exit status: 0
on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import math
import os
import pathlib
import sys
from typing import Any

from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax import metrics as metrics_lib

# Label frames per second of the tables each metric scores.
_LABEL_RATE = {m: 10.0 for m in metrics_lib.METRICS}
_LABEL_RATE['dcase2019'] = 50.0


class ScoreError(Exception):
  """Bad input folders or files (reported without a traceback)."""


def _has_rows(path) -> bool:
  with open(path, encoding='utf-8-sig', errors='replace') as f:
    return any(line.strip() for line in f)


def resolve_format(
    metric: str, role: str, detected: str
) -> tuple[str, str | None]:
  """The (format, distance unit override) the official loader would use.

  Args:
    metric: a metric name.
    role: 'ref' or 'pred'.
    detected: `formats.detect_format` of the file.

  Returns:
    (fmt, distance_unit or None).
  """
  if metric in ('dcase2020', 'dcase2021', 'dcase2022'):
    # `load_output_format_file` of these years: 5 columns polar, 6 columns
    # Cartesian `frame,class,track,x,y,z`.
    if detected == 'starss22':
      return {'dcase2020': 'dcase2020', 'dcase2021': 'dcase2021'}.get(
          metric, 'starss22'
      ), None
    if detected in ('starss23', 'cartesian6') and role == 'pred':
      return 'cartesian6', None
    return detected, None
  if metric == 'dcase2024':
    # References are read with cm2m=True, predictions as written (metres).
    if detected in ('starss23', 'cartesian7'):
      return detected, 'cm' if role == 'ref' else 'm'
    return detected, None
  return detected, None


def read_table(
    path, metric: str, role: str, num_classes: int | None = None
) -> events_lib.EventTable:
  """Reads one reference ('ref') or prediction ('pred') CSV for `metric`.

  An empty file (or a header-only DCASE2025 file) is an empty table.

  Raises:
    formats.FormatError: naming the file and line.
  """
  rate = _LABEL_RATE[metric]
  if not _has_rows(path):
    return events_lib.EventTable.empty(label_rate=rate)
  detected = formats.detect_format(path)
  fmt, unit = resolve_format(metric, role, detected)
  table = formats.read_metadata(
      path, fmt, num_classes=num_classes, distance_unit=unit
  )
  return table


def find_csv_files(root) -> dict[str, pathlib.Path]:
  """File name -> path of every *.csv below `root` (sub-folders included)."""
  root = pathlib.Path(root)
  if not root.is_dir():
    raise ScoreError(f'{root} is not a folder.')
  found: dict[str, pathlib.Path] = {}
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(filenames):
      if name.startswith('.') or not name.lower().endswith('.csv'):
        continue
      path = pathlib.Path(dirpath) / name
      if name in found:
        raise ScoreError(
            f'File name {name!r} appears twice: {found[name]} and {path}; '
            'files are matched by name.'
        )
      found[name] = path
  return found


def load_folder(
    root, metric: str, role: str, num_classes: int | None = None
) -> dict[str, events_lib.EventTable]:
  """Every CSV below `root`, keyed by file name."""
  return {
      name: read_table(path, metric, role, num_classes)
      for name, path in find_csv_files(root).items()
  }


def score_folders(
    ref: str | os.PathLike,
    pred: str | os.PathLike,
    metric: str,
    *,
    average: str | None = None,
    missing: str = 'empty',
    jackknife: bool = False,
    num_classes: int | None = None,
    warn=None,
    **thresholds,
) -> dict[str, Any]:
  """Reads two folders and returns `metrics.evaluate`'s result.

  Args:
    ref: reference folder (sub-folders allowed).
    pred: prediction folder.
    metric: a metric name.
    average: 'macro' / 'micro' / None (official default).
    missing: 'empty', 'skip' or 'error' (see the module docstring).
    jackknife: add jackknife intervals.
    num_classes: defaults to the metric's class count.
    warn: callable for warnings (default: print to stderr).
    **thresholds: per-metric options (`metrics.THRESHOLDS`).

  Returns:
    The result dict; with the names of missing predictions under
    'missing_predictions'.

  Raises:
    ScoreError: on missing/extra files.
    formats.FormatError: on unreadable files.
  """
  if metric not in metrics_lib.METRICS:
    raise ScoreError(
        f'Unknown metric {metric!r}; known: {", ".join(metrics_lib.METRICS)}.'
    )
  if missing not in ('empty', 'skip', 'error'):
    raise ScoreError(
        f'--missing must be empty, skip or error, not {missing!r}.'
    )
  unknown = set(thresholds) - set(metrics_lib.THRESHOLDS[metric])
  if unknown:
    raise ScoreError(
        f'{metric} does not take option(s) {sorted(unknown)}; it takes '
        f'{sorted(metrics_lib.THRESHOLDS[metric]) or "none"}.'
    )
  warn = warn or (lambda msg: print(f'warning: {msg}', file=sys.stderr))
  c = metrics_lib.NUM_CLASSES[metric] if num_classes is None else num_classes
  ref_files = find_csv_files(ref)
  pred_files = find_csv_files(pred)
  if not ref_files:
    raise ScoreError(f'No reference CSV files below {ref}.')
  extra = sorted(set(pred_files) - set(ref_files))
  if extra:
    raise ScoreError(
        f'{len(extra)} prediction file(s) without a reference in {ref}: '
        + ', '.join(extra)
    )
  absent = sorted(set(ref_files) - set(pred_files))
  if absent:
    listed = ', '.join(absent)
    if missing == 'error':
      raise ScoreError(
          f'{len(absent)} reference file(s) without a prediction in {pred}: '
          + listed
      )
    if missing == 'empty':
      warn(
          f'{len(absent)} reference file(s) have no prediction and are scored '
          f'as empty predictions: {listed}'
      )
  names = sorted(pred_files) + (absent if missing == 'empty' else [])
  refs = {n: read_table(ref_files[n], metric, 'ref', c) for n in names}
  preds = {
      n: read_table(pred_files[n], metric, 'pred', c)
      for n in names
      if n in pred_files
  }
  result = metrics_lib.evaluate(
      metric,
      refs,
      preds,
      average=average,
      jackknife=jackknife,
      num_classes=c,
      missing=missing if missing != 'error' else 'empty',
      **thresholds,
  )
  result['missing_predictions'] = absent
  result['missing_mode'] = missing
  return result


# Output
# -----------------------------------------------------------------------------


def _jsonable(x):
  if isinstance(x, float) and not math.isfinite(x):
    return None if math.isnan(x) else ('inf' if x > 0 else '-inf')
  if isinstance(x, dict):
    return {k: _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  return x


def to_json(result: dict[str, Any]) -> str:
  """Strict JSON (NaN -> null, +-inf -> "inf"/"-inf")."""
  return json.dumps(_jsonable(result), indent=2, allow_nan=False)


_PERCENT = {'F', 'LR', 'FR', 'onscreen_acc'}


def _fmt(key: str, v: float) -> str:
  if v is None or (isinstance(v, float) and math.isnan(v)):
    return 'n/a'
  if key in _PERCENT:
    return f'{100 * v:.1f}%'
  if key in ('LE', 'DOA', 'DOAE'):
    return f'{v:.2f}'
  return f'{v:.3f}'


def format_table(result: dict[str, Any]) -> str:
  """A readable report of `result`."""
  metric = result['metric']
  keys = metrics_lib.KEYS[metric]
  units = '; angles in degrees'
  units += {'dcase2024': ', DistE in m', 'dcase2025': ', DistE in cm'}.get(
      metric, ''
  )
  lines = [
      f'{metric}, {result["average"]} average, {result["files"]} files{units}',
      '',
  ]
  jk = result.get('jackknife', {})
  width = max(len(k) for k in keys)
  for k in keys:
    line = f'  {k:<{width}}  {_fmt(k, result[k]):>9}'
    if k in jk:
      lo, hi = jk[k]['interval']
      line += f'   95% CI [{_fmt(k, lo)}, {_fmt(k, hi)}]'
    lines.append(line)
  if 'classwise' in result:
    cw = result['classwise']
    cw_keys = list(next(iter(cw.values())).keys())
    name_w = max(len('class'), *(len(n) for n in cw))
    lines += ['', 'Class-wise:']
    header = f'  {"#":>2} {"class":<{name_w}}' + ''.join(
        f' {k:>9}' for k in cw_keys
    )
    lines.append(header)
    for i, (name, vals) in enumerate(cw.items()):
      lines.append(
          f'  {i:>2} {name:<{name_w}}'
          + ''.join(f' {_fmt(k, vals[k]):>9}' for k in cw_keys)
      )
  if result.get('missing_predictions'):
    mode = result.get('missing_mode')
    how = 'scored as empty' if mode == 'empty' else 'skipped'
    lines += [
        '',
        (
            f'{len(result["missing_predictions"])} reference file(s) without '
            f'prediction ({how}).'
        ),
    ]
  return '\n'.join(lines)


# Command line
# -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m seld_jax.score',
      description='Score DCASE SELD prediction CSVs against references.',
  )
  p.add_argument('--ref', required=True, help='reference folder')
  p.add_argument('--pred', required=True, help='prediction folder')
  p.add_argument('--metric', required=True, choices=metrics_lib.METRICS)
  p.add_argument(
      '--average',
      choices=('macro', 'micro'),
      default=None,
      help='default: the official one (macro for 2022-2025, micro before)',
  )
  p.add_argument('--json', action='store_true', help='print one JSON object')
  p.add_argument(
      '--missing',
      choices=('empty', 'skip', 'error'),
      default='empty',
      help=(
          'references without a prediction file: score them as empty '
          'predictions with a warning (default), skip them (the official '
          'behaviour) or fail'
      ),
  )
  p.add_argument(
      '--jackknife',
      action='store_true',
      help='leave-one-file-out 95%% confidence intervals',
  )
  p.add_argument('--num-classes', type=int, default=None)
  p.add_argument('--doa-threshold', type=float, default=None)
  p.add_argument('--dist-threshold', type=float, default=None)
  p.add_argument('--reldist-threshold', type=float, default=None)
  p.add_argument(
      '--req-onscreen',
      action='store_true',
      default=None,
      help='dcase2025: a detection also needs the right on-screen flag',
  )
  p.add_argument(
      '--no-distance',
      dest='evaluate_distance',
      action='store_false',
      default=None,
      help='dcase2024: score directions only (evaluate_distance=False)',
  )
  return p


def main(argv: Sequence[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  thresholds = {
      k: v
      for k, v in (
          ('doa_threshold', args.doa_threshold),
          ('dist_threshold', args.dist_threshold),
          ('reldist_threshold', args.reldist_threshold),
          ('req_onscreen', args.req_onscreen),
          ('evaluate_distance', args.evaluate_distance),
      )
      if v is not None
  }
  try:
    result = score_folders(
        args.ref,
        args.pred,
        args.metric,
        average=args.average,
        missing=args.missing,
        jackknife=args.jackknife,
        num_classes=args.num_classes,
        **thresholds,
    )
  except (ScoreError, formats.FormatError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  if args.json:
    print(to_json(result))
  else:
    print(format_table(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())

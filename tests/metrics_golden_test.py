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

"""Our metrics vs the official DCASE code's numbers on the same CSVs.

The golden values in testdata/metrics_golden.json were printed by the
official metric code of each year (repositories and commits in its
`_provenance`, e.g. sharathadavanne/seld-dcase2023 @ 24d14c9
`cls_compute_seld_results.py`, partha2409/DCASE2024_seld_baseline @ 0b07887,
partha2409/DCASE2025_seld_baseline @ 42a48b6 `metrics.py`) on the CSVs that
`metrics_scenarios.py` renders (hand-crafted edge cases and random sets built
on the real STARSS22 / DCASE2019 references in ../shared/data). Here the same
CSVs are rendered again, read through `seld_jax.score` (i.e.
`seld_jax.formats`) and scored; every score, class-wise score and jackknife
bound must agree within 1e-6.
"""

import json
import math
import pathlib

import conftest
import metrics_scenarios
import numpy as np
import pytest

from seld_jax import score

_GOLDEN = json.loads(
    (
        pathlib.Path(__file__).parent / 'testdata' / 'metrics_golden.json'
    ).read_text()
)['scenarios']
_SCENARIOS = metrics_scenarios.all_scenarios(conftest.shared_data_path)
_TOL = 1e-6


def _close(ours, official) -> bool:
  ours, official = float(ours), float(official)
  if math.isnan(official) or math.isnan(ours):
    return math.isnan(official) and math.isnan(ours)
  if math.isinf(official):
    return ours == official
  return abs(ours - official) <= _TOL


def _cases():
  for name, entry in _GOLDEN.items():
    for config in entry['results']:
      yield pytest.param(name, config, id=f'{name}:{config}')


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
  """Renders each (scenario, metric) once; checks the generator's digest."""
  cache = {}

  def get(name, metric):
    if (name, metric) not in cache:
      scn = _SCENARIOS[name]
      digest = metrics_scenarios.digest(scn, metric)
      assert digest == _GOLDEN[name]['digests'][metric], (
          f'{name}/{metric}: the scenario generator no longer produces the '
          'CSVs the golden values were computed on.'
      )
      root = tmp_path_factory.mktemp(f'{name}_{metric}')
      cache[(name, metric)] = metrics_scenarios.write(scn, metric, root)
    return cache[(name, metric)]

  return get


def _compare(mismatches, what, ours, official):
  if not _close(ours, official):
    mismatches.append(f'{what}: ours {ours!r} official {official!r}')


@pytest.mark.parametrize('name, config', list(_cases()))
def test_matches_official(rendered, name, config):
  metric, average, opts = metrics_scenarios.parse_config(config)
  jackknife = opts.pop('jackknife', False)
  official = _GOLDEN[name]['results'][config]
  ref_dir, pred_dir = rendered(name, metric)
  # The official drivers ignore references without a prediction file.
  ours = score.score_folders(
      ref_dir,
      pred_dir,
      metric,
      average=average,
      missing='skip',
      jackknife=jackknife,
      warn=lambda msg: None,
      **opts,
  )
  mismatches = []
  if jackknife:
    for key, value in official.items():
      if key == 'classwise':
        intervals = np.asarray(value['interval'], np.float64)  # [K, C, 2]
        if not intervals.size:  # Micro averaging: no class-wise scores.
          assert 'classwise' not in ours['jackknife']
          continue
        cw = ours['jackknife']['classwise']
        keys = list(next(iter(cw.values())))
        for k, key2 in enumerate(keys):
          for c, cname in enumerate(cw):
            for e in range(2):
              _compare(
                  mismatches,
                  f'jackknife {key2}[{cname}][{e}]',
                  cw[cname][key2]['interval'][e],
                  intervals[k, c, e],
              )
        continue
      for e in range(2):
        _compare(
            mismatches,
            f'jackknife {key}[{e}]',
            ours['jackknife'][key]['interval'][e],
            value['interval'][e],
        )
  else:
    for key, value in official.items():
      if key not in ('classwise', 'nb_classes'):
        _compare(mismatches, key, ours[key], value)
    classwise = official.get('classwise')
    if classwise:
      rows = np.asarray(classwise, np.float64)
      keys = list(next(iter(ours['classwise'].values())))
      if len(keys) != len(rows):  # dcase2024 evaluate_distance=False.
        keys = [k for k in keys if k not in ('DistE', 'RDE')]
      for k, key in enumerate(keys):
        for c, cname in enumerate(ours['classwise']):
          _compare(
              mismatches,
              f'{key}[{cname}]',
              ours['classwise'][cname][key],
              rows[k, c],
          )
      assert len(ours['classwise']) == official.get('nb_classes', 13)
    else:
      assert 'classwise' not in ours
  assert not mismatches, '\n'.join(mismatches)


@pytest.mark.parametrize(
    'config',
    [c for c in _GOLDEN['tau_empty_pred']['results']],
)
def test_missing_prediction_scored_as_empty(rendered, config):
  """--missing empty on the missing file == the official on an empty file."""
  metric, average, opts = metrics_scenarios.parse_config(config)
  ref_dir, pred_dir = rendered('tau_missing_pred', metric)
  warnings = []
  ours = score.score_folders(
      ref_dir,
      pred_dir,
      metric,
      average=average,
      missing='empty',
      warn=warnings.append,
      **opts,
  )
  assert len(warnings) == 1 and 'b.csv' in warnings[0]
  official = _GOLDEN['tau_empty_pred']['results'][config]
  for key, value in official.items():
    if key not in ('classwise', 'nb_classes'):
      assert _close(ours[key], value), (key, ours[key], value)

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

"""Leave-one-file-out jackknife confidence intervals (DCASE2023/2024).

`jackknife_estimation` is the official function of
`cls_compute_seld_results.py` (seld-dcase2023 24d14c9, DCASE2024_seld_baseline
0b07887; "original function by Nicolas Turpault"): with the global value g
and the N leave-one-out values p_i,

  bias     = (N - 1) (mean(p) - g)
  estimate = g - bias
  std_err  = sqrt((N - 1) mean((p - mean(p))^2))
  interval = estimate -/+ t_{N-1}(0.975) std_err

Every score and every class-wise score gets its own interval. The official
`get_SELD_Results(is_jackknife=True)` returns the intervals next to the
*last leave-one-out* scores (its loop overwrites the global ones, a code
quirk); `jackknife` here reports them next to the global scores.
The DCASE2025 code's jackknife fails on a ragged array; here it is computed
the same way as 2023/2024.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from seld_jax.metrics import _common


def jackknife_estimation(
    global_value, partial_estimates, significance_level: float = 0.05
):
  """The official `jackknife_estimation`: (estimate, bias, std_err, interval)."""
  partial_estimates = np.asarray(partial_estimates, np.float64)
  mean_jack_stat = np.mean(partial_estimates)
  n = len(partial_estimates)
  bias = (n - 1) * (mean_jack_stat - global_value)
  std_err = np.sqrt(
      (n - 1)
      * np.mean(
          (partial_estimates - mean_jack_stat)
          * (partial_estimates - mean_jack_stat),
          axis=0,
      )
  )
  estimate = global_value - bias
  if not 0 < significance_level < 1:
    raise ValueError('confidence level must be in (0, 1).')
  with np.errstate(invalid='ignore', divide='ignore'):
    t_value = stats.t.ppf(1 - significance_level / 2, n - 1)
  conf_interval = estimate + t_value * np.array((-std_err, std_err))
  return estimate, bias, std_err, conf_interval


def _flatten(result: dict[str, Any], keys, classwise_keys) -> np.ndarray:
  values = [result[k] for k in keys]
  if 'classwise' in result:
    for k in classwise_keys:
      values.extend(np.asarray(result['classwise'][k]).tolist())
  return np.asarray(values, np.float64)


def jackknife(
    accumulator: _common.Accumulator, significance_level: float = 0.05
) -> dict[str, Any]:
  """Leave-one-file-out intervals of every score of `accumulator`.

  Args:
    accumulator: a metric accumulator that has seen all files.
    significance_level: 0.05 for 95 % intervals.

  Returns:
    {key: {'interval': [low, high], 'estimate', 'bias', 'std_err'}} for the
    global keys and, when the metric has class-wise scores,
    'classwise': {key: {'interval': [[low, high]] * C, 'estimate': [C], ...}}.
  """
  keys, cw_keys = accumulator.keys, accumulator.classwise_keys
  full = accumulator.compute()
  global_values = _flatten(full, keys, cw_keys)
  loo = accumulator.leave_one_out()
  if loo:
    partial = np.stack([_flatten(r, keys, cw_keys) for r in loo])
  else:
    partial = np.zeros((0, len(global_values)))
  est, bias, err, lo, hi = (np.zeros(len(global_values)) for _ in range(5))
  with np.errstate(invalid='ignore'):
    for i, g in enumerate(global_values):
      est[i], bias[i], err[i], (lo[i], hi[i]) = jackknife_estimation(
          g, partial[:, i], significance_level
      )

  def entry(sl):
    if isinstance(sl, int):
      return {
          'interval': [float(lo[sl]), float(hi[sl])],
          'estimate': float(est[sl]),
          'bias': float(bias[sl]),
          'std_err': float(err[sl]),
      }
    return {
        'interval': np.stack([lo[sl], hi[sl]], axis=1),
        'estimate': est[sl],
        'bias': bias[sl],
        'std_err': err[sl],
    }

  out: dict[str, Any] = {k: entry(i) for i, k in enumerate(keys)}
  if 'classwise' in full:
    c = len(np.asarray(full['classwise'][cw_keys[0]]))
    base = len(keys)
    out['classwise'] = {
        k: entry(slice(base + j * c, base + (j + 1) * c))
        for j, k in enumerate(cw_keys)
    }
  return out

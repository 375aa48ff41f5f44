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

"""Benchmark: the model zoo trained on the synthetic data at a stated budget.

Each recipe of RECIPES runs its stages in order with
`seld_jax.train.train_and_evaluate` (exactly what `python -m seld_jax.main`
does), one workdir per stage under `--workdir`, a stage initialised from the
previous stage's run where its config says so (`init_from`). Every stage gets
the same budget: `--steps` steps of `--batch_size` windows of
`--window_seconds`, one evaluation at the end; the rest is the model's own
config (optimiser, schedule, features, target). Recipes marked `cpu` shrink
the widths of models too large for a 2-core CPU budget (said in `note`).

Prints one JSON object per recipe (a line each) and, at the end, a list of
all of them:

  model, stage, config, params, steps, batch_size, window_seconds, wall_s,
  metric, F, LE, ER, LR, SELD (and DOAE, RDE for dcase2024/2025), note

The F/LE/... of the last stage are the system's (the metrics the run writes
to `<workdir>/eval/test/metrics.json`); earlier stages are reported too.

  python -m benchmarks.model_zoo --models=seldnet,two_stage --steps=1000
"""

import importlib
import json
import os
import time

from absl import app
from absl import flags

from seld_jax import score
from seld_jax import summary
from seld_jax import train

# name -> stages: (config module, config arg or None, overrides, note).
RECIPES = {
    # The zoo budget's recipe (measured with it): 2e-3, as the other rows.
    'crnn': [('configs.default', None, {'learning_rate': 2e-3}, '')],
    'seldnet': [('configs.seldnet_synthetic', None, {}, '')],
    'two_stage': [
        ('configs.two_stage_synthetic', 'stage1', {}, ''),
        ('configs.two_stage_synthetic', 'stage2', {}, ''),
    ],
    'general': [
        ('configs.general_synthetic', s, {}, '')
        for s in ('sed', 'doa', 'align')
    ],
    'conformer': [('configs.conformer_synthetic', None, {}, '')],
}
for _variant in ('mic_gcc', 'salsa_lite', 'foa_dist'):
  RECIPES[f'baseline_{_variant}'] = [
      ('configs.dcase_baseline', _variant, {}, '')
  ]
# CPU-budget variants of the large models: the same code at smaller widths.
_CPU_GENERAL = {
    'model_kwargs.sed_widths': (16, 32, 64, 128, 256, 512),
    'model_kwargs.doa_widths': (32, 64, 128, 128),
}
RECIPES['general_cpu'] = [
    (
        'configs.general_synthetic',
        s,
        _CPU_GENERAL,
        'CNN14 at 1/4 of its widths, DOA CNN at (32, 64, 128, 128)',
    )
    for s in ('sed', 'doa', 'align')
]
RECIPES['two_stage_cpu'] = [
    (
        'configs.two_stage_synthetic',
        s,
        {
            'model_kwargs.channels': (32, 64, 128, 256),
            'model_kwargs.rnn_size': 128,
        },
        (
            'conv widths (32, 64, 128, 256) instead of (64, 128, 256, 512),'
            ' GRU 128'
        ),
    )
    for s in ('stage1', 'stage2')
]
RECIPES['conformer_cpu'] = [(
    'configs.conformer_synthetic',
    None,
    {
        'model_kwargs.stem_channels': 32,
        'model_kwargs.stage_channels': (32, 64, 128, 128),
        'model_kwargs.d_model': 128,
        'model_kwargs.num_layers': 2,
        'model_kwargs.num_heads': 4,
    },
    'ResNet (32, 64, 128, 128) + 2 conformer layers of width 128',
)]

_CPU_AV_CONFORMER = {
    'model_kwargs.audio_channels': (32, 64, 128, 128),
    'model_kwargs.audio_layers': 2,
    'model_kwargs.visual_width': 128,
    'model_kwargs.fusion_layers': 2,
    'model_kwargs.num_heads': 4,
    'model_kwargs.ffn_dim': 256,
}
for _variant in ('conformer', 'cmaf', 'audio_only'):
  RECIPES[f'av_{_variant}_cpu'] = [(
      'configs.av_conformer_synthetic',
      _variant,
      _CPU_AV_CONFORMER,
      (
          'audio ResNet (32, 64, 128, 128), 2 conformer layers of width 128;'
          ' fusion width 128, 2 layers'
      ),
  )]
RECIPES['av_baseline'] = [
    ('configs.av_baseline_synthetic', 'small_cnn', {}, '')
]
RECIPES['av_baseline_blind'] = [
    ('configs.av_baseline_synthetic', 'small_cnn_blind', {}, '')
]

_MODELS = flags.DEFINE_list(
    'models', ['seldnet', 'two_stage'], f'Recipes: {sorted(RECIPES)}.'
)
_STEPS = flags.DEFINE_integer('steps', 1000, 'Training steps per stage.')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Global batch.')
_WINDOW = flags.DEFINE_float('window_seconds', 2.0, 'Training window (s).')
_WORKDIR = flags.DEFINE_string(
    'workdir', '/tmp/seld_jax_zoo', 'Runs go to <workdir>/<model>_<stage>.'
)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data dir.')


def _set(config, dotted: str, value) -> None:
  *parents, leaf = dotted.split('.')
  node = config
  for p in parents:
    node = node[p]
  if leaf not in node:
    raise KeyError(f'override {dotted!r}: the config has no such field')
  node[leaf] = value


def stage_config(
    module: str,
    arg,
    overrides: dict,
    previous: str | None,
    *,
    steps: int,
    batch_size: int,
    window_seconds: float,
    data_dir: str | None = None,
):
  """The config of one stage with the benchmark budget applied.

  Args:
    module: config module (`configs.x`).
    arg: its `get_config` argument (None: none).
    overrides: dotted config keys -> values (the recipe's widths).
    previous: the previous stage's workdir, for a stage that starts from one.
    steps, batch_size, window_seconds: the budget.
    data_dir: TFDS data dir (None: the config's).

  Returns:
    The ConfigDict, evaluated once at the end of training.
  """
  mod = importlib.import_module(module)
  config = mod.get_config() if arg is None else mod.get_config(arg)
  for key, value in overrides.items():
    _set(config, key, value)
  config.num_train_steps = steps
  config.batch_size = batch_size
  config.window_seconds = window_seconds
  config.eval_hop_seconds = window_seconds
  config.warmup_steps = min(config.warmup_steps, steps // 10)
  config.eval_every_steps = steps
  config.checkpoint_every_steps = steps
  config.log_every_steps = max(steps // 5, 1)
  if data_dir:
    config.data_dir = data_dir
  if config.get('init_from'):
    if previous is None:
      raise ValueError(f'{module}:{arg} starts from a run; none ran before.')
    config.init_from = previous
  return config


def count_params(config) -> int:
  """Trainable parameters, as `seld_jax.summary` counts them."""
  last = summary.summarize(config).strip().splitlines()[-1]
  return int(last.removeprefix('params: ').replace(',', ''))


def run_recipe(name: str) -> list[dict]:
  rows, previous = [], None
  for module, arg, overrides, note in RECIPES[name]:
    config = stage_config(
        module,
        arg,
        overrides,
        previous,
        steps=_STEPS.value,
        batch_size=_BATCH.value,
        window_seconds=_WINDOW.value,
        data_dir=_DATA_DIR.value,
    )
    workdir = os.path.join(_WORKDIR.value, f'{name}_{arg or "run"}')
    start = time.perf_counter()
    result = train.train_and_evaluate(config, workdir)
    wall = time.perf_counter() - start
    # As in <workdir>/eval/test/metrics.json (NaN -> null).
    metrics = json.loads(score.to_json(result))
    row = dict(
        model=name,
        stage=arg or '',
        config=module.replace('.', '/') + '.py' + (f':{arg}' if arg else ''),
        params=count_params(config),
        steps=config.num_train_steps,
        batch_size=config.batch_size,
        window_seconds=config.window_seconds,
        wall_s=round(wall, 1),
        note=note,
        **{
            k: v
            for k, v in metrics.items()
            if not isinstance(v, dict) and k != 'step'  # = steps
        },
    )
    print(json.dumps(row), flush=True)
    rows.append(row)
    previous = workdir
  return rows


def main(argv):
  del argv
  unknown = sorted(set(_MODELS.value) - set(RECIPES))
  if unknown:
    raise app.UsageError(f'unknown recipes {unknown}; have {sorted(RECIPES)}')
  rows, failed = [], []
  for name in _MODELS.value:
    try:
      rows.extend(run_recipe(name))
    except Exception as e:  # pylint: disable=broad-except
      # One recipe failing should not cost the measurements of the others.
      failed.append(name)
      row = dict(model=name, error=f'{type(e).__name__}: {e}')
      print(json.dumps(row), flush=True)
      rows.append(row)
  print(json.dumps(rows))
  if failed:
    raise SystemExit(f'recipes failed: {failed}')


if __name__ == '__main__':
  app.run(main)

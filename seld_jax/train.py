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

"""The training loop: `train_and_evaluate(config, workdir)`.

The run directory holds everything needed to resume, evaluate and infer:

  W/config.json             the configuration of the run
  W/norm_stats.npz          feature statistics of the training split
  W/checkpoints/<step>/     orbax: train state + grain iterator state
  W/events.out.tfevents.*   CLU / TensorBoard scalars and images
  W/eval/<split>/           CSVs, metrics.json, plots (end of the run)

Re-running the same command resumes from the latest checkpoint (the data
iterator included, so the resumed run sees the batches an uninterrupted run
would); a resume with another recipe (`RESUME_FIXED_KEYS`) than config.json
records is refused. SIGTERM saves a checkpoint before exiting; a non-finite
loss stops the run with an error naming the step, without saving the broken
state.

Audio-visual runs (`config.visual`, see `input_pipeline`) batch the video
frames or the rows of an embedding store with the audio; config.json then
also records what inference needs to make the same visual input from an
mp4: `visual_frame_shape` (the dataset's decoded frame size) and, for
'embeddings', `visual_store` (the store's meta.json without its recording
list: front end, weights file and hash, row shape and dtype).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import signal
import threading
import time
from typing import Any

from absl import logging
from clu import metric_writers
from clu import periodic_actions
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from seld_jax import augment
from seld_jax import checkpointing
from seld_jax import datasets
from seld_jax import evaluate as evaluate_lib
from seld_jax import extract_visual
from seld_jax import input_pipeline
from seld_jax import plot
from seld_jax import sharding as sharding_lib
from seld_jax import train_step

CONFIG_FILE = 'config.json'
STATS_FILE = 'norm_stats.npz'
CHECKPOINT_DIR = 'checkpoints'
# meta.json entries of an embedding store that config.json leaves out.
_STORE_LISTS = ('recordings', 'num_recordings', 'seconds', 'bytes')


class NonFiniteLossError(FloatingPointError):
  """Training produced a NaN/inf loss."""


def with_overrides(config: ml_collections.ConfigDict, **changes):
  """A copy of a (possibly locked) config with some fields changed."""
  config = copy.deepcopy(config)
  with config.unlocked():
    for k, v in changes.items():
      config[k] = v
  return config


def save_config(config: ml_collections.ConfigDict, workdir: str) -> None:
  if jax.process_index() != 0:
    return
  path = pathlib.Path(workdir) / CONFIG_FILE
  tmp = path.with_name(f'.{CONFIG_FILE}.tmp')
  tmp.write_text(config.to_json_best_effort(indent=2, sort_keys=True) + '\n')
  os.replace(tmp, path)


def visual_facts(config, shard: input_pipeline.Shard) -> dict[str, Any]:
  """What config.json records of the run's visual input (see above).

  Args:
    config: the run config.
    shard: a shard of a split of the run's dataset.

  Returns:
    {} for an audio-only run; else `visual_frame_shape` and, for
    'embeddings', `visual_store`.

  Raises:
    ValueError: in 'frames' mode for a dataset without video or another
      frame size than `model_kwargs.visual_size`; in 'embeddings' mode when
      the store changed since the run recorded it (another front end,
      weights, row shape or dtype).
  """
  visual = config.get('visual', '') or ''
  if not visual:
    return {}
  if visual == 'frames':
    if not shard.has_video:
      raise ValueError(
          f"visual='frames' but {config.dataset} has no video (use a video "
          "config of the dataset, e.g. 'starss23/foa_video')."
      )
    kwargs = config.get('model_kwargs', None) or {}
    size = kwargs.get('visual_size', None)
    if size is not None and tuple(size) != tuple(shard.video_shape[:2]):
      raise ValueError(
          f'model_kwargs.visual_size={tuple(size)} but {config.dataset} '
          f'holds {shard.video_shape[0]}x{shard.video_shape[1]} frames '
          '(height, width); set it to those or leave it unset.'
      )
    return {'visual_frame_shape': list(shard.video_shape)}
  if visual != 'embeddings':
    raise ValueError(
        f'visual must be one of {input_pipeline.VISUAL_MODES}, got {visual!r}.'
    )
  store = input_pipeline.VisualStore.open(
      config.get('visual_embeddings', ''),
      dataset=config.dataset,
      label_rate=shard.label_rate,
      frontend=input_pipeline.visual_frontend_config(config),
  )
  meta = {k: v for k, v in store.meta.items() if k not in _STORE_LISTS}
  known = config.get('visual_store', None)
  if known:
    known = input_pipeline.plain_data(known)
    changed = [
        k
        for k in extract_visual.HEADER_KEYS
        if k not in ('format', 'version')
        if input_pipeline.plain_data(meta.get(k)) != known.get(k)
    ]
    if changed:
      raise ValueError(
          f'The embedding store {store.root} changed since the run was '
          f'trained ({", ".join(changed)} differ from config.json): the '
          'model was trained on other embeddings.'
      )
  return {'visual_frame_shape': list(meta['frame_shape']), 'visual_store': meta}


def _recorded_config(workdir: str) -> dict[str, Any] | None:
  """The config.json a previous start of the run wrote, if any."""
  path = pathlib.Path(workdir) / CONFIG_FILE
  return json.loads(path.read_text()) if path.exists() else None


def _with_recorded_store(config, recorded: dict[str, Any] | None):
  """`config` with the `visual_store` a previous start recorded, if any."""
  if (config.get('visual', '') or '') != 'embeddings':
    return config
  if config.get('visual_store', None):
    return config
  store = (recorded or {}).get('visual_store', None)
  if not store:
    return config
  return with_overrides(config, visual_store=store)


# Fields that fix what the checkpointed state means: a resumed run with
# another value would continue a different model, optimizer or data.
RESUME_FIXED_KEYS = (
    'dataset',
    'sample_rate',
    'num_classes',
    'label_rate',
    'features',
    'feature_params',
    'normalize',
    'model',
    'model_kwargs',
    'target',
    'optimizer',
    'visual',
)


def config_changes(
    recorded: dict[str, Any], config: ml_collections.ConfigDict
) -> tuple[list[str], list[str]]:
  """Top-level fields of `config` that differ from a recorded config.json.

  Args:
    recorded: the parsed config.json of an earlier start of the run.
    config: the config of this start.

  Returns:
    (fixed, other): the differing keys of `RESUME_FIXED_KEYS` and the
    other differing keys, each sorted.
  """
  now = json.loads(config.to_json_best_effort())
  keys = sorted(set(recorded) | set(now))
  changed = [k for k in keys if recorded.get(k) != now.get(k)]
  fixed = [k for k in changed if k in RESUME_FIXED_KEYS]
  return fixed, [k for k in changed if k not in RESUME_FIXED_KEYS]


def check_resume_config(
    recorded: dict[str, Any] | None, config: ml_collections.ConfigDict, step
) -> None:
  """Refuses to resume another recipe; warns about changed settings.

  Args:
    recorded: config.json of the run as it was last started (None: none).
    config: this start's config.
    step: the checkpoint step being resumed.

  Raises:
    ValueError: a `RESUME_FIXED_KEYS` field changed.
  """
  if recorded is None:
    return
  fixed, other = config_changes(recorded, config)
  if fixed:
    raise ValueError(
        f'The run directory holds a checkpoint at step {step} of another '
        f'recipe: {", ".join(f"{k}={recorded.get(k)!r}" for k in fixed)} in '
        'its config.json, now '
        + ', '.join(f'{k}={config.get(k)!r}' for k in fixed)
        + '. Use a new --workdir (or --config.init_from to start from its '
        'weights).'
    )
  if other:
    logging.warning(
        'Resuming step %d with changed settings: %s.',
        step,
        ', '.join(
            f'{k}: {recorded.get(k)!r} -> {config.get(k)!r}' for k in other
        ),
    )


# Fields that fix the trained network and what it reads: evaluating a
# checkpoint with other values would run another model on its weights,
# silently where the shapes agree (post-norm weights in pre-norm layers,
# say). The dataset and optimizer may differ (another test split).
EVAL_FIXED_KEYS = tuple(
    k for k in RESUME_FIXED_KEYS if k not in ('dataset', 'optimizer')
)


def _describe_changes(
    recorded: dict[str, Any], now: dict[str, Any], keys
) -> list[str]:
  """'key: old -> new' per changed key (dicts one level down)."""
  out = []
  for key in keys:
    old, new = recorded.get(key), now.get(key)
    if isinstance(old, dict) and isinstance(new, dict):
      for sub in sorted(set(old) | set(new)):
        if old.get(sub) != new.get(sub):
          out.append(f'{key}.{sub}: {old.get(sub)!r} -> {new.get(sub)!r}')
    else:
      out.append(f'{key}: {old!r} -> {new!r}')
  return out


def check_eval_config(
    recorded: dict[str, Any] | None,
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    allow_changes: bool = False,
) -> None:
  """Refuses to evaluate a run's checkpoint as another model.

  Args:
    recorded: the run's config.json (None: none, nothing to check).
    config: the evaluation's config.
    workdir: the run directory (for the message).
    allow_changes: warn instead (a deliberate probe, e.g. the video zeroed
      at inference with `model_kwargs.blind`).

  Raises:
    ValueError: an `EVAL_FIXED_KEYS` field differs from config.json.
  """
  if recorded is None:
    return
  now = json.loads(config.to_json_best_effort())
  fixed = [k for k in EVAL_FIXED_KEYS if recorded.get(k) != now.get(k)]
  if not fixed:
    return
  changes = '; '.join(_describe_changes(recorded, now, fixed))
  if allow_changes:
    logging.warning(
        'Evaluating %s with changed settings: %s.', workdir, changes
    )
    return
  raise ValueError(
      f'{workdir}/{CONFIG_FILE} records another model than this config '
      f'(recorded -> now: {changes}). Evaluate with the settings the run '
      'was trained with (the same --config and flags; a config default may '
      'have changed since), or allow the change on purpose '
      '(seld_jax.evaluate --allow_model_changes).'
  )


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = pathlib.Path(workdir) / CONFIG_FILE
  if not path.exists():
    raise FileNotFoundError(
        f'{path} not found: is {workdir} a seld_jax run directory?'
    )
  return ml_collections.ConfigDict(json.loads(path.read_text()))


def normalization_stats(config, workdir: str, shard=None):
  """Loads the run's statistics, computing them from the training split."""
  if not config.get('normalize', True):
    return None
  path = os.path.join(workdir, STATS_FILE)
  if os.path.exists(path):
    stats = input_pipeline.load_normalization_stats(path)
  else:
    logging.info(
        'Computing feature statistics on %s[%s].',
        config.dataset,
        config.train_split,
    )
    stats = input_pipeline.compute_normalization_stats(
        config,
        config.features,
        dict(config.get('feature_params', {}) or {}),
        shard=shard,
    )
    if jax.process_index() == 0:
      input_pipeline.save_normalization_stats(path, stats)
  return {'mean': stats.mean, 'std': stats.std}


def _restored_arrays(tree) -> dict[str, np.ndarray]:
  """'a.b.c' -> array of a checkpoint subtree restored without a target."""
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    name = train_step.param_path(path)
    out[name.removesuffix('.value')] = leaf
  return out


def initializer(config, mesh=None):
  """Initialisation from another run (`config.init_from`), or None.

  Copies parameters and BatchNorm statistics from the source run's
  checkpoint (`config.init_from_step`, default its best, else latest) into
  every variable with the same name and shape. `config.init_map` holds
  (destination prefix, source prefix) pairs (e.g.
  (('doa_branch.conv', 'sed_branch.conv'),) to start a second stage from the
  first stage's convolutions). Variables under a `config.init_skip` prefix
  (e.g. ('visual_embed.kernel',)) keep the new model's initialisation; a
  prefix that names no variable is an error. RNG state is never copied. A
  resumed run restores its own checkpoint instead.
  """
  del mesh
  source = config.get('init_from')
  if not source:
    return None

  def init(params, rest):
    ckpt = checkpointing.Checkpointer(os.path.join(source, CHECKPOINT_DIR))
    step = config.get('init_from_step') or (
        ckpt.best_step() or ckpt.latest_step()
    )
    ckpt.close()
    if step is None:
      raise FileNotFoundError(f'init_from: no checkpoint in {source}.')
    path = os.path.join(source, CHECKPOINT_DIR, str(step), 'state')
    restored = ocp.StandardCheckpointer().restore(path)
    arrays = _restored_arrays(restored['params'])
    arrays.update(_restored_arrays(restored['rest']))
    mapping = dict(config.get('init_map', {}) or {})
    skip = tuple(config.get('init_skip', ()) or ())
    copied, skipped = [], set()

    def source_name(name):
      for dst, src in mapping.items():
        if name == dst or name.startswith(dst + '.'):
          return src + name[len(dst) :]
      return name

    def take(path, leaf):
      name = train_step.param_path(path)
      if '.rngs.' in f'.{name}.':
        return leaf
      hits = train_step.prefix_hits(name, skip)
      if hits:
        skipped.update(hits)
        return leaf
      src = arrays.get(source_name(name))
      if src is None or tuple(src.shape) != tuple(leaf.shape):
        return leaf
      copied.append(name)
      return np.asarray(src, dtype=leaf.dtype)

    params = jax.tree_util.tree_map_with_path(take, params)
    rest = jax.tree_util.tree_map_with_path(take, rest)
    train_step.check_prefixes_used(params, skip, skipped, 'init_skip')
    if not copied:
      raise ValueError(
          f'init_from={source} (step {step}): no variable matched by name '
          'and shape; check config.init_map.'
      )
    logging.info(
        'Initialised %d variables from %s step %d.', len(copied), source, step
    )
    return params, rest

  return init


def build(config, workdir: str, mesh, *, shard=None) -> train_step.Setup:
  """The run's model and jitted steps (statistics loaded or computed)."""
  stats = normalization_stats(config, workdir, shard)
  audio_augment, feature_augment = augment.build(config)
  return train_step.setup(
      config,
      mesh,
      stats,
      init_params=initializer(config, mesh),
      audio_augment=audio_augment,
      feature_augment=feature_augment,
  )


# Dispatched steps the host may run ahead of the finished ones.
_MAX_STEPS_IN_FLIGHT = 2


class _Preemption:
  """Turns SIGTERM into a flag the loop checks between steps."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    del signum, frame
    logging.warning('SIGTERM received: saving a checkpoint, then exiting.')
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def _check_finite(pending: list[tuple[int, Any]]) -> list[float]:
  """Raises NonFiniteLossError at the first non-finite loss or gradient.

  A NaN gradient with a finite loss (a NaN in the backward pass) makes the
  parameters NaN at that step while its loss still looks fine, so the
  gradient norm is checked too: otherwise a checkpoint of NaN parameters
  could be saved as the latest one.

  Args:
    pending: (step, metrics) of the steps not yet checked; cleared.

  Returns:
    Their losses.
  """
  values = jax.device_get([m for _, m in pending])
  losses = []
  for (step, _), m in zip(pending, values):
    loss = float(m['loss'])
    grad_norm = float(m['grad_norm'])
    if not np.isfinite(loss):
      problem = f'Non-finite training loss ({loss}) at step {step}.'
    elif not np.isfinite(grad_norm):
      problem = (
          f'Non-finite gradient (norm {grad_norm}) at step {step}, with a '
          f'finite training loss ({loss:.6g}): a NaN or inf arose in the '
          'backward pass.'
      )
    else:
      losses.append(loss)
      continue
    raise NonFiniteLossError(
        f'{problem} Training stopped; the last checkpoint saved before it is '
        'kept. Lower the learning rate, enable gradient clipping '
        '(config.grad_clip_norm) or check the input data.'
    )
  pending.clear()
  return losses


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains `config` in `workdir` (resuming), then evaluates the test split.

  Args:
    config: the configuration (see `configs/default.py`).
    workdir: the run directory.

  Returns:
    The test-split metrics result of `seld_jax.metrics.evaluate`.
  """
  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  mesh = sharding_lib.make_mesh(config.get('model_parallelism', 1))
  sharding_lib.check_global_batch(config.batch_size, mesh)
  data_sharding = sharding_lib.data_sharding(mesh)
  datasets.ensure_built(config)

  # Data, model, steps
  # ---------------------------------------------------------------------------
  train_shard = input_pipeline.open_shard(
      config.dataset, config.train_split, config.get('data_dir')
  )
  if train_shard.sample_rate != config.sample_rate:
    raise ValueError(
        f'{config.dataset} holds {train_shard.sample_rate} Hz audio; the '
        f'config says sample_rate={config.sample_rate}.'
    )
  # A resumed run checks its embedding store against the one it started
  # with (config.json), not only against what the flags say.
  recorded = _recorded_config(workdir)
  config = _with_recorded_store(config, recorded)
  # The run's config as inference needs it: with the audio channel count
  # and the visual input's facts.
  config = with_overrides(
      config,
      num_channels=train_shard.num_channels,
      **visual_facts(config, train_shard),
  )
  ckpt = checkpointing.Checkpointer(
      os.path.join(workdir, CHECKPOINT_DIR),
      keep_latest=config.get('keep_checkpoints', 2),
      best_metric=config.get('best_metric'),
      best_mode=config.get('best_mode', 'min'),
  )
  start = ckpt.latest_step() or 0
  if start:
    try:
      check_resume_config(recorded, config, start)
    except ValueError:
      ckpt.close()
      raise
  save_config(config, workdir)
  run = build(config, workdir, mesh, shard=train_shard)
  model_def, state = run.model_def, run.state
  jtrain, jeval = run.train_step, run.eval_step
  logging.info('Model %s: %d parameters.', config.model, model_def.num_params)
  train_iter = iter(
      input_pipeline.create_train_dataset(
          config, data_sharding, shard=train_shard
      )
  )
  eval_data = input_pipeline.create_eval_dataset(
      with_overrides(config, eval_split=config.eval_split), data_sharding
  )
  eval_recordings = evaluate_lib.load_recordings(config, config.eval_split)
  missing = evaluate_lib.unlabeled(eval_recordings)
  if missing:
    raise ValueError(
        f'config.eval_split={config.eval_split!r} of {config.dataset} has'
        f' {len(missing)} recording(s) without labels (e.g. {missing[0]!r}):'
        ' training evaluates on a labelled split; predict an unlabelled one'
        ' with `python -m seld_jax.evaluate --split`.'
    )
  eval_frames = {r.index: r.num_frames for r in eval_recordings}

  # Checkpoints: resume from the latest
  # ---------------------------------------------------------------------------
  if start:
    logging.info('Resuming from step %d.', start)
    state = ckpt.restore(
        start, train_step.abstract_state(state, mesh), train_iter
    )

  writer = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() > 0
  )
  if start == 0:
    writer.write_hparams({
        k: v
        for k, v in config.to_dict().items()
        if isinstance(v, (int, float, str, bool))
    })
  hooks = []
  report = periodic_actions.ReportProgress(
      num_train_steps=config.num_train_steps, writer=writer
  )
  if jax.process_index() == 0:
    hooks.append(report)

  last_eval = {}

  def run_eval(step: int) -> dict[str, Any]:
    with report.timed('eval'):
      outputs, loss = evaluate_lib.predict(state, jeval, eval_data, eval_frames)
      result = evaluate_lib.score_and_write(
          config, eval_recordings, outputs, None
      )
    last_eval.update(step=step, outputs=outputs)
    scalars = evaluate_lib.scalar_metrics(result)
    writer.write_scalars(
        step, {f'eval_{k}': v for k, v in scalars.items()} | {'eval_loss': loss}
    )
    if eval_recordings:
      first = eval_recordings[0]
      image = plot.render_array(
          evaluate_lib.decode_output(outputs[first.index], config),
          first.reference,
          num_classes=config.num_classes,
          title=f'{first.id} step {step}',
          num_frames=first.num_frames,
      )
      writer.write_images(step, {'eval_plot': image[None]})
    logging.info('eval at step %d: %s', step, scalars)
    return result

  # The loop
  # ---------------------------------------------------------------------------
  pending = []
  interval_losses = []
  last_log = time.time()
  step = start
  with metric_writers.ensure_flushes(writer), _Preemption() as preempt:
    while step < config.num_train_steps:
      batch = next(train_iter)
      with jax.profiler.StepTraceAnnotation('train', step_num=step):
        state, metrics = jtrain(state, batch)
      step += 1
      pending.append((step, metrics))
      if len(pending) > _MAX_STEPS_IN_FLIGHT:
        # Bound how far the host runs ahead of the device: otherwise it
        # queues up to a whole log interval of steps (and their batches),
        # and SIGTERM waits for all of them.
        jax.block_until_ready(pending[-_MAX_STEPS_IN_FLIGHT - 1][1])
      for hook in hooks:
        hook(step)
      is_last = step == config.num_train_steps
      log_now = step % config.log_every_steps == 0 or is_last
      eval_now = step % config.eval_every_steps == 0 or is_last
      save_now = (
          step % config.checkpoint_every_steps == 0
          or is_last
          or preempt.requested
      )
      if log_now or eval_now or save_now:
        try:
          interval_losses += _check_finite(pending)
        except NonFiniteLossError:
          ckpt.close()  # finish writing the last good checkpoint
          raise
      if log_now and interval_losses:
        now = time.time()
        writer.write_scalars(
            step,
            {
                'train_loss': float(np.mean(interval_losses)),
                'grad_norm': float(metrics['grad_norm']),
                'steps_per_sec': (
                    len(interval_losses) / max(now - last_log, 1e-9)
                ),
            },
        )
        interval_losses, last_log = [], now
      result = run_eval(step) if eval_now else None
      if save_now:
        best = None
        if result is not None and config.get('best_metric'):
          best = {
              config.best_metric: float(result.get(config.best_metric, np.nan))
          }
        ckpt.save(step, state, train_iter, metrics=best, force=True)
      if preempt.requested:
        ckpt.wait_until_finished()
        logging.warning('Checkpoint saved at step %d; exiting.', step)
        ckpt.close()
        raise SystemExit(143)
  ckpt.wait_until_finished()
  final_step = ckpt.best_step() or ckpt.latest_step()
  ckpt.close()
  if (
      config.test_split == config.eval_split
      and final_step is not None
      and last_eval.get('step') == final_step
  ):
    # The test split was just predicted with the checkpoint to report: write
    # those predictions rather than restoring and predicting them again.
    logging.info(
        'Writing the evaluation of step %d on %s[%s].',
        final_step,
        config.dataset,
        config.test_split,
    )
    return _write_evaluation(
        config,
        workdir,
        config.test_split,
        eval_recordings,
        last_eval['outputs'],
        final_step,
    )
  return evaluate_checkpoint(
      config, workdir, split=config.test_split, mesh=mesh
  )


def evaluate_checkpoint(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    step: int | None = None,
    split: str | None = None,
    metric: str | None = None,
    mesh=None,
    allow_model_changes: bool = False,
) -> dict[str, Any]:
  """Restores a checkpoint (default: best, else latest), scores a split.

  Writes `W/eval/<split>/{pred/*.csv, metrics.json, plots/*.png}`. The
  model settings must be the run's (`check_eval_config`) unless
  `allow_model_changes`.
  """
  workdir = os.path.abspath(workdir)
  check_eval_config(
      _recorded_config(workdir),
      config,
      workdir,
      allow_changes=allow_model_changes,
  )
  split = split or config.test_split
  mesh = mesh or sharding_lib.make_mesh(config.get('model_parallelism', 1))
  if config.get('normalize', True) and not os.path.exists(
      os.path.join(workdir, STATS_FILE)
  ):
    raise FileNotFoundError(
        f'{workdir}/{STATS_FILE} not found: evaluate a trained run directory.'
    )
  shard = input_pipeline.open_shard(
      config.dataset, split, config.get('data_dir')
  )
  config = with_overrides(config, **visual_facts(config, shard))
  run = build(config, workdir, mesh)
  state, jeval = run.state, run.eval_step
  ckpt = checkpointing.Checkpointer(
      os.path.join(workdir, CHECKPOINT_DIR),
      best_metric=config.get('best_metric'),
      best_mode=config.get('best_mode', 'min'),
  )
  if step is None:
    step = ckpt.best_step() or ckpt.latest_step()
  if step is None:
    raise FileNotFoundError(f'No checkpoint in {workdir}/{CHECKPOINT_DIR}.')
  if step not in ckpt.all_steps():
    raise ValueError(f'No checkpoint at step {step}; have {ckpt.all_steps()}.')
  state = ckpt.restore(step, train_step.abstract_state(state, mesh))
  ckpt.close()
  logging.info('Evaluating step %d on %s[%s].', step, config.dataset, split)
  split_config = with_overrides(config, eval_split=split)
  eval_data = input_pipeline.create_eval_dataset(
      split_config, sharding_lib.data_sharding(mesh), shard=shard
  )
  recordings = evaluate_lib.load_recordings(config, split)
  outputs, _ = evaluate_lib.predict(
      state, jeval, eval_data, {r.index: r.num_frames for r in recordings}
  )
  return _write_evaluation(
      config, workdir, split, recordings, outputs, step, metric=metric
  )


def _write_evaluation(
    config, workdir, split, recordings, outputs, step, *, metric=None
) -> dict[str, Any]:
  """Scores `outputs` and writes `W/eval/<split>/`; the result with 'step'."""
  result = evaluate_lib.score_and_write(
      config,
      recordings,
      outputs,
      os.path.join(workdir, 'eval', split),
      metric=metric,
  )
  result['step'] = int(step)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices('evaluate_checkpoint')
  return result

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

"""The train state and the jitted, sharded train and eval steps.

One `jax.jit` step does: features (on device) -> normalisation ->
augmentation (when configured) -> model -> loss -> optax update. The model is
an `nnx.Module` split once into a graph definition and pytrees (parameters;
the rest: BatchNorm statistics and RNG state); the step is a plain function of
those pytrees, jitted with explicit shardings and the state donated, as the
flax gemma example does (no `nnx.jit` in the hot loop).

Audio-visual models take a second input: a batch with a 'visual' entry
(video frames or pre-extracted embeddings, `input_pipeline`, aligned with
the target's label frames) calls `model(features, visual)`, one without it
`model(features)`. Which applies is fixed by the batch structure, so it is
decided when the step is traced, and the audio augmentation moves the
frames together with the audio and the labels (`augment`'s AVCS).
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import functools
from typing import Any

import flax
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from seld_jax import features as features_lib
from seld_jax import input_pipeline
from seld_jax import losses
from seld_jax import models
from seld_jax import sharding as sharding_lib


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any  # nnx.State of nnx.Param
  rest: Any  # nnx.State of everything else (BatchStat, RNG state)
  opt_state: Any


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
  """What the step computes from raw audio, and the normalisation."""

  name: str
  sample_rate: int
  params: dict[str, Any]
  mean: np.ndarray | None = None  # [C', F] or None
  std: np.ndarray | None = None

  def shape(self, num_samples: int) -> tuple[int, int, int]:
    return features_lib.output_shape(
        self.name, num_samples, self.sample_rate, **self.params
    )

  def __call__(self, audio: jax.Array) -> jax.Array:
    x = features_lib.compute(self.name, audio, self.sample_rate, **self.params)
    if self.mean is not None:
      x = (x - self.mean[None, :, None, :]) / self.std[None, :, None, :]
    return x


def feature_spec(
    config: ml_collections.ConfigDict, stats: dict[str, np.ndarray] | None
) -> FeatureSpec:
  return FeatureSpec(
      name=config.features,
      sample_rate=config.sample_rate,
      params=dict(config.get('feature_params', {}) or {}),
      mean=None if stats is None else np.asarray(stats['mean'], np.float32),
      std=None if stats is None else np.asarray(stats['std'], np.float32),
  )


# Optimizer
# -----------------------------------------------------------------------------


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
  """Constant or warmup + cosine, from `config.schedule`."""
  lr = config.learning_rate
  warmup = int(config.get('warmup_steps', 0))
  kind = config.get('schedule', 'constant')
  if kind == 'constant':
    if warmup:
      return optax.join_schedules(
          [optax.linear_schedule(0.0, lr, warmup), optax.constant_schedule(lr)],
          [warmup],
      )
    return optax.constant_schedule(lr)
  if kind == 'cosine':
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0 if warmup else lr,
        peak_value=lr,
        warmup_steps=warmup,
        decay_steps=max(config.num_train_steps, warmup + 1),
        end_value=lr * config.get('end_learning_rate_factor', 0.0),
    )
  raise ValueError(f"schedule must be 'constant' or 'cosine', got {kind!r}.")


def param_path(path) -> str:
  """'a.b.c' name of a parameter from its pytree key path."""
  keys = [str(k.key) for k in path if hasattr(k, 'key')]
  return '.'.join(keys)


def prefix_hits(name: str, prefixes) -> list[str]:
  """The module-path prefixes that `name` ('a.b.c') lies under."""
  return [p for p in prefixes if name == p or name.startswith(p + '.')]


def check_prefixes_used(params: Any, prefixes, used, setting: str) -> None:
  """A prefix that matched no parameter is an error naming the modules."""
  unused = [p for p in prefixes if p not in used]
  if unused:
    tops = sorted({
        param_path(path).split('.')[0]
        for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]
    })
    raise ValueError(
        f"config.{setting}: {unused} match no parameter; the model's modules"
        f' are {tops}.'
    )


def freeze_labels(params: Any, prefixes) -> Any:
  """'frozen' for parameters under any of `prefixes`, else 'trained'.

  A prefix that matches no parameter is an error (a misspelt module would
  otherwise leave everything trainable without a word).
  """
  prefixes = tuple(prefixes or ())
  used = set()

  def label(path, _):
    hits = prefix_hits(param_path(path), prefixes)
    used.update(hits)
    return 'frozen' if hits else 'trained'

  labels = jax.tree_util.tree_map_with_path(label, params)
  check_prefixes_used(params, prefixes, used, 'freeze')
  return labels


def muon_dimension_numbers(
    params: Any, exclude=(), strict: bool = False
) -> Any:
  """How Muon sees each weight as matrices; None where Adam updates it.

  Muon orthogonalises the momentum of weight matrices `x W = y`: a Dense or
  Conv kernel is the matrix (all axes but the last) x (last axis), e.g.
  (3 * 3 * C_in) x C_out for a 3x3 conv; attention query/key/value kernels
  [in, heads, head_dim] are in x (heads * head_dim). Biases, normalisation
  scales, recurrent (GRU) weights and anything under an `exclude` prefix
  (the output layer, by the usual Muon practice) get Adam: the default
  recipe was measured so.

  Args:
    params: the parameter pytree (or its updates: only shapes matter).
    exclude: module-path prefixes left to Adam.
    strict: an `exclude` prefix that matches nothing is an error (a misspelt
      module would otherwise be updated by Muon without a word).

  Returns:
    A pytree of `optax.contrib.MuonDimensionNumbers` or None per leaf.
  """
  dims = optax.contrib.MuonDimensionNumbers
  exclude = tuple(exclude or ())
  used = set()

  def spec(path, x):
    name = param_path(path)
    hits = prefix_hits(name, exclude)
    used.update(hits)
    parts = name.split('.')
    if hits or x.ndim < 2 or parts[-1] != 'kernel':
      return None
    if len(parts) > 1 and parts[-2] in ('query', 'key', 'value'):
      return dims(reduction_axis=0, output_axis=tuple(range(1, x.ndim)))
    return dims(reduction_axis=tuple(range(x.ndim - 1)), output_axis=x.ndim - 1)

  specs = jax.tree_util.tree_map_with_path(spec, params)
  if strict:
    check_prefixes_used(params, exclude, used, 'muon_exclude')
  return specs


def create_optimizer(
    config: ml_collections.ConfigDict, params: Any = None
) -> optax.GradientTransformation:
  """Adam / AdamW / Muon with the configured schedule and gradient clipping.

  Parameters under `config.freeze` (module-path prefixes such as
  'sed_branch') get no updates when `params` is given.

  Args:
    config: the run config.
    params: the parameter pytree (needed for freezing).

  Returns:
    The optax transformation.
  """
  schedule = learning_rate_schedule(config)
  name = config.get('optimizer', 'adam')
  if name == 'adam':
    opt = optax.adam(schedule)
  elif name == 'adamw':
    opt = optax.adamw(schedule, weight_decay=config.get('weight_decay', 0.0))
  elif name == 'muon':
    # Muon (Jordan et al. 2024) on the weight matrices, Adam on the rest,
    # both at `schedule`: with consistent-RMS scaling (Liu et al. 2025,
    # update RMS 0.2, about AdamW's) Adam's learning rates carry over.
    exclude = tuple(config.get('muon_exclude', ('head',)) or ())
    if params is not None:
      muon_dimension_numbers(params, exclude, strict=True)
    opt = optax.contrib.muon(
        schedule,
        beta=config.get('muon_momentum', 0.95),
        consistent_rms=config.get('muon_rms', 0.2),
        muon_weight_dimension_numbers=functools.partial(
            muon_dimension_numbers, exclude=exclude
        ),
    )
  else:
    raise ValueError(
        f"optimizer must be 'adam', 'adamw' or 'muon', got {name!r}."
    )
  clip = config.get('grad_clip_norm', None)
  if clip:
    opt = optax.chain(optax.clip_by_global_norm(clip), opt)
  freeze = list(config.get('freeze', ()) or ())
  if (config.get('visual', '') or '') == 'embeddings':
    # The model is built without its front end (see `model_kwargs`).
    freeze = [p for p in freeze if p.split('.')[0] != 'visual_frontend']
  if freeze:
    if params is None:
      raise ValueError('config.freeze needs the parameters to label.')
    opt = optax.multi_transform(
        {'trained': opt, 'frozen': optax.set_to_zero()},
        freeze_labels(params, freeze),
    )
  return opt


# Model and state
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelDef:
  """Static parts of the model: graph definitions for train and eval mode."""

  train_graph: Any
  eval_graph: Any
  num_params: int


def model_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """`config.model_kwargs`, completed for the run's visual input.

  For an audio-visual model with a front end (`visual_frontend`):
  'frames' fills a missing `visual_size` from the dataset's frame size
  (`config.visual_frame_shape`, recorded by `train`); 'embeddings' builds
  the model without the front end (the store's rows are its output) and
  with `visual_dim` the store's row size (`config.visual_store`, else the
  store's meta.json).

  Args:
    config: the run config.

  Returns:
    The model's keyword arguments.
  """
  kwargs = dict(config.get('model_kwargs', {}) or {})
  visual = config.get('visual', '') or ''
  if not kwargs.get('visual_frontend'):
    return kwargs
  if visual == 'frames':
    shape = config.get('visual_frame_shape', None)
    if kwargs.get('visual_size') is None and shape:
      kwargs['visual_size'] = tuple(int(s) for s in shape[:2])
  elif visual == 'embeddings':
    meta = config.get('visual_store', None)
    if not meta:
      meta = input_pipeline.read_store_meta(config.get('visual_embeddings', ''))
    kwargs['visual_frontend'] = None
    kwargs['visual_size'] = None
    kwargs['visual_dim'] = int(np.prod(meta['shape']))
  return kwargs


def create_model(
    config: ml_collections.ConfigDict, input_shape: tuple[int, int, int]
) -> nnx.Module:
  channels, _, bins = input_shape
  dtype = jnp.bfloat16 if config.get('bf16', False) else None
  return models.create_model(
      config.model,
      in_channels=channels,
      num_freq_bins=bins,
      num_classes=config.num_classes,
      output=config.target,
      dtype=dtype,
      rngs=nnx.Rngs(params=config.seed, dropout=config.seed + 1),
      **model_kwargs(config),
  )


def create_train_state(
    config: ml_collections.ConfigDict,
    input_shape: tuple[int, int, int],
    init_params: Callable[[Any, Any], tuple[Any, Any]] | None = None,
) -> tuple[ModelDef, TrainState, optax.GradientTransformation]:
  """Builds the model, optimizer and its state (host arrays, unsharded).

  Args:
    config: the run config.
    input_shape: features (C', T, F) of one window.
    init_params: optional (params, rest) -> (params, rest) applied before the
      optimizer state is created (initialisation from another run).

  Returns:
    (model definition, state, optimizer).
  """
  model = create_model(config, input_shape)
  model.eval()
  eval_graph = nnx.graphdef(model)
  model.train()
  train_graph, params, rest = nnx.split(model, nnx.Param, ...)
  if init_params is not None:
    params, rest = init_params(params, rest)
  tx = create_optimizer(config, params)
  num_params = sum(x.size for x in jax.tree.leaves(params))
  state = TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      rest=rest,
      opt_state=tx.init(params),
  )
  return ModelDef(train_graph, eval_graph, num_params), state, tx


def state_sharding(state: TrainState, mesh) -> Any:
  """Every leaf of the (small) SELD train state is replicated."""
  replicated = sharding_lib.replicated(mesh)
  return jax.tree.map(lambda _: replicated, state)


# Steps
# -----------------------------------------------------------------------------


def _frame_mask(mask: jax.Array, shape) -> jax.Array:
  """A [B] (per window) or [B, T] (per frame) mask as [B, T] floats."""
  mask = mask.astype(jnp.float32)
  if mask.ndim == 1:
    mask = jnp.broadcast_to(mask[:, None], shape)
  return mask


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  mask = _frame_mask(mask, values.shape)
  return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def apply_model(model, feats: jax.Array, visual: jax.Array | None):
  """`model(feats)`, or `model(feats, visual)` for an audio-visual batch."""
  return model(feats) if visual is None else model(feats, visual)


def make_train_step(
    model_def: ModelDef,
    tx: optax.GradientTransformation,
    feature_fn: Callable[[jax.Array], jax.Array],
    target: str,
    *,
    audio_augment: Callable[..., Any] | None = None,
    feature_augment: Callable[..., Any] | None = None,
    augment_seed: int = 0,
    loss_options: dict[str, Any] | None = None,
) -> Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, dict]]:
  """The (unjitted) train step: state, batch -> new state, metrics.

  Args:
    model_def: graph definitions from `create_train_state`.
    tx: the optimizer.
    feature_fn: raw audio [B, C, N] -> normalised features [B, C', T, F].
    target: the output representation, selecting the loss.
    audio_augment: optional (key, audio, target, visual) -> (audio, target,
      visual), label-consistent augmentation of the waveforms (and of the
      video frames with them; visual is None for an audio-only batch),
      inside the step.
    feature_augment: optional (key, features, target) -> (features, target),
      augmentation of the normalised features.
    augment_seed: seed of the augmentation RNG stream (its own stream,
      folded with the step number, independent of dropout).
    loss_options: keyword options of the loss (e.g. 'sed_doa' weights).

  Returns:
    The step function. `batch` holds 'audio' [B, C, N], 'target' and 'mask'
    ([B] per window or [B, T] per label frame; 1 for real data, 0 for
    padding), and 'visual' [B, T, ...] for audio-visual models.
  """

  loss_options = dict(loss_options or {})

  def step(state: TrainState, batch: dict[str, jax.Array]):
    audio, tgt = batch['audio'], batch['target']
    visual = batch.get('visual')
    key = jax.random.fold_in(jax.random.key(augment_seed), state.step)
    audio_key, feature_key = jax.random.split(key)
    if audio_augment is not None:
      audio, tgt, visual = audio_augment(audio_key, audio, tgt, visual)
    feats = feature_fn(audio)
    if feature_augment is not None:
      feats, tgt = feature_augment(feature_key, feats, tgt)

    def loss_fn(params):
      model = nnx.merge(model_def.train_graph, params, state.rest, copy=True)
      out = apply_model(model, feats, visual)
      per_frame = losses.per_frame_loss(target, out, tgt, **loss_options)
      loss = _masked_mean(per_frame, batch['mask'])
      _, _, new_rest = nnx.split(model, nnx.Param, ...)
      return loss, new_rest

    (loss, new_rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params
    )
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = TrainState(
        step=state.step + 1,
        params=params,
        rest=new_rest,
        opt_state=opt_state,
    )
    metrics = {'loss': loss, 'grad_norm': optax.global_norm(grads)}
    return new_state, metrics

  return step


def flatten_output(out) -> jax.Array:
  """A model output as one array [B, T, D] for stitching and decoding.

  SED + DOA outputs ({'sed': logits, 'doa': ...}) become
  `[sigmoid(sed) | doa]`.
  """
  if isinstance(out, dict):
    return jnp.concatenate([jax.nn.sigmoid(out['sed']), out['doa']], axis=-1)
  return out


def make_eval_step(
    model_def: ModelDef,
    feature_fn: Callable[[jax.Array], jax.Array],
    target: str,
    *,
    loss_options: dict[str, Any] | None = None,
) -> Callable[[TrainState, dict[str, jax.Array]], dict[str, jax.Array]]:
  """The eval step: outputs and the masked loss of a batch of windows."""
  loss_options = dict(loss_options or {})

  def step(state: TrainState, batch: dict[str, jax.Array]):
    feats = feature_fn(batch['audio'])
    model = nnx.merge(model_def.eval_graph, state.params, state.rest)
    out = apply_model(model, feats, batch.get('visual'))
    per_frame = losses.per_frame_loss(
        target, out, batch['target'], **loss_options
    )
    mask = _frame_mask(batch['mask'], per_frame.shape)
    return {
        'output': flatten_output(out),
        'loss_sum': jnp.sum(per_frame * mask),
        'count': jnp.sum(mask),
    }

  return step


def jit_steps(
    train_step,
    eval_step,
    state: TrainState,
    mesh,
) -> tuple[Callable, Callable]:
  """Jits the steps with explicit shardings; the train state is donated."""
  state_sh = state_sharding(state, mesh)
  data_sh = sharding_lib.data_sharding(mesh)
  replicated = sharding_lib.replicated(mesh)
  jitted_train = jax.jit(
      train_step,
      in_shardings=(state_sh, data_sh),
      out_shardings=(state_sh, replicated),
      donate_argnums=0,
  )
  jitted_eval = jax.jit(
      eval_step,
      in_shardings=(state_sh, data_sh),
      out_shardings={
          'output': data_sh,
          'loss_sum': replicated,
          'count': replicated,
      },
  )
  return jitted_train, jitted_eval


def place_state(state: TrainState, mesh) -> TrainState:
  """Host state (identical on every process) -> global replicated arrays.

  `make_array_from_callback` works across processes, where `device_put` of a
  host value onto non-addressable devices does not.
  """

  def place(x, sharding):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      impl = jax.random.key_impl(x)
      data = place(jax.random.key_data(x), sharding)
      return jax.jit(
          lambda d: jax.random.wrap_key_data(d, impl=impl),
          out_shardings=sharding,
      )(data)
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])

  return jax.tree.map(place, state, state_sharding(state, mesh))


def abstract_state(state: TrainState, mesh) -> Any:
  """ShapeDtypeStructs with shardings, for checkpoint restoration."""
  sh = state_sharding(state, mesh)
  return jax.tree.map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      state,
      sh,
  )


@dataclasses.dataclass(frozen=True)
class Setup:
  """Everything a run needs to step: model, placed state, jitted steps."""

  model_def: ModelDef
  state: TrainState
  train_step: Callable[..., Any]
  eval_step: Callable[..., Any]
  features: FeatureSpec
  input_shape: tuple[int, int, int]


def setup(
    config: ml_collections.ConfigDict,
    mesh,
    stats: dict[str, np.ndarray] | None = None,
    *,
    init_params: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    audio_augment: Callable[..., Any] | None = None,
    feature_augment: Callable[..., Any] | None = None,
) -> Setup:
  """Builds the model and jitted steps of `config` on `mesh`.

  Args:
    config: the run config.
    mesh: the device mesh.
    stats: feature normalisation statistics ({'mean', 'std'}) or None.
    init_params: see `create_train_state`.
    audio_augment: see `make_train_step`.
    feature_augment: see `make_train_step`.

  Returns:
    The `Setup` (state placed on the mesh, replicated).
  """
  spec = feature_spec(config, stats)
  input_shape = spec.shape(
      int(round(config.window_seconds * config.sample_rate))
  )
  model_def, state, tx = create_train_state(config, input_shape, init_params)
  loss_options = dict(config.get('loss_options', {}) or {})
  train = make_train_step(
      model_def,
      tx,
      spec,
      config.target,
      audio_augment=audio_augment,
      feature_augment=feature_augment,
      augment_seed=config.seed + 7919,
      loss_options=loss_options,
  )
  evaluate = make_eval_step(
      model_def, spec, config.target, loss_options=loss_options
  )
  jtrain, jeval = jit_steps(train, evaluate, state, mesh)
  return Setup(
      model_def=model_def,
      state=place_state(state, mesh),
      train_step=jtrain,
      eval_step=jeval,
      features=spec,
      input_shape=input_shape,
  )

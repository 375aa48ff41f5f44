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

"""SELD losses: ADPIT (2023/2024/2025), ACCDOA MSE, SED BCE + masked DOA.

All functions are pure `jax.numpy`, safe under `jax.jit`, `jax.vmap` and
`jax.grad`, and return scalar means unless stated. Layouts follow the official
code (SPEC §4): a multi-ACCDOA output is `[B, T, 3*K*C]`, track-major, then
element, then class, or the same as `[B, T, 3, K, C]`; an ADPIT target is
`[B, T, 6, 1+K, C]` with the slots A0, B0, B1, C0, C1, C2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# The 13 ADPIT candidates as (track0, track1, track2) slot indices, in the
# official order: A0A0A0, the 6 B arrangements, the 6 C orderings.
_A0, _B0, _B1, _C0, _C1, _C2 = range(6)
_PERMUTATIONS = (
    (_A0, _A0, _A0),
    (_B0, _B0, _B1),
    (_B0, _B1, _B0),
    (_B0, _B1, _B1),
    (_B1, _B0, _B0),
    (_B1, _B0, _B1),
    (_B1, _B1, _B0),
    (_C0, _C1, _C2),
    (_C0, _C2, _C1),
    (_C1, _C0, _C2),
    (_C1, _C2, _C0),
    (_C2, _C0, _C1),
    (_C2, _C1, _C0),
)
NUM_PERMUTATIONS = len(_PERMUTATIONS)


def _candidate_targets(slots: jax.Array) -> jax.Array:
  """The 13 padded ADPIT candidate targets.

  Args:
    slots: [B, T, 6, E, C] per-slot target values (already activity-masked
      where the official code masks them).

  Returns:
    [13, B, T, 3, E, C]: candidate p puts slots `_PERMUTATIONS[p]` on the
    three tracks, plus the official "padding" (the first arrangement of the
    two other groups), so that no candidate is all-zero when another group is
    populated.
  """

  def arrangement(p):
    return jnp.stack([slots[:, :, s] for s in _PERMUTATIONS[p]], axis=2)

  a, b, c = arrangement(0), arrangement(1), arrangement(7)
  pad = {'A': b + c, 'B': a + c, 'C': a + b}
  cands = []
  for p in range(NUM_PERMUTATIONS):
    group = 'A' if p == 0 else ('B' if p <= 6 else 'C')
    cands.append(arrangement(p) + pad[group])
  return jnp.stack(cands, axis=0)


def _as_tracks(output: jax.Array, target: jax.Array, k: int) -> jax.Array:
  """Output as [B, T, 3, k, C] (accepts the flat official layout)."""
  b, t = target.shape[:2]
  c = target.shape[-1]
  if output.ndim == 3:
    if output.shape[-1] != 3 * k * c:
      raise ValueError(
          f'Output last dimension {output.shape[-1]} != 3 tracks x {k} '
          f'elements x {c} classes.'
      )
    return output.reshape(b, t, 3, k, c)
  if output.ndim == 5 and output.shape[2:] == (3, k, c):
    return output
  raise ValueError(
      f'Output shape {output.shape} is neither [B, T, 3*{k}*{c}] nor '
      f'[B, T, 3, {k}, {c}].'
  )


def _select_min(
    losses: jax.Array, extra: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
  """Per-(b, t, c) loss of the permutation minimising `losses` [13, ...]."""
  best = jax.lax.stop_gradient(jnp.argmin(losses, axis=0))
  chosen = losses if extra is None else losses + extra
  picked = jnp.take_along_axis(chosen, best[None], axis=0)[0]
  return picked, best


def adpit_per_element(output: jax.Array, target: jax.Array) -> jax.Array:
  """ADPIT loss per (batch, frame, class) before the final mean.

  Args:
    output: [B, T, 3*K*C] or [B, T, 3, K, C].
    target: [B, T, 6, 1+K, C].

  Returns:
    [B, T, C] the MSE (mean over the 3K track elements) of the best of the 13
    candidate targets.
  """
  k = target.shape[3] - 1
  y = _as_tracks(output, target, k)
  slots = target[:, :, :, :1, :] * target[:, :, :, 1:, :]  # act * vec
  cands = _candidate_targets(slots)  # [13, B, T, 3, K, C]
  losses = jnp.mean((y[None] - cands) ** 2, axis=(3, 4))  # [13, B, T, C]
  picked, _ = _select_min(losses)
  return picked


def adpit(output: jax.Array, target: jax.Array) -> jax.Array:
  """Multi-ACCDOA ADPIT loss, equal to the official `MSELoss_ADPIT`.

  K = target.shape[3] - 1: 3 (DCASE2023: x, y, z) or 4 (DCASE2024: x, y, z,
  distance in metres, activity-masked and part of the permutation choice).

  Args:
    output: [B, T, 3*K*C] (official flat layout) or [B, T, 3, K, C].
    target: [B, T, 6, 1+K, C] from `seld_jax.targets.multi_accdoa`.

  Returns:
    The scalar mean over batch, frames and classes.
  """
  return jnp.mean(adpit_per_element(output, target))


# torch's `binary_cross_entropy_backward` divides by max(p (1 - p), EPSILON).
_BCE_EPSILON = 1e-12


@jax.custom_vjp
def _bce(prob: jax.Array, target: jax.Array) -> jax.Array:
  return _bce_fwd(prob, target)[0]


def _bce_fwd(prob, target):
  log_p = jnp.maximum(jnp.log(prob), -100.0)
  log_1mp = jnp.maximum(jnp.log1p(-prob), -100.0)
  value = -(target * log_p + (1.0 - target) * log_1mp)
  return value, (prob, target, log_p, log_1mp)


def _bce_bwd(residuals, g):
  prob, target, log_p, log_1mp = residuals
  d_prob = g * (prob - target) / jnp.maximum((1.0 - prob) * prob, _BCE_EPSILON)
  return d_prob, g * (log_1mp - log_p)


_bce.defvjp(_bce_fwd, _bce_bwd)


def binary_cross_entropy(prob: jax.Array, target: jax.Array) -> jax.Array:
  """Element-wise BCE on probabilities, as torch's `nn.BCELoss`.

  The value clamps the logs at -100; the gradient is torch's,
  (p - t) / max(p (1 - p), 1e-12), finite where a sigmoid output has
  saturated to exactly 0 or 1 (|logit| >~ 17 in float32). Differentiating
  the clamped logs instead gives 0 * inf = NaN there, which stopped
  audio-visual training once the on-screen output became that confident.

  Args:
    prob: probabilities in [0, 1].
    target: targets, broadcastable with `prob`.

  Returns:
    The element-wise loss, of the broadcast shape.
  """
  prob, target = jnp.broadcast_arrays(prob, target)
  return _bce(prob, target)


def adpit_stereo_per_element(output: jax.Array, target: jax.Array) -> jax.Array:
  """The DCASE2025 stereo ADPIT loss per (batch, frame, class): [B, T, C]."""
  k = target.shape[3] - 1
  y = _as_tracks(output, target, k)
  slots = target[:, :, :, :1, :] * target[:, :, :, 1:4, :]
  cands = _candidate_targets(slots)  # [13, B, T, 3, 3, C]
  losses = jnp.mean((y[None, :, :, :, 0:3] - cands) ** 2, axis=(3, 4))
  extra = None
  if k == 4:
    on_cands = _candidate_targets(target[:, :, :, 4:5, :])  # not masked
    bce = binary_cross_entropy(y[None, :, :, :, 3:4], on_cands)
    extra = jnp.mean(bce, axis=(3, 4))
  picked, _ = _select_min(losses, extra)
  return picked


def adpit_stereo(output: jax.Array, target: jax.Array) -> jax.Array:
  """The DCASE2025 stereo ADPIT loss (`loss.py:SELDLossADPIT`).

  The permutation is chosen on the MSE of (x, y, distance) against the
  activity-masked targets; audio-visual outputs add, for the chosen
  permutation, the BCE of the three on-screen outputs against the permuted
  (not activity-masked) on-screen targets.

  Args:
    output: [B, T, 3*K*C] or [B, T, 3, K, C]; K = 3 (x, y, dist) for audio,
      4 (x, y, dist, onscreen probability) for audio-visual.
    target: [B, T, 6, 4, C] ([act, x, y, dist]) or [B, T, 6, 5, C] (with
      onscreen).

  Returns:
    The scalar mean.
  """
  return jnp.mean(adpit_stereo_per_element(output, target))


def accdoa_mse(output: jax.Array, target: jax.Array) -> jax.Array:
  """Single-ACCDOA loss: plain MSE (`nn.MSELoss()`)."""
  if output.shape != target.shape:
    raise ValueError(f'Output {output.shape} != target {target.shape}.')
  return jnp.mean((output - target) ** 2)


def accdoa_stereo_av(
    output: jax.Array, target: jax.Array, num_classes: int = 13
) -> jax.Array:
  """2025 audio-visual single-ACCDOA: (MSE(x, y, dist) + BCE(onscreen)) / 2.

  Args:
    output: [B, T, 4C] = [x|y|dist|onscreen probability].
    target: [B, T, 4C].
    num_classes: C.

  Returns:
    The scalar loss.
  """
  c = num_classes
  mse = accdoa_mse(output[..., : 3 * c], target[..., : 3 * c])
  bce = jnp.mean(
      binary_cross_entropy(output[..., 3 * c :], target[..., 3 * c :])
  )
  return (mse + bce) / 2


def masked_doa_mse(
    doa: jax.Array, doa_target: jax.Array, activity: jax.Array
) -> jax.Array:
  """DOA MSE over active (frame, class) pairs only.

  Args:
    doa: [..., D*C] or [..., D, C] predicted directions (D = 2 or 3 elements,
      element-major as `[x|y|z]`).
    doa_target: same shape as `doa`.
    activity: [..., C] in [0, 1]: the mask (reference activity while
      training, as SELDnet's `masked_mse` and the two-stage method's stage 2).

  Returns:
    sum(mask * (doa - target)^2) / (D * sum(mask)); 0 when nothing is active.
  """
  c = activity.shape[-1]
  if doa.shape[-1] != c:
    doa = doa.reshape(*doa.shape[:-1], -1, c)
    doa_target = doa_target.reshape(doa.shape)
  d = doa.shape[-2]
  mask = activity[..., None, :]
  se = mask * (doa - doa_target) ** 2
  denom = d * jnp.sum(activity)
  return jnp.sum(se) / jnp.maximum(denom, 1.0)


def sed_bce_with_logits(logits: jax.Array, target: jax.Array) -> jax.Array:
  """Mean binary cross-entropy from logits (numerically stable)."""
  losses = (
      jnp.maximum(logits, 0)
      - logits * target
      + jnp.log1p(jnp.exp(-jnp.abs(logits)))
  )
  return jnp.mean(losses)


def sed_doa_loss(
    sed_logits: jax.Array,
    doa: jax.Array,
    sed_target: jax.Array,
    doa_target: jax.Array,
    doa_weight: float = 1.0,
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """SELDnet-style loss: SED BCE + doa_weight * activity-masked DOA MSE.

  Args:
    sed_logits: [B, T, C] class activity logits.
    doa: [B, T, D*C] directions.
    sed_target: [B, T, C] in {0, 1}.
    doa_target: [B, T, D*C].
    doa_weight: weight of the DOA term (DCASE2019 used 50 with its
      unmasked azimuth/elevation regression).

  Returns:
    (total loss, {'sed': ..., 'doa': ...}).
  """
  sed = sed_bce_with_logits(sed_logits, sed_target)
  doa_l = masked_doa_mse(doa, doa_target, sed_target)
  return sed + doa_weight * doa_l, {'sed': sed, 'doa': doa_l}


def sed_doa_per_frame(
    output: dict[str, jax.Array],
    target_values: dict[str, jax.Array],
    sed_weight: float = 1.0,
    doa_weight: float = 1.0,
) -> jax.Array:
  """SED BCE + activity-masked DOA MSE per frame: [B, T].

  BCE is the mean over classes; the DOA term is the mean over the 3C (or 2C)
  direction elements of `activity * (doa - target)^2` (reference activity,
  as SELDnet's masked loss and the two-stage method's stage 2).

  Args:
    output: {'sed': logits [B, T, C], 'doa': [B, T, D*C]}.
    target_values: {'sed': [B, T, C] in {0, 1}, 'doa': [B, T, D*C]}.
    sed_weight: weight of the SED term (0 trains DOA only).
    doa_weight: weight of the DOA term (0 trains SED only).

  Returns:
    float [B, T].
  """
  logits, sed_t = output['sed'], target_values['sed']
  bce = (
      jnp.maximum(logits, 0)
      - logits * sed_t
      + jnp.log1p(jnp.exp(-jnp.abs(logits)))
  )
  c = sed_t.shape[-1]
  doa = output['doa'].reshape(*output['doa'].shape[:-1], -1, c)
  doa_t = target_values['doa'].reshape(doa.shape)
  se = sed_t[..., None, :] * (doa - doa_t) ** 2
  return sed_weight * jnp.mean(bce, axis=-1) + doa_weight * jnp.mean(
      se, axis=(-2, -1)
  )


def per_frame_loss(target: str, output, target_values, **options) -> jax.Array:
  """The training loss of one output representation, per frame: [B, T].

  Its mean over batch and frames equals the official loss of that
  representation (ADPIT for 'multi_accdoa' / 'multi_accdoa_distance', stereo
  ADPIT for 'multi_accdoa_stereo', MSE for 'single_accdoa'); per-frame values
  let the step weight padded frames and windows by a mask.

  Args:
    target: the representation name (as `seld_jax.targets` / the config).
    output: the model output for it, [B, T, ...] (a dict for 'sed_doa').
    target_values: the dense target, [B, T, ...] (a dict for 'sed_doa').
    **options: loss weights of 'sed_doa' (`sed_weight`, `doa_weight`).

  Returns:
    float [B, T].
  """
  if target in ('multi_accdoa', 'multi_accdoa_distance'):
    return jnp.mean(adpit_per_element(output, target_values), axis=2)
  if target in ('multi_accdoa_stereo', 'multi_accdoa_stereo_av'):
    return jnp.mean(adpit_stereo_per_element(output, target_values), axis=2)
  if target == 'sed_doa':
    return sed_doa_per_frame(output, target_values, **options)
  if target == 'single_accdoa':
    if output.shape != target_values.shape:
      raise ValueError(
          f'Output {output.shape} != target {target_values.shape}.'
      )
    return jnp.mean(
        (output - target_values) ** 2, axis=tuple(range(2, output.ndim))
    )
  raise ValueError(
      f'No per-frame loss for target {target!r}; known: multi_accdoa, '
      'multi_accdoa_distance, multi_accdoa_stereo(_av), single_accdoa, '
      'sed_doa.'
  )

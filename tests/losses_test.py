"""Tests for seld_jax.losses."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seld_jax import events as events_lib
from seld_jax import losses
from seld_jax import targets


def _reference_adpit(output, target):
  """A literal numpy port of the SPEC §4 pseudo-code (`MSELoss_ADPIT`)."""
  b, t = target.shape[:2]
  k, c = target.shape[3] - 1, target.shape[4]
  act, vec = target[:, :, :, 0:1, :], target[:, :, :, 1:, :]
  a0, b0, b1, c0, c1, c2 = [act[:, :, i] * vec[:, :, i] for i in range(6)]
  cat = lambda x, y, z: np.concatenate([x, y, z], axis=2)
  aaa = cat(a0, a0, a0)
  b_perms = [
      cat(b0, b0, b1),
      cat(b0, b1, b0),
      cat(b0, b1, b1),
      cat(b1, b0, b0),
      cat(b1, b0, b1),
      cat(b1, b1, b0),
  ]
  c_perms = [
      cat(c0, c1, c2),
      cat(c0, c2, c1),
      cat(c1, c0, c2),
      cat(c1, c2, c0),
      cat(c2, c0, c1),
      cat(c2, c1, c0),
  ]
  pad4a = b_perms[0] + c_perms[0]
  pad4b = aaa + c_perms[0]
  pad4c = aaa + b_perms[0]
  tgts = (
      [aaa + pad4a]
      + [p + pad4b for p in b_perms]
      + [p + pad4c for p in c_perms]
  )
  y = output.reshape(b, t, 3 * k, c)
  ls = np.stack([np.mean((y - g) ** 2, axis=2) for g in tgts])
  best = np.argmin(ls, axis=0)
  return np.mean(sum(ls[p] * (best == p) for p in range(13)))


def _random_target(rng, b=2, t=8, c=5, distance=False):
  tables = []
  out = []
  for _ in range(b):
    n = 40
    table = events_lib.EventTable.from_columns(
        rng.integers(0, t, n),
        rng.integers(0, c, n),
        rng.uniform(-180, 180, n),
        rng.uniform(-60, 60, n),
        source=rng.integers(0, 3, n),
        distance=rng.uniform(0.5, 4, n),
    )
    tables.append(table)
    out.append(targets.multi_accdoa(table, t, c, distance=distance))
  return np.stack(out)


@pytest.mark.parametrize('distance', [False, True])
def test_matches_reference_on_random_targets(distance):
  rng = np.random.default_rng(0)
  target = _random_target(rng, distance=distance)
  k = 4 if distance else 3
  output = rng.uniform(-1, 1, (2, 8, 3 * k * 5)).astype(np.float32)
  got = losses.adpit(jnp.asarray(output), jnp.asarray(target))
  want = _reference_adpit(output.astype(np.float64), target.astype(np.float64))
  np.testing.assert_allclose(float(got), want, rtol=1e-6)
  # The [B, T, 3, K, C] layout gives the same value.
  got5 = losses.adpit(jnp.asarray(output.reshape(2, 8, 3, k, 5)), target)
  np.testing.assert_allclose(float(got5), float(got), rtol=1e-7)


def _one_frame_target(vectors):
  """Target [1, 1, 6, 4, 1] for n same-class instances at one frame."""
  table = events_lib.EventTable.from_columns(
      [0] * len(vectors),
      [0] * len(vectors),
      [v[0] for v in vectors],
      [v[1] for v in vectors],
      source=list(range(len(vectors))),
  )
  return targets.multi_accdoa(table, 1, 1)[None]


def _tracks_output(track_dirs):
  """Output [1, 1, 3, 3, 1] with unit vectors at (azimuth, elevation)."""
  xyz = events_lib.polar_to_cartesian(
      [d[0] for d in track_dirs], [d[1] for d in track_dirs]
  )
  return xyz.reshape(1, 1, 3, 3, 1).astype(np.float32)


def test_hand_built_single_instance():
  target = _one_frame_target([(90, 0)])
  perfect = _tracks_output([(90, 0)] * 3)
  assert float(losses.adpit(perfect, target)) == pytest.approx(0, abs=1e-12)
  # Only one track right: each wrong track adds |v - a|^2 = 2 over 9 elements.
  one = _tracks_output([(90, 0), (-90, 0), (-90, 0)])
  assert float(losses.adpit(one, target)) == pytest.approx(8 / 9, rel=1e-6)


def test_hand_built_two_instances_best_arrangement():
  target = _one_frame_target([(0, 0), (90, 0)])
  # Any of the six B arrangements is a perfect fit.
  for arrangement in [(0, 0, 90), (90, 0, 90), (90, 90, 0), (0, 90, 90)]:
    out = _tracks_output([(a, 0) for a in arrangement])
    assert float(losses.adpit(out, target)) == pytest.approx(0, abs=1e-12)
  # All three tracks on one instance: not a candidate, so an error remains.
  out = _tracks_output([(0, 0)] * 3)
  assert float(losses.adpit(out, target)) == pytest.approx(2 / 9, rel=1e-6)


def test_hand_built_three_instances():
  dirs = [(0, 0), (90, 0), (0, 90)]
  target = _one_frame_target(dirs)
  for perm in itertools.permutations(dirs):
    out = _tracks_output(list(perm))
    assert float(losses.adpit(out, target)) == pytest.approx(0, abs=1e-12)
  out = _tracks_output([(0, 0), (0, 0), (0, 90)])
  assert float(losses.adpit(out, target)) == pytest.approx(2 / 9, rel=1e-6)


def test_inactive_class_target_is_zero():
  target = np.zeros((1, 1, 6, 4, 1), np.float32)
  out = np.full((1, 1, 9), 0.5, np.float32)
  assert float(losses.adpit(out, target)) == pytest.approx(0.25)


@pytest.mark.parametrize('distance', [False, True])
def test_permuting_output_tracks_never_changes_the_loss(distance):
  rng = np.random.default_rng(1)
  target = _random_target(rng, distance=distance)
  k = 4 if distance else 3
  out = rng.uniform(-1, 1, (2, 8, 3, k, 5)).astype(np.float32)
  base = float(losses.adpit(out, target))
  for perm in itertools.permutations(range(3)):
    got = float(losses.adpit(out[:, :, list(perm)], target))
    np.testing.assert_allclose(got, base, rtol=1e-6)


def test_jit_vmap_grad():
  rng = np.random.default_rng(2)
  target = jnp.asarray(_random_target(rng))
  out = jnp.asarray(rng.uniform(-1, 1, (2, 8, 45)).astype(np.float32))
  eager = losses.adpit(out, target)
  np.testing.assert_allclose(jax.jit(losses.adpit)(out, target), eager, 1e-6)
  per_example = jax.vmap(lambda o, t: losses.adpit(o[None], t[None]))(
      out, target
  )
  np.testing.assert_allclose(per_example.mean(), eager, rtol=1e-6)
  grad = jax.grad(losses.adpit)(out, target)
  assert grad.shape == out.shape and bool(jnp.all(jnp.isfinite(grad)))
  # Finite-difference check of one coordinate.
  eps = 1e-3
  idx = (0, 3, 7)
  delta = jnp.zeros_like(out).at[idx].set(eps)
  fd = losses.adpit(out + delta, target) - losses.adpit(out - delta, target)
  np.testing.assert_allclose(fd / (2 * eps), grad[idx], rtol=2e-2, atol=1e-5)


def test_shape_errors():
  target = jnp.zeros((1, 2, 6, 4, 13))
  with pytest.raises(ValueError, match='3 tracks'):
    losses.adpit(jnp.zeros((1, 2, 100)), target)
  with pytest.raises(ValueError, match='neither'):
    losses.adpit(jnp.zeros((1, 2, 3, 4, 13)), target)


def _reference_stereo(output, target):
  """A literal numpy port of SPEC §4 for the 2025 `SELDLossADPIT`."""
  b, t, _, e1, c = target.shape
  k = e1 - 1
  y = output.reshape(b, t, 3, k, c)
  acc = y[:, :, :, 0:3, :].reshape(b, t, 9, c)

  def perms(slots):
    a0, b0, b1, c0, c1, c2 = [slots[:, :, i] for i in range(6)]
    cat = lambda x, y_, z: np.concatenate([x, y_, z], axis=2)
    aaa = cat(a0, a0, a0)
    bp = [
        cat(b0, b0, b1),
        cat(b0, b1, b0),
        cat(b0, b1, b1),
        cat(b1, b0, b0),
        cat(b1, b0, b1),
        cat(b1, b1, b0),
    ]
    cp = [
        cat(c0, c1, c2),
        cat(c0, c2, c1),
        cat(c1, c0, c2),
        cat(c1, c2, c0),
        cat(c2, c0, c1),
        cat(c2, c1, c0),
    ]
    return (
        [aaa + bp[0] + cp[0]]
        + [p + aaa + cp[0] for p in bp]
        + [p + aaa + bp[0] for p in cp]
    )

  l_acc = [
      np.mean((acc - g) ** 2, axis=2)
      for g in perms(target[:, :, :, 0:1] * target[:, :, :, 1:4])
  ]
  if k == 4:
    on = y[:, :, :, 3, :]

    def bce(p, g):
      return -(
          g * np.maximum(np.log(p), -100)
          + (1 - g) * np.maximum(np.log(1 - p), -100)
      )

    l_on = [np.mean(bce(on, g), axis=2) for g in perms(target[:, :, :, 4:5])]
  else:
    l_on = [0.0] * 13
  best = np.argmin(np.stack(l_acc), axis=0)
  return np.mean(sum((l_acc[p] + l_on[p]) * (best == p) for p in range(13)))


@pytest.mark.parametrize('onscreen', [False, True])
def test_stereo_adpit_matches_reference(onscreen):
  rng = np.random.default_rng(3)
  tabs = []
  for _ in range(2):
    n = 30
    table = events_lib.EventTable.from_columns(
        rng.integers(0, 6, n),
        rng.integers(0, 4, n),
        rng.uniform(-90, 90, n),
        source=rng.integers(0, 3, n),
        distance=rng.uniform(0.5, 4, n),
        onscreen=rng.integers(0, 2, n),
    )
    tabs.append(targets.multi_accdoa_stereo(table, 6, 4, onscreen=onscreen))
  target = np.stack(tabs)
  k = 4 if onscreen else 3
  out = rng.uniform(-1, 1, (2, 6, 3, k, 4))
  if onscreen:
    out[:, :, :, 3] = rng.uniform(0.01, 0.99, out[:, :, :, 3].shape)
  got = losses.adpit_stereo(out.astype(np.float32), target)
  np.testing.assert_allclose(
      float(got), _reference_stereo(out, target), rtol=1e-5
  )
  # The engine's per-frame loss of the configured target averages to it.
  name = 'multi_accdoa_stereo_av' if onscreen else 'multi_accdoa_stereo'
  per_frame = losses.per_frame_loss(
      name, jnp.asarray(out.reshape(2, 6, -1), jnp.float32), target
  )
  assert per_frame.shape == (2, 6)
  np.testing.assert_allclose(
      float(jnp.mean(per_frame)), _reference_stereo(out, target), rtol=1e-5
  )


def test_single_accdoa_and_sed_doa_losses():
  out = jnp.array([[0.5, -0.5]])
  tgt = jnp.array([[1.0, 0.0]])
  assert float(losses.accdoa_mse(out, tgt)) == pytest.approx(0.25)
  # Masked DOA: only the active class counts.
  doa = jnp.array([[[1.0, 5.0, 0.0, 5.0, 0.0, 5.0]]])  # [x|y|z] for C=2
  doa_t = jnp.array([[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]])
  act = jnp.array([[[1.0, 0.0]]])
  assert float(losses.masked_doa_mse(doa, doa_t, act)) == pytest.approx(1 / 3)
  assert float(losses.masked_doa_mse(doa, doa_t, 0 * act)) == 0.0
  total, parts = losses.sed_doa_loss(
      jnp.zeros((1, 1, 2)), doa, act, doa_t, doa_weight=2.0
  )
  assert float(parts['sed']) == pytest.approx(np.log(2), rel=1e-6)
  assert float(total) == pytest.approx(np.log(2) + 2 / 3, rel=1e-6)
  p = jnp.array([0.0, 1.0, 0.3])
  bce = losses.binary_cross_entropy(p, jnp.array([1.0, 0.0, 1.0]))
  np.testing.assert_allclose(bce, [100.0, 100.0, -np.log(0.3)], rtol=1e-6)


def test_bce_gradient_is_torchs_and_finite_where_the_sigmoid_saturates():
  # float32 sigmoid is exactly 1.0 from logit ~17 and exactly 0 below ~-104.
  logits = np.array(
      [-120.0, -30.0, -5.0, 0.0, 5.0, 17.0, 20.0, 40.0], np.float32
  )
  for t in (0.0, 0.3, 1.0):
    grad = jax.grad(
        lambda x: jnp.sum(
            losses.binary_cross_entropy(jax.nn.sigmoid(x), jnp.float32(t))
        )
    )(jnp.asarray(logits))
    p = np.asarray(jax.nn.sigmoid(jnp.asarray(logits)))
    # torch: dL/dp = (p - t) / max(p (1 - p), 1e-12), times dp/dx = p (1 - p).
    expected = (p - t) / np.maximum(p * (1 - p), 1e-12) * (p * (1 - p))
    assert np.all(np.isfinite(grad)), (t, grad)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)
    # Away from saturation that is the familiar sigmoid(x) - t.
    np.testing.assert_allclose(grad[2:5], p[2:5] - t, rtol=1e-5, atol=1e-7)


def test_stereo_av_adpit_gradient_is_finite_with_saturated_onscreen_output():
  rng = np.random.default_rng(4)
  table = events_lib.EventTable.from_columns(
      np.arange(6),
      rng.integers(0, 4, 6),
      rng.uniform(-90, 90, 6),
      distance=rng.uniform(0.5, 4, 6),
      onscreen=rng.integers(0, 2, 6),
  )
  target = jnp.asarray(targets.multi_accdoa_stereo(table, 6, 4, onscreen=True))
  out = rng.uniform(-1, 1, (1, 6, 3, 4, 4)).astype(np.float32)
  out[..., 3, :] = rng.choice([0.0, 1.0], out[..., 3, :].shape)  # saturated
  grad = jax.grad(lambda o: losses.adpit_stereo(o, target[None]))(
      jnp.asarray(out)
  )
  assert np.all(np.isfinite(grad))
  assert np.any(grad[..., 0:3, :] != 0)  # the (x, y, distance) part learns


def test_per_frame_loss_means_equal_the_official_losses():
  rng = np.random.default_rng(5)
  target = _random_target(rng)
  out = rng.uniform(-1, 1, (2, 8, 45)).astype(np.float32)
  per_frame = losses.per_frame_loss('multi_accdoa', out, target)
  assert per_frame.shape == (2, 8)
  np.testing.assert_allclose(
      float(per_frame.mean()), float(losses.adpit(out, target)), rtol=1e-6
  )
  single = rng.uniform(-1, 1, (2, 8, 15)).astype(np.float32)
  tgt = rng.uniform(-1, 1, (2, 8, 15)).astype(np.float32)
  np.testing.assert_allclose(
      float(losses.per_frame_loss('single_accdoa', single, tgt).mean()),
      float(losses.accdoa_mse(single, tgt)),
      rtol=1e-6,
  )
  with pytest.raises(ValueError, match='No per-frame loss'):
    losses.per_frame_loss('doa_only', single, tgt)


def test_sed_doa_per_frame_loss():
  logits = jnp.zeros((1, 2, 2))
  sed_t = jnp.array([[[1.0, 0.0], [0.0, 0.0]]])
  doa = jnp.zeros((1, 2, 6)).at[0, 0, 0].set(2.0).at[0, 0, 1].set(5.0)
  doa_t = jnp.zeros((1, 2, 6))
  out = losses.per_frame_loss(
      'sed_doa',
      {'sed': logits, 'doa': doa},
      {'sed': sed_t, 'doa': doa_t},
      doa_weight=3.0,
  )
  # Frame 0: BCE log 2; masked DOA: only class 0's x error (2^2) counts, over
  # 3 x 2 elements. Frame 1: BCE only.
  np.testing.assert_allclose(
      np.asarray(out), [[np.log(2) + 3.0 * 4 / 6, np.log(2)]], rtol=1e-6
  )
  sed_only = losses.per_frame_loss(
      'sed_doa',
      {'sed': logits, 'doa': doa},
      {'sed': sed_t, 'doa': doa_t},
      doa_weight=0.0,
  )
  np.testing.assert_allclose(np.asarray(sed_only), np.log(2), rtol=1e-6)

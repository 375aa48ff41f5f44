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

"""Tests for seld_jax.augment: label-consistent, jit-able augmentation.

Channel swaps are checked against rendered audio (two sources at known
directions, direct path only): the FOA intensity vector and the MIC GCC-PHAT
lags of every transformed recording point where the transformed label says.
Label maps are checked against targets built from transformed event tables,
and mixup against targets built from concatenated tables.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy import signal as sps

from configs import test as test_config
from seld_jax import augment
from seld_jax import events as events_lib
from seld_jax import features as features_lib
from seld_jax import sharding
from seld_jax import targets
from seld_jax import train_step
from seld_jax.synth import render
from seld_jax.synth import scenes
from seld_jax.synth import sources
from seld_jax.testing import doa_estimation

FS = 24000
K = 13
# Two sources in turn: (class, azimuth, elevation, onset s); 0.6 s each.
SOURCES = ((3, 30.0, 20.0, 0.2), (8, -110.0, -30.0, 1.1))


@jax.jit
def _foa_features(audio):
  return features_lib.compute('foa_logmel_iv', audio, FS)


# Rendered audio
# -----------------------------------------------------------------------------


@functools.cache
def _rendered():
  """FOA and MIC float32 [4, N], the table, and single-source frames."""
  config = render.SynthConfig(
      duration=2.0, snr_range=(40.0, 40.0), reverb=False
  )
  rng = np.random.default_rng(0)
  events = []
  for i, (cls, azi, ele, onset) in enumerate(SOURCES):
    dry = sps.lfilter([1.0], [1.0, -0.5], rng.standard_normal(int(0.6 * FS)))
    events.append(
        scenes.Event(
            class_index=cls,
            onset=int(onset * FS),
            signal=dry / sources.active_rms(dry, FS),
            azimuth=azi,
            elevation=ele,
            distance=1.5,
            source=i,
        )
    )
  audio, table = render.render_events(config, events, 0, None)
  # Frames inside one event (its first and last frame only partly sounding).
  frames = np.concatenate([
      np.unique(table.frame[table.class_index == cls])[1:-1]
      for cls, *_ in SOURCES
  ])
  audio = {k: (v.T / 32768.0).astype(np.float32) for k, v in audio.items()}
  return audio, table, frames


def _label_directions(target, frames):
  """Unit vector of the single active event of each frame, [P, F, 3]."""
  t = np.asarray(target)[:, frames]  # [P, F, 6, 4, K]
  act = t[:, :, 0, 0, :]  # slot A0
  assert np.all(act.sum(-1) == 1)
  cls = act.argmax(-1)
  xyz = np.take_along_axis(t[:, :, 0, 1:4, :], cls[..., None, None], -1)
  return xyz[..., 0]


def _transform_rendered(fmt, set_name):
  audio, table, frames = _rendered()
  patterns = augment.get_patterns(set_name)
  p = len(patterns)
  target = targets.multi_accdoa(table, 20, K)
  batch = np.repeat(audio[fmt][None], p, 0)
  out_audio, out_target = augment.apply_pattern(
      jnp.asarray(batch),
      jnp.asarray(np.repeat(target[None], p, 0)),
      jnp.arange(p),
      patterns,
      'multi_accdoa',
  )
  labels = _label_directions(out_target, frames)
  original = _label_directions(target[None], frames)[0]
  # Every pattern but the identity moves the labelled direction.
  moved = doa_estimation.angle_deg(labels, original[None])
  assert np.all(moved[1:].min(-1) > 10.0), moved
  return np.asarray(out_audio), labels, frames


@pytest.mark.parametrize('set_name', ['foa8', 'foa16'])
def test_foa_swaps_move_the_intensity_vector_with_the_label(set_name):
  audio, labels, frames = _transform_rendered('foa', set_name)
  for i, name in enumerate(augment.get_patterns(set_name).names):
    estimate = doa_estimation.foa_directions(audio[i], frames, FS)
    err = doa_estimation.angle_deg(estimate, labels[i])
    assert err.max() < 2.0, (name, err)


@pytest.mark.parametrize('set_name', ['mic', 'mic24'])
def test_mic_swaps_move_the_gcc_lags_with_the_label(set_name):
  audio, labels, frames = _transform_rendered('mic', set_name)
  for i, name in enumerate(augment.get_patterns(set_name).names):
    lags = doa_estimation.mic_lags(audio[i], frames, FS)
    expected = doa_estimation.expected_mic_lags(labels[i], 'rigid', FS)
    err = np.abs(lags - expected)
    assert err.max() < 1.0, (name, err)


def test_foa_features_of_swapped_audio_are_swapped_features():
  audio, _, _ = _rendered()
  patterns = augment.get_patterns('foa16')
  p = len(patterns)
  x = jnp.asarray(np.repeat(audio['foa'][None, :, : FS // 2], p, 0))
  swapped, _ = augment.apply_pattern(
      x, jnp.zeros((p, 5, 6, 4, K)), jnp.arange(p), patterns, 'multi_accdoa'
  )
  feats = np.asarray(_foa_features(x))
  got = np.asarray(_foa_features(swapped))
  for i in range(p):
    cmap, sign = patterns.channel_maps[i], patterns.channel_signs[i]
    # Log-mel of W, Y, Z, X: permuted. Intensity (Y, Z, X): signed permuted.
    np.testing.assert_allclose(got[i, :4], feats[i, cmap], atol=1e-4)
    iv = sign[1:, None, None] * feats[i, 4 + cmap[1:] - 1]
    np.testing.assert_allclose(got[i, 4:], iv, atol=1e-5)


def test_pattern_tables_match_the_docstring():
  # New channel <- sign * old channel, W Y Z X and M1..M4 (1-based).
  foa = [
      'W Y Z X',
      'W -X -Z Y',
      'W -X Z -Y',
      'W -Y -Z X',
      'W X -Z -Y',
      'W X Z Y',
      'W -Y Z -X',
      'W Y -Z -X',
  ]
  mic = [
      '1 2 3 4',
      '3 1 4 2',
      '4 2 3 1',
      '2 1 4 3',
      '2 4 1 3',
      '1 3 2 4',
      '4 3 2 1',
      '3 4 1 2',
  ]
  names = [
      '(az, el)',
      '(az-90, -el)',
      '(-az-90, el)',
      '(-az, -el)',
      '(az+90, -el)',
      '(-az+90, el)',
      '(az+180, el)',
      '(-az+180, -el)',
  ]
  foa8, mic8 = augment.get_patterns('foa8'), augment.get_patterns('mic')
  assert foa8.names == tuple(names) == mic8.names
  for i in range(8):
    got = ' '.join(
        ('-' if s < 0 else '') + 'WYZX'[c]
        for c, s in zip(foa8.channel_maps[i], foa8.channel_signs[i])
    )
    assert got == foa[i], names[i]
    assert ' '.join(str(c + 1) for c in mic8.channel_maps[i]) == mic[i]
  # Of the 16 azimuth/elevation maps only those 8 are MIC array symmetries.
  mic_ok = []
  mic_channels = augment._mic_channels  # pylint: disable=protected-access
  for s, a, t in augment.FOA16_AZEL:
    try:
      mic_channels(augment.azel_map(s, a, t))
      mic_ok.append((s, a, t))
    except ValueError:
      pass
  assert sorted(mic_ok) == sorted(augment.FOA8_AZEL)
  # 'mic' swaps M1 <-> M2 and M3 <-> M4 for (-az, -el).
  assert mic8.channel_maps[3].tolist() == [1, 0, 3, 2]
  assert len(augment.get_patterns('foa16')) == 16
  assert len(augment.get_patterns('mic24')) == 24
  # The sets are groups: closed under composition.
  for ps in (
      foa8,
      augment.get_patterns('foa16'),
      augment.get_patterns('mic24'),
  ):
    mats = {m.tobytes() for m in ps.label_maps}
    for a in ps.label_maps:
      for b in ps.label_maps:
        assert (a @ b).tobytes() in mats


# Label maps vs transformed event tables
# -----------------------------------------------------------------------------


def _random_table(rng, num_frames=12):
  """Events with 1-4 same-class instances per frame, and distances."""
  rows = []
  for f in range(num_frames):
    for cls in rng.choice(K, 3, replace=False):
      for _ in range(rng.choice([1, 1, 2, 3, 4])):
        rows.append((f, cls))
  n = len(rows)
  return events_lib.EventTable.from_columns(
      frame=[r[0] for r in rows],
      class_index=[r[1] for r in rows],
      azimuth=rng.uniform(-180, 180, n),
      elevation=rng.uniform(-80, 80, n),
      distance=rng.uniform(0.5, 4.0, n),
      source=np.arange(n),
  )


def _target(table, layout, num_frames=12):
  if layout == 'multi_accdoa':
    return targets.multi_accdoa(table, num_frames, K)
  if layout == 'multi_accdoa_distance':
    return targets.multi_accdoa(table, num_frames, K, distance=True)
  if layout == 'multi_accdoa_stereo':
    return targets.multi_accdoa_stereo(table, num_frames, K)
  if layout == 'single_accdoa':
    return targets.single_accdoa(table, num_frames, K)
  sed, doa = targets.sed_doa(table, num_frames, K)
  return {'sed': sed, 'doa': doa}


def _transform_table(table, m):
  xyz = events_lib.polar_to_cartesian(table.azimuth, table.elevation) @ m.T
  azi, ele = events_lib.cartesian_to_polar(xyz)
  return table.replace(azimuth=azi, elevation=ele)


def _stack(trees):
  return jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *trees)


@pytest.mark.parametrize('layout', augment.LAYOUTS)
def test_label_maps_match_targets_of_transformed_events(layout):
  table = _random_table(np.random.default_rng(1))
  sets = ['foa16', 'stereo']
  if layout != 'multi_accdoa_stereo':
    sets.append('mic24')
  for set_name in sets:
    patterns = augment.get_patterns(set_name)
    p = len(patterns)
    original = _stack([_target(table, layout)] * p)
    got = augment.transform_target(
        original, layout, jnp.asarray(patterns.label_maps)
    )
    want = _stack([
        _target(_transform_table(table, m), layout) for m in patterns.label_maps
    ])
    jax.tree.map(
        lambda g, w: np.testing.assert_allclose(g, w, atol=2e-6), got, want
    )


def test_stereo_target_rejects_elevation_swaps():
  patterns = augment.get_patterns('mic24')
  with pytest.raises(ValueError, match='elevation'):
    augment.apply_pattern(
        jnp.zeros((1, 4, 10)),
        jnp.zeros((1, 2, 6, 4, K)),
        jnp.zeros((1,), jnp.int32),
        patterns,
        'multi_accdoa_stereo',
    )


# Composition
# -----------------------------------------------------------------------------


@pytest.mark.parametrize('set_name', ['foa16', 'mic24', 'stereo'])
def test_pattern_then_inverse_is_identity_and_products_compose(set_name):
  patterns = augment.get_patterns(set_name)
  p = len(patterns)
  rng = np.random.default_rng(2)
  c = patterns.num_channels
  audio = jnp.asarray(rng.normal(size=(p, c, 64)).astype(np.float32))
  tgt = _stack([_target(_random_table(rng, 4), 'multi_accdoa', 4)] * p)
  idx = jnp.arange(p)
  inv = jnp.asarray([patterns.inverse(i) for i in range(p)])
  a1, t1 = augment.apply_pattern(audio, tgt, idx, patterns, 'multi_accdoa')
  a2, t2 = augment.apply_pattern(a1, t1, inv, patterns, 'multi_accdoa')
  np.testing.assert_array_equal(a2, audio)
  np.testing.assert_array_equal(t2, tgt)
  # Pattern j after pattern i is the pattern of M_j M_i, on audio and labels.
  mats = [m.tobytes() for m in patterns.label_maps]
  j = (np.arange(p) * 3 + 1) % p
  prod = [
      mats.index((patterns.label_maps[b] @ patterns.label_maps[a]).tobytes())
      for a, b in zip(range(p), j)
  ]
  a3, t3 = augment.apply_pattern(
      a1, t1, jnp.asarray(j), patterns, 'multi_accdoa'
  )
  a4, t4 = augment.apply_pattern(
      audio, tgt, jnp.asarray(prod), patterns, 'multi_accdoa'
  )
  np.testing.assert_array_equal(a3, a4)
  np.testing.assert_array_equal(t3, t4)


def test_channel_swap_commutes_with_spec_augment():
  audio, _, _ = _rendered()
  patterns = augment.get_patterns('foa16')
  p = len(patterns)
  x = jnp.asarray(np.repeat(audio['foa'][None, :, : FS // 2], p, 0))
  swapped, _ = augment.apply_pattern(
      x, jnp.zeros((p, 5, 6, 4, K)), jnp.arange(p), patterns, 'multi_accdoa'
  )
  key = jax.random.key(3)
  kw = dict(time_masks=2, time_width=8, freq_masks=2, freq_width=8)
  masked_swapped = augment.spec_augment(key, _foa_features(swapped), **kw)
  masked = np.asarray(augment.spec_augment(key, _foa_features(x), **kw))
  assert np.mean(masked == 0) > 0.05
  for i in range(p):
    cmap, sign = patterns.channel_maps[i], patterns.channel_signs[i]
    want = np.concatenate(
        [masked[i, cmap], sign[1:, None, None] * masked[i, 4 + cmap[1:] - 1]]
    )
    np.testing.assert_allclose(masked_swapped[i], want, atol=1e-4)


def _config(**augment_fields):
  config = test_config.get_config()
  config.augment = augment.default_config()
  for k, v in augment_fields.items():
    if isinstance(v, dict):
      config.augment[k].update(v)
    else:
      config.augment[k] = v
  return config


def test_build_returns_none_when_nothing_is_configured():
  config = test_config.get_config()
  assert augment.build(config) == (None, None)
  config.augment = None
  assert augment.build(config) == (None, None)
  config.augment = ml_collections.ConfigDict({'gain_db': (0.0, 0.0)})
  assert augment.build(config) == (None, None)
  config.augment = ml_collections.ConfigDict({'acs': 'foa8'})
  audio_fn, feature_fn = augment.build(config)
  assert audio_fn is not None and feature_fn is None
  config.augment = ml_collections.ConfigDict(
      {'spec_augment': ml_collections.ConfigDict({'time_masks': 1})}
  )
  assert augment.build(config) == (None, None)  # width 0: nothing to mask


def test_build_rejects_bad_configs():
  config = test_config.get_config()
  config.augment = ml_collections.ConfigDict({'acs': 'mic'})
  with pytest.raises(ValueError, match='FOA'):
    augment.build(config)  # FOA features
  config.augment = ml_collections.ConfigDict({'acs': 'foa9'})
  with pytest.raises(ValueError, match='acs'):
    augment.build(config)
  config.augment = ml_collections.ConfigDict({'gainn_db': (1, 2)})
  with pytest.raises(ValueError, match='gainn_db'):
    augment.build(config)
  config.augment = ml_collections.ConfigDict({'gain_db': (3, -3)})
  with pytest.raises(ValueError, match='gain_db'):
    augment.build(config)


def test_built_hooks_compose_and_draw_per_key():
  config = _config(
      acs='foa8',
      gain_db=(-6.0, 6.0),
      mixup_prob=0.5,
      spec_augment=dict(time_masks=2, time_width=5, freq_masks=2, freq_width=4),
      freq_shift=dict(max_bins=2),
  )
  audio_fn, feature_fn = augment.build(config)
  rng = np.random.default_rng(4)
  audio = jnp.asarray(rng.normal(size=(16, 4, FS // 2)).astype(np.float32))
  tgt = _stack([_target(_random_table(rng, 5), 'multi_accdoa', 5)] * 16)
  jaudio = jax.jit(audio_fn)
  jfeat = jax.jit(feature_fn)
  outs = []
  for seed in (0, 1, 0):
    key = jax.random.key(seed)
    a, t, v = jaudio(key, audio, tgt)
    assert v is None  # no video: nothing to move
    f, t2 = jfeat(key, _foa_features(a), t)
    assert f.shape == (16, 7, 25, 64)
    assert t2 is t or np.array_equal(t2, t)
    outs.append((np.asarray(a), np.asarray(t), np.asarray(f)))
  # pylint: disable=protected-access
  assert jaudio._cache_size() == 1 and jfeat._cache_size() == 1
  # pylint: enable=protected-access
  for x, y in zip(outs[0], outs[2]):
    np.testing.assert_array_equal(x, y)  # same key, same draw
  assert not np.array_equal(outs[0][0], outs[1][0])  # another key, another


def test_train_step_with_augmentation_compiles_once():
  config = _config(
      acs='foa8',
      gain_db=(-6.0, 6.0),
      mixup_prob=0.5,
      spec_augment=dict(time_masks=2, time_width=5, freq_masks=2, freq_width=8),
      freq_shift=dict(max_bins=3),
  )
  audio_fn, feature_fn = augment.build(config)
  mesh = sharding.make_mesh()
  run = train_step.setup(
      config, mesh, audio_augment=audio_fn, feature_augment=feature_fn
  )
  rng = np.random.default_rng(5)
  state = run.state
  losses = []
  for _ in range(3):
    table = _random_table(rng, 10)
    batch = {
        'audio': rng.normal(scale=0.1, size=(8, 4, FS)).astype(np.float32),
        'target': np.stack([_target(table, 'multi_accdoa', 10)] * 8),
        'mask': np.ones((8,), np.float32),
    }
    state, metrics = run.train_step(state, sharding.to_global(batch, mesh))
    losses.append(float(metrics['loss']))
  assert np.all(np.isfinite(losses))
  assert run.train_step._cache_size() == 1  # pylint: disable=protected-access


# Gain, mixup, SpecAugment, frequency shift on hand-made inputs
# -----------------------------------------------------------------------------


def test_random_gain_stays_in_range():
  audio = jnp.ones((256, 2, 3))
  out = np.asarray(augment.random_gain(jax.random.key(0), audio, (-6, 3)))
  db = 20 * np.log10(out[:, 0, 0])
  assert db.min() >= -6.0 - 1e-4 and db.max() <= 3.0 + 1e-4
  assert db.min() < -5 and db.max() > 2  # the range is used
  np.testing.assert_array_equal(out, out[:, :1, :1] * np.ones((1, 2, 3)))
  out = np.asarray(
      augment.random_gain(jax.random.key(0), audio, (-6, 3), prob=0.5)
  )
  untouched = np.mean(out[:, 0, 0] == 1.0)
  assert 0.35 < untouched < 0.65


@pytest.mark.parametrize('layout', augment.LAYOUTS)
def test_mixup_sums_audio_and_unions_labels(layout):
  rng = np.random.default_rng(6)
  b = 16
  tables = [_random_table(rng, 6) for _ in range(b)]
  audio = jnp.asarray(
      (2.0 ** np.arange(b))[:, None, None] * np.ones((b, 4, 8), np.float32)
  )
  tgt = _stack([_target(t, layout, 6) for t in tables])
  mix = jax.jit(functools.partial(augment.mixup, layout=layout, prob=0.75))
  out_audio, out_tgt = mix(jax.random.key(7), audio, tgt)
  added = np.asarray(out_audio - audio)[:, 0, 0]
  num_mixed = 0
  for i in range(b):
    got = jax.tree.map(lambda x: np.asarray(x[i]), out_tgt)
    if added[i] == 0:
      want = _target(tables[i], layout, 6)
    else:
      num_mixed += 1
      j = int(np.log2(added[i]))
      assert j != i and added[i] == 2.0**j
      union = events_lib.concatenate([tables[i], tables[j]])
      want = _target(union, layout, 6)
    jax.tree.map(np.testing.assert_array_equal, got, want)
  assert 6 <= num_mixed < b


def test_adpit_union_reslots_and_drops_beyond_three():
  def table(n, azimuths):
    return events_lib.EventTable.from_columns(
        frame=[0] * n, class_index=[2] * n, azimuth=azimuths[:n]
    )

  azi = [10.0, 50.0, 90.0, 130.0]
  for na in range(4):
    for nb in range(4):
      a = targets.multi_accdoa(table(na, azi), 1, K)
      b = targets.multi_accdoa(table(nb, azi[::-1]), 1, K)
      got = np.asarray(
          augment.merge_targets(a[None], b[None], 'multi_accdoa')[0]
      )
      union = events_lib.concatenate([table(na, azi), table(nb, azi[::-1])])
      want = targets.multi_accdoa(union, 1, K)
      np.testing.assert_array_equal(got, want)
      n = min(na + nb, 3)
      slots = {0: [], 1: [0], 2: [1, 2], 3: [3, 4, 5]}[n]
      assert np.flatnonzero(got[0, :, 0, 2]).tolist() == slots


def test_spec_augment_masks():
  b, c, t, f = 64, 3, 50, 40
  x = jnp.ones((b, c, t, f))
  masks = jax.jit(
      functools.partial(
          augment.spec_augment,
          time_masks=2,
          time_width=10,
          freq_masks=2,
          freq_width=8,
          mask_value=-1.0,
          spectral_channels=2,
      )
  )
  out = np.asarray(masks(jax.random.key(0), x))
  assert set(np.unique(out)) <= {-1.0, 1.0}
  # Time masks: whole frames, every channel; at most 2 x 10 frames.
  time_masked = np.all(out[:, 2] == -1, axis=-1)  # channel 2: time only
  assert np.all(np.any(out[:, 2] == -1, axis=-1) == time_masked)
  assert time_masked.sum(-1).max() <= 20 and time_masked.sum() > 0
  for ch in range(c):
    assert np.all(out[:, ch][time_masked] == -1)
  # Frequency masks: the same bins in channels 0 and 1 for every frame.
  keep_t = ~time_masked
  freq_masked = np.all((out[:, 0] == -1) | ~keep_t[..., None], axis=1)
  assert freq_masked.sum(-1).max() <= 16 and freq_masked.sum() > 0
  np.testing.assert_array_equal(out[:, 0], out[:, 1])
  assert not np.any(out[:, 2][keep_t] == -1)
  # Masks differ between windows.
  assert len({m.tobytes() for m in time_masked}) > b // 2
  masks = jax.jit(
      functools.partial(
          augment.spec_augment, time_masks=1, time_width=10, prob=0.5
      )
  )
  out = np.asarray(masks(jax.random.key(0), x))
  untouched = np.mean(np.all(out == 1, axis=(1, 2, 3)))
  assert 0.4 < untouched < 0.75  # 0.5 + 0.5 / 11 (width 0)


@pytest.mark.parametrize('mode', augment.FREQ_SHIFT_MODES)
def test_freq_shift_moves_bins(mode):
  b, f = 64, 16
  ramp = np.broadcast_to(np.arange(f, dtype=np.float32), (b, 3, 2, f))
  shift = jax.jit(
      functools.partial(
          augment.freq_shift,
          max_bins=3,
          mode=mode,
          fill_value=-7.0,
          spectral_channels=2,
      )
  )
  out = np.asarray(shift(jax.random.key(1), jnp.asarray(ramp) + 1.0))
  np.testing.assert_array_equal(out[:, 2], ramp[:, 2] + 1.0)  # not shifted
  np.testing.assert_array_equal(out[:, 0], out[:, 1])
  shifts = set()
  for i in range(b):
    row = out[i, 0, 0]
    s = int(round(row[8] - 1 - 8)) * -1  # out[f] = in[f - s]
    shifts.add(s)
    src = np.arange(f) - s
    if mode == 'reflect':
      src = np.abs(src)
      src = np.where(src > f - 1, 2 * (f - 1) - src, src)
      want = src + 1.0
    elif mode == 'edge':
      want = np.clip(src, 0, f - 1) + 1.0
    else:
      want = np.where((src >= 0) & (src < f), src + 1.0, -7.0)
    np.testing.assert_array_equal(row, want)
    np.testing.assert_array_equal(out[i, 0], np.broadcast_to(row, (2, f)))
  assert shifts == set(range(-3, 4))

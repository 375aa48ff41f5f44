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

"""Tests for the audio-visual channel swap (AVCS) of seld_jax.augment.

Two sources in turn are rendered in FOA and MIC (direct path) and drawn into
equirectangular frames by `seld_jax.synth.video` at their labelled
directions. After each pattern, applied to audio, target and frames alike,
the blob of every source sits at the pixel position of its transformed
label, and the FOA intensity vector (MIC GCC-PHAT lags) points there too.
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
from seld_jax import stereo_view
from seld_jax import targets
from seld_jax.synth import render
from seld_jax.synth import scenes
from seld_jax.synth import sources
from seld_jax.synth import video
from seld_jax.testing import doa_estimation

FS = 24000
K = 13
T = 20  # label frames (2 s)
W, H = 128, 64
# Two sources in turn: (class, azimuth, elevation, onset s); 0.6 s each.
# Classes 3 and 8 are drawn as a green ring and a cyan square.
SOURCES = ((3, 30.0, 20.0, 0.2), (8, -110.0, -30.0, 1.1))


@functools.cache
def _scene():
  """Audio {fmt: float32 [4, N]}, table, target, frames, single-event frames."""
  config = render.SynthConfig(
      duration=T / 10, snr_range=(40.0, 40.0), reverb=False
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
            distance=1.0,
            source=i,
        )
    )
  audio, table = render.render_events(config, events, 0, None)
  audio = {k: (v.T / 32768.0).astype(np.float32) for k, v in audio.items()}
  frames = video.render_frames(table, T, W, H)  # uint8 [T, H, W, 3]
  # Frames inside one event (its first and last frame only partly sounding).
  inside = np.concatenate([
      np.unique(table.frame[table.class_index == cls])[1:-1]
      for cls, *_ in SOURCES
  ])
  return audio, table, targets.multi_accdoa(table, T, K), frames, inside


def _class_mask(frame, class_index):
  return np.all(frame == video.CLASS_COLOURS[class_index], axis=-1)


def _blob_centre(frame, class_index, near_col):
  """Centroid (column, row) of a class blob, columns unwrapped near a column.

  Pixel j covers [j, j + 1), so a pixel's position is its centre j + 1/2.
  """
  rows, cols = np.nonzero(_class_mask(frame, class_index))
  assert len(rows) > 15, len(rows)
  offset = np.mod(cols + 0.5 - near_col + W / 2, W) - W / 2
  return near_col + offset.mean(), rows.mean() + 0.5


def _single_event(target, frame):
  """(class, unit vector) of the one active event of a frame of a target."""
  t = np.asarray(target)[frame]  # [6, 4, K]
  act = t[0, 0]  # slot A0
  assert act.sum() == 1
  cls = int(act.argmax())
  return cls, t[0, 1:4, cls]


def _transform_scene(set_name, fmt):
  """Every pattern of a set applied to copies of the scene, jointly."""
  audio, _, target, frames, inside = _scene()
  patterns = augment.get_patterns(set_name)
  p = len(patterns)
  index = jnp.arange(p)
  out_audio, out_target = augment.apply_pattern(
      jnp.asarray(np.repeat(audio[fmt][None], p, 0)),
      jnp.asarray(np.repeat(target[None], p, 0)),
      index,
      patterns,
      'multi_accdoa',
  )
  out_frames = augment.transform_visual(
      jnp.asarray(np.repeat(frames[None], p, 0)), index, patterns
  )
  assert out_frames.dtype == jnp.uint8
  return (
      np.asarray(out_audio),
      np.asarray(out_target),
      np.asarray(out_frames),
      inside,
  )


@pytest.mark.parametrize(
    'set_name, fmt', [('foa8', 'foa'), ('foa16', 'foa'), ('mic', 'mic')]
)
def test_blob_and_sound_follow_the_transformed_label(set_name, fmt):
  out_audio, out_target, out_frames, inside = _transform_scene(set_name, fmt)
  _, _, target, _, _ = _scene()
  names = augment.get_patterns(set_name).names
  for i, name in enumerate(names):
    labels = []
    for f in inside:
      cls, xyz = _single_event(out_target[i], f)
      labels.append(xyz)
      azi, ele = events_lib.cartesian_to_polar(xyz)
      col, row = video.pixel_position(azi, ele, W, H)
      got_col, got_row = _blob_centre(out_frames[i, f], cls, col)
      assert abs(got_col - col) < 0.75 and abs(got_row - row) < 0.75, (
          name,
          f,
          (got_col, got_row),
          (col, row),
      )
      # Only the blob of the sounding event is in the frame.
      other = SOURCES[0][0] if cls == SOURCES[1][0] else SOURCES[1][0]
      assert not _class_mask(out_frames[i, f], other).any()
      if i:  # every pattern but the identity moves the source
        orig = _single_event(target, f)[1]
        assert doa_estimation.angle_deg(xyz, orig) > 10.0, name
    labels = np.stack(labels)
    if fmt == 'foa':
      estimate = doa_estimation.foa_directions(out_audio[i], inside, FS)
      err = doa_estimation.angle_deg(estimate, labels)
      assert err.max() < 0.5, (name, err)
    else:
      lags = doa_estimation.mic_lags(out_audio[i], inside, FS)
      expected = doa_estimation.expected_mic_lags(labels, 'rigid', FS)
      assert np.abs(lags - expected).max() < 1.0, name


def test_stereo_swap_moves_the_perspective_blob_and_the_level_difference():
  """DCASE2025 stereo: the L/R swap, az -> -az and the flipped frame agree."""
  audio, table, _, frames, inside = _scene()
  pw, ph, hfov = 64, 36, 100.0
  vfov = stereo_view.vertical_fov(hfov, pw, ph)
  labels = stereo_view.view_labels(table, 0.0, hfov, vfov)
  target = targets.multi_accdoa_stereo(labels, T, K, onscreen=True)
  stereo = stereo_view.mid_side_stereo(audio['foa'].T).T.astype(np.float32)
  view = stereo_view.perspective_frames(frames, 0.0, hfov, pw, ph)
  patterns = augment.get_patterns('stereo')
  assert len(patterns) == 2  # the identity and the swap
  index = jnp.arange(2)
  out_audio, out_target = augment.apply_pattern(
      jnp.asarray(np.repeat(stereo[None], 2, 0)),
      jnp.asarray(np.repeat(target[None], 2, 0)),
      index,
      patterns,
      'multi_accdoa_stereo',
  )
  out_frames = np.asarray(
      augment.transform_visual(
          jnp.asarray(np.repeat(view[None], 2, 0)), index, patterns
      )
  )
  out_audio, out_target = np.asarray(out_audio), np.asarray(out_target)
  np.testing.assert_array_equal(out_audio[0], stereo)
  np.testing.assert_array_equal(out_frames[0], view)
  cls, azi = SOURCES[0][:2]  # on screen, to the left (+30 deg)
  frames_of = inside[np.isin(inside, table.frame[table.class_index == cls])]
  hop = FS // 10
  focal = (pw / 2) / np.tan(np.radians(hfov) / 2)
  for i, sign in ((0, 1.0), (1, -1.0)):
    # The label: (cos az, sin az) with the sign of sin flipped by the swap.
    t = out_target[i][frames_of][:, 0]  # slot A0: [F, 5, K]
    np.testing.assert_allclose(t[:, 0, cls], 1.0)
    np.testing.assert_allclose(t[:, 1, cls], np.cos(np.radians(azi)), 1e-6)
    np.testing.assert_allclose(
        t[:, 2, cls], sign * np.sin(np.radians(azi)), atol=1e-6
    )
    np.testing.assert_allclose(t[:, 4, cls], 1.0)  # still on screen
    # The blob at the pinhole column of the labelled azimuth (the camera's
    # left is its +y, so a source at +az sits left of the centre): within
    # 1.5 px, the blob being resampled (nearest pixel) and stretched by the
    # perspective; and the swapped blob the mirror image of the original.
    expected = pw / 2 - focal * np.tan(np.radians(sign * azi))
    for f in frames_of:
      col, row = _blob_centre(out_frames[i, f], cls, expected)
      assert abs(col - expected) < 1.5, (i, f, col, expected)
      col0, row0 = _blob_centre(out_frames[0, f], cls, pw / 2 - focal * 0.58)
      assert abs(col - (col0 if i == 0 else pw - col0)) < 1e-9
      assert row == row0
    # The louder channel: left for +az (L = (W + Y) / 2), right once swapped.
    span = slice(frames_of.min() * hop, (frames_of.max() + 1) * hop)
    left, right = np.sum(out_audio[i][:, span] ** 2, axis=1)
    assert sign * 10 * np.log10(left / right) > 3.0, (i, left, right)
  # The off-screen source is in neither frame.
  other = SOURCES[1][0]
  assert not _class_mask(out_frames, other).any()


def test_moved_frames_equal_frames_drawn_at_the_moved_labels():
  # The pixel maps are exact: the blobs (point-symmetric shapes) of the moved
  # frames are, pixel for pixel, those drawn at the moved directions.
  _, table, _, _, _ = _scene()
  patterns = augment.get_patterns('foa16')
  _, _, out_frames, _ = _transform_scene('foa16', 'foa')
  xyz = events_lib.polar_to_cartesian(table.azimuth, table.elevation)
  for i, m in enumerate(patterns.label_maps):
    azi, ele = events_lib.cartesian_to_polar(xyz @ m.T)
    drawn = video.render_frames(
        table.replace(azimuth=azi, elevation=ele), T, W, H
    )
    for cls, *_ in SOURCES:
      np.testing.assert_array_equal(
          _class_mask(out_frames[i], cls),
          _class_mask(drawn, cls),
          err_msg=patterns.names[i],
      )


def test_pixel_maps_of_the_elementary_patterns():
  patterns = augment.get_patterns('foa16')
  rows, cols = augment.visual_index_tables(patterns, 3, 8)
  by_name = dict(zip(patterns.names, zip(rows.tolist(), cols.tolist())))
  ident = [0, 1, 2, 3, 4, 5, 6, 7]
  assert by_name['(az, el)'] == ([0, 1, 2], ident)
  assert by_name['(az, -el)'] == ([2, 1, 0], ident)  # vertical flip
  assert by_name['(-az, el)'] == ([0, 1, 2], ident[::-1])  # horizontal flip
  # az + 90: the content moves a quarter width to the left.
  assert by_name['(az+90, el)'][1] == [2, 3, 4, 5, 6, 7, 0, 1]
  assert by_name['(az-90, el)'][1] == [6, 7, 0, 1, 2, 3, 4, 5]
  assert by_name['(az+180, el)'][1] == [4, 5, 6, 7, 0, 1, 2, 3]
  # Derived from the label maps: (s, a, t) rebuilds every map.
  for (s, a, t), m in zip(patterns.azel, patterns.label_maps):
    np.testing.assert_array_equal(augment.azel_map(s, a, t), m)
  # The same label map has the same pixel map in every set.
  for name in ('foa8', 'mic', 'stereo'):
    other = augment.get_patterns(name)
    r, c = augment.visual_index_tables(other, 3, 8)
    for k, m in enumerate(other.label_maps):
      j = [n for n, mm in enumerate(patterns.label_maps) if (mm == m).all()]
      assert r[k].tolist() == rows[j[0]].tolist()
      assert c[k].tolist() == cols[j[0]].tolist()


@pytest.mark.parametrize('set_name', ['foa16', 'mic', 'stereo'])
def test_frame_transforms_compose_like_the_label_maps(set_name):
  patterns = augment.get_patterns(set_name)
  p = len(patterns)
  rng = np.random.default_rng(1)
  width = 6 if set_name == 'stereo' else 12  # any width for the flip alone
  frames = jnp.asarray(rng.integers(0, 256, (p, 2, 5, width, 3), np.uint8))
  idx = np.arange(p)
  inv = np.array([patterns.inverse(i) for i in idx])
  once = augment.transform_visual(frames, idx, patterns)
  np.testing.assert_array_equal(
      augment.transform_visual(once, inv, patterns), frames
  )
  assert sum(np.array_equal(once[i], frames[i]) for i in idx) == 1
  mats = [m.tobytes() for m in patterns.label_maps]
  j = (idx * 3 + 1) % p
  prod = [
      mats.index((patterns.label_maps[b] @ patterns.label_maps[a]).tobytes())
      for a, b in zip(idx, j)
  ]
  np.testing.assert_array_equal(
      augment.transform_visual(once, j, patterns),
      augment.transform_visual(frames, prod, patterns),
  )
  # Float frames, and frames without a time axis, move alike.
  as_float = augment.transform_visual(
      frames[:, 0].astype(jnp.float32), idx, patterns
  )
  np.testing.assert_array_equal(as_float, once[:, 0].astype(np.float32))


def test_widths_that_do_not_rotate_by_whole_columns_are_rejected():
  frames = jnp.zeros((1, 1, 4, 6, 3))
  with pytest.raises(ValueError, match='divisible by 4'):
    augment.transform_visual(frames, [0], augment.get_patterns('foa8'))
  with pytest.raises(ValueError, match='elevation with azimuth'):
    augment.transform_visual(
        jnp.zeros((1, 4, 8, 3)), [0], augment.get_patterns('mic24')
    )
  assert not augment.get_patterns('mic24').video_compatible
  for name in ('foa8', 'foa16', 'mic', 'stereo'):
    assert augment.get_patterns(name).video_compatible


# The built hook
# -----------------------------------------------------------------------------


def _config(visual='frames', **augment_fields):
  config = test_config.get_config()
  config.visual = visual
  config.augment = augment.default_config()
  config.augment.update(augment_fields)
  return config


def _pattern_of(audio_in, audio_out, patterns):
  """The pattern whose channel map turns audio_in into audio_out."""
  found = [
      k
      for k, a in enumerate(patterns.audio_matrices)
      if np.allclose(np.einsum('ij,jn->in', a, audio_in), audio_out)
  ]
  assert len(found) == 1, found
  return found[0]


def test_built_hook_moves_audio_labels_and_frames_alike_and_compiles_once():
  audio, _, target, frames, _ = _scene()
  config = _config(acs='foa16', gain_db=(-3.0, 3.0))
  audio_fn, feature_fn = augment.build(config)
  assert feature_fn is None
  patterns = augment.get_patterns('foa16')
  b = 24
  x = jnp.asarray(np.repeat(audio['foa'][None, :, : FS // 2], b, 0))
  tgt = jnp.asarray(np.repeat(target[None], b, 0))
  vis = jnp.asarray(np.repeat(frames[None], b, 0))
  hook = jax.jit(audio_fn)
  outs = [hook(jax.random.key(seed), x, tgt, vis) for seed in (0, 1, 0)]
  assert hook._cache_size() == 1  # pylint: disable=protected-access
  for u, v in zip(outs[0], outs[2]):
    np.testing.assert_array_equal(u, v)  # same key, same draw
  assert not np.array_equal(outs[0][2], outs[1][2])  # another key, another
  a, t, v = (np.asarray(o) for o in outs[0])
  assert v.shape == vis.shape and v.dtype == np.uint8
  drawn, gains = [], []
  for i in range(b):
    # Undo the gain (the same for all channels), then find the pattern.
    ref = np.asarray(x[i])
    gains.append(np.abs(a[i, 0]).sum() / np.abs(ref[0]).sum())
    drawn.append(_pattern_of(ref, a[i] / gains[-1], patterns))

  @jax.jit
  def reference(index):
    audio, target = augment.apply_pattern(
        x, tgt, index, patterns, 'multi_accdoa'
    )
    return audio, target, augment.transform_visual(vis, index, patterns)

  want_a, want_t, want_v = reference(jnp.asarray(drawn))
  gains = np.asarray(gains, np.float32)[:, None, None]
  np.testing.assert_allclose(a, want_a * gains, rtol=1e-5, atol=1e-7)
  np.testing.assert_array_equal(t, want_t)
  np.testing.assert_array_equal(v, want_v)
  drawn = set(drawn)
  assert len(drawn) >= 10  # per-window patterns
  # Without frames the hook still runs (visual passes through as None).
  a2, t2, v2 = hook(jax.random.key(0), x, tgt)
  assert v2 is None
  np.testing.assert_array_equal(t2, t)
  np.testing.assert_allclose(a2, a, rtol=1e-5, atol=1e-7)


def test_hooks_without_a_channel_swap_pass_frames_through():
  _, _, target, frames, _ = _scene()
  audio_fn, _ = augment.build(_config(gain_db=(-6.0, 0.0)))
  vis = jnp.asarray(frames[None])
  _, t, v = jax.jit(audio_fn)(
      jax.random.key(2), jnp.ones((1, 4, 100)), target[None], vis
  )
  assert v is not None
  np.testing.assert_array_equal(v, vis)
  np.testing.assert_array_equal(t, target[None])


def test_build_rejects_what_video_cannot_follow():
  config = _config(acs='mic24')
  config.features = 'mic_logmel_gcc'
  with pytest.raises(ValueError, match='elevation with azimuth'):
    augment.build(config)
  config.visual = ''  # audio only: every set is fine
  assert augment.build(config)[0] is not None
  with pytest.raises(ValueError, match='mixup'):
    augment.build(_config(mixup_prob=0.5))
  assert augment.build(_config('', mixup_prob=0.5))[0] is not None
  with pytest.raises(ValueError, match='frames'):
    augment.build(_config('embeddings', acs='foa8'))
  # Older configs have no `visual` field: audio only.
  config = test_config.get_config()
  if 'visual' in config:
    del config['visual']
  config.augment = ml_collections.ConfigDict({'acs': 'foa8'})
  assert augment.build(config)[0] is not None

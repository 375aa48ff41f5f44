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

"""Label-consistent data augmentation, on device, inside the jitted step.

`build(config)` returns the two hooks of `train_step.make_train_step`:

  audio_augment(key, audio [B, C, N], target, visual=None)
      -> (audio, target, visual)
      audio(-visual) channel swap (ACS/AVCS) -> random gain -> mixup (event
      remix); `visual` (video frames [B, T, H, W, 3] or None) is moved by the
      channel swap with the audio and labels, and passed through otherwise
  feature_augment(key, features [B, C', T, F], target) -> (features, target)
      frequency shift -> SpecAugment (labels unchanged)

Every random choice is per window (one ACS pattern, one gain, one partner,
its own masks), drawn with `jax.random` from the step's key; shapes are
static, so the step compiles once.

Audio channel swap
------------------
A pattern is an orthogonal map M of directions, v' = M v with v = (x, y, z)
= (cos az cos el, sin az cos el, sin el); every M used here is a signed
permutation matrix. The audio map realises it exactly on the array signals
and the label map applies the same M to every direction vector of the target.

FOA (ACN order W, Y, Z, X, SN3D): a plane wave s from v gives
W = s, Y = s y, Z = s z, X = s x, so the first-order channels are the
Cartesian components of v (up to the common factor s). Rotating or
reflecting the sound field by M makes them the components of M v: W' = W
and (X', Y', Z') = M (X, Y, Z). As the signal model is linear, this holds for
any mixture, reverberation and diffuse noise alike. For the azimuth/elevation
patterns az' = s az + a (s = +-1, a a multiple of 90 degrees), el' = t el
(t = +-1), with c = cos el:

  x' = cos(s az + a) c,  y' = sin(s az + a) c,  z' = sin(t el) = t z,
  a =   0:  x' =  x,   y' =  s y
  a = +90:  x' = -s y, y' =  x     (cos(u + 90) = -sin u, sin(u + 90) = cos u)
  a = 180:  x' = -x,   y' = -s y
  a = -90:  x' =  s y, y' = -x     (cos(u - 90) = sin u, sin(u - 90) = -cos u)

using sin(s az) = s sin az. Substituting X for x, Y for y and Z for z gives
the channel map: e.g. (az - 90, -el): X' = Y, Y' = -X, Z' = -Z.

MIC (tetrahedral, capsules M1..M4 at (az, el) = (45, 35), (-45, -35),
(135, -35), (-135, 35) on a rigid sphere): each capsule's response to a plane
wave depends only on the angle g_m between the capsule direction c_m and the
source, cos g_m = c_m . v. A source at M v gives capsule m the signal that
capsule p receives from v when c_p = M^T c_m (M orthogonal:
c_m . M v = M^T c_m . v), so a symmetry M of the array (one that maps the
capsule set onto itself) is the channel permutation m' <- p. The capsules
are (+-a, +-a, +-b) with an even number of minus signs (M1 (+, +, +),
M2 (+, -, -), M3 (-, +, -), M4 (-, -, +)); a signed permutation keeps that
set iff the product of its three signs is +1, and keeps it exactly for
a != b (el = 35, not the regular tetrahedron's 35.26 degrees) iff it also
maps z to +-z. Of the 16 azimuth/elevation patterns those are exactly the 8
of Wang et al. (below): each is valid for FOA and MIC alike. The full
tetrahedral group (24 elements, 'mic24') adds maps that exchange z with x or
y; for the 35-degree capsules they land a capsule 0.46 degrees off its
partner, below anything the labels resolve.

Stereo (DCASE2025, channels L, R symmetric about the x-z plane): swapping
L and R is the reflection y -> -y, i.e. az -> -az.

Pattern sets (the identity is always pattern 0), `config.augment.acs`:

  'foa8'   the 8 of Wang et al. (DCASE2021) / Berghi et al.
  'foa16'  all s, a, t: az' = +-az + {0, 90, 180, -90}, el' = +-el
  'mic'    the 8 patterns of 'foa8' as MIC capsule permutations
  'mic24'  the tetrahedral group (the 8 above + 16 that exchange axes)
  'stereo' identity and the L/R swap

FOA and MIC channel maps (new channel <- sign * old channel; label map as
v' = (x', y', z') in terms of the old x, y, z):

  pattern         W  Y  Z  X           M1 M2 M3 M4   (x', y', z')
  (az, el)        W  Y  Z  X           M1 M2 M3 M4   ( x,  y,  z)
  (az-90, -el)    W -X -Z  Y           M3 M1 M4 M2   ( y, -x, -z)
  (-az-90, el)    W -X  Z -Y           M4 M2 M3 M1   (-y, -x,  z)
  (-az, -el)      W -Y -Z  X           M2 M1 M4 M3   ( x, -y, -z)
  (az+90, -el)    W  X -Z -Y           M2 M4 M1 M3   (-y,  x, -z)
  (-az+90, el)    W  X  Z  Y           M1 M3 M2 M4   ( y,  x,  z)
  (az+180, el)    W -Y  Z -X           M4 M3 M2 M1   (-x, -y,  z)
  (-az+180, -el)  W  Y -Z -X           M3 M4 M1 M2   (-x,  y, -z)

('foa16' adds the other 8 products of s, a, t, which flip the sign of an odd
number of axes, e.g. (az, -el): Z' = -Z, and (-az, el): Y' = -Y; `PATTERN_SETS`
holds every map, derived by the formulas above when this module is imported,
and `tests/augment_test.py` checks them against the rendered audio.)

Label maps by target layout (activity, distance, on-screen unchanged):
  multi_accdoa[_distance] [B, T, 6, 4|5, K]: rows 1:4 (x, y, z) of every slot
  multi_accdoa_stereo [B, T, 6, 4, K]: rows 1:3 (cos az, sin az) by the 2x2
    azimuth block of M (sets that move z into x or y are rejected)
  single_accdoa [B, T, 3K]: the [x|y|z] blocks
  sed_doa {'sed', 'doa' [B, T, 3K]}: the [x|y|z] blocks of 'doa'

Audio-visual channel swap (AVCS, Berghi et al.)
-----------------------------------------------
With 360-degree video (`config.visual == 'frames'`: equirectangular frames
[B, T, H, W, C], uint8 or float, laid out as `seld_jax.synth.video` draws
them: column W (0.5 - az / 360), row H (0.5 - el / 180), pixel j spanning
[j, j + 1), so azimuth 0 is the boundary between columns W/2 - 1 and W/2 and
+90 degrees is a quarter width left of it) the pattern drawn for a window
moves its frames too. A pattern that maps z to +-z is az' = s az + a,
el' = t el, read off its label map M (`PatternSet.azel`): t = M[2, 2],
s = det of the azimuth block M[:2, :2] and a the angle of that block's first
column (cos a, sin a). In pixels (new pixel <- old pixel):

  el' = -el      row r <- row H - 1 - r (vertical flip)
  az' = -az      column j <- column W - 1 - j (horizontal flip; column
                 centres j + 1/2 and W - j - 1/2 are at azimuths phi and
                 -phi, so the plain flip is exact, with no off-by-one)
  az' = az + a   column j <- column j + W a / 360 (mod W): a roll left by
                 W a / 360 columns (+90: the centre moves to azimuth 90)

and in general, with half-column offsets from the centre U = 2 j + 1 - W
(azimuth -180 U / W), new column U' takes old column U = s (U' + W a / 180).
Pixels land on pixels exactly when W a / 360 is a whole number: W divisible
by 4 for +-90-degree rotations and by 2 for 180 degrees (other widths are
rejected). Each pattern is one row and one column index table; the frames
of window b are gathered with the tables of its pattern, on device.

Sets whose every pattern keeps z are video-compatible: 'foa8', 'foa16',
'mic' and 'stereo'. 'mic24' is not (16 of its maps exchange elevation with
azimuth, which no image transform realises) and is rejected with video.
For 'stereo' (DCASE2025, perspective frames centred on azimuth 0) the only
transform is the horizontal flip, which maps az to -az for a centred
perspective view as well, and keeps its symmetric field of view, so the
on-screen labels stay valid. Every event of a 360-degree video is on
screen, so nothing else changes there either.

A channel swap with precomputed visual embeddings (`config.visual ==
'embeddings'`) is rejected: they describe the unmoved frames. Mixup is
rejected with any visual input: the partner's events would be heard but not
seen, and blending two frames shows neither scene.

Mixup (event remix)
-------------------
Window i gets the audio of a random other window j of the batch added
(`mixup_prob` per window; j from a random permutation of the batch, windows
paired with themselves are left alone). The label is the union:

  ADPIT layouts: per frame and class the active instances of i (in slot
    order A0, B0, B1, C0, C1, C2) then those of j, re-slotted by their count
    (1 -> A0, 2 -> B0 B1, 3 -> C0 C1 C2); instances beyond 3 are dropped
    (j's), as `targets.multi_accdoa` drops a frame's 4th same-class event.
    This equals the target built from the event tables of i and j
    concatenated (i first).
  single_accdoa / sed_doa: one direction per class and frame, so where both
    windows have the class, j's direction wins, as the target built from the
    concatenated tables (later rows overwrite).

Summing windows raises the level (about +3 dB for equal levels); the random
gain before it varies their ratio. A padded partner (mask 0 frames) brings
silence and empty labels there; the mask of window i is unchanged.

Feature augmentation
--------------------
SpecAugment: `time_masks` time bands of width uniform in 0..`time_width`
frames and `freq_masks` bands of 0..`freq_width` bins, set to `mask_value`
(0 = the mean after normalisation); time masks cover every channel, frequency
masks the channels on a frequency axis. Frequency shift (SALSA, DCASE2021):
those channels move up or down by an integer uniform in
-`max_bins`..`max_bins`, the vacated bins filled by reflection ('reflect',
as the SALSA code), the edge bin ('edge') or `mask_value` ('constant').
The channels on a frequency axis are all of them except the GCC-PHAT lag
channels of 'mic_logmel_gcc' (channels 4-9); `spectral_channels` overrides.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import functools
import itertools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seld_jax.synth import spatial

AudioAugment = Callable[..., tuple[jax.Array, Any, jax.Array | None]]
FeatureAugment = Callable[[jax.Array, jax.Array, Any], tuple[jax.Array, Any]]

LAYOUTS = (
    'multi_accdoa',
    'multi_accdoa_distance',
    'multi_accdoa_stereo',
    'single_accdoa',
    'sed_doa',
)
ADPIT_LAYOUTS = LAYOUTS[:3]
_LAYOUT_OF_TARGET = {'multi_accdoa_stereo_av': 'multi_accdoa_stereo'}
FREQ_SHIFT_MODES = ('reflect', 'edge', 'constant')

# FOA channel of each Cartesian axis: x -> X (3), y -> Y (1), z -> Z (2).
_FOA_CHANNEL = (3, 1, 2)


# Patterns
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class PatternSet:
  """Channel swap patterns of one format; pattern 0 is the identity.

  Attributes:
    name: the `config.augment.acs` value.
    fmt: 'foa', 'mic' or 'stereo'.
    names: readable name of each pattern, e.g. '(az-90, -el)'.
    label_maps: int [P, 3, 3] signed permutations M, v' = M v.
    channel_maps: int [P, C] old channel of each new channel.
    channel_signs: int [P, C] sign of each new channel.
  """

  name: str
  fmt: str
  names: tuple[str, ...]
  label_maps: np.ndarray
  channel_maps: np.ndarray
  channel_signs: np.ndarray

  def __len__(self) -> int:
    return len(self.names)

  @property
  def num_channels(self) -> int:
    return self.channel_maps.shape[1]

  @property
  def audio_matrices(self) -> np.ndarray:
    """int [P, C, C]: audio' = A audio, A[c', c] = sign[c'] (c == map[c'])."""
    p, c = self.channel_maps.shape
    a = np.zeros((p, c, c), np.int64)
    rows = np.arange(c)
    for i in range(p):
      a[i, rows, self.channel_maps[i]] = self.channel_signs[i]
    return a

  @property
  def keeps_z(self) -> bool:
    """Whether every pattern maps z to +-z (and x, y among themselves)."""
    return bool(np.all(np.abs(self.label_maps[:, 2, 2]) == 1))

  @property
  def video_compatible(self) -> bool:
    """Whether every pattern is an equirectangular image transform."""
    return self.keeps_z

  @property
  def azel(self) -> np.ndarray:
    """int [P, 3]: (s, a, t) of az' = s az + a, el' = t el per pattern.

    Read off the label maps (see the module docstring), so the video
    transforms follow the labels by construction.

    Raises:
      ValueError: if a pattern moves z into x or y (no such (s, a, t)).
    """
    out = []
    for name, m in zip(self.names, self.label_maps):
      if abs(m[2, 2]) != 1:
        raise ValueError(
            f'Pattern {name} of {self.name!r} exchanges elevation with '
            'azimuth; no transform of equirectangular frames realises it.'
        )
      block = m[:2, :2]
      s = int(round(np.linalg.det(block)))
      a = int(round(np.rad2deg(np.arctan2(block[1, 0], block[0, 0]))))
      t = int(m[2, 2])
      if not np.array_equal(azel_map(s, a, t), m):
        raise ValueError(f'Pattern {name} of {self.name!r} is not az/el.')
      out.append((s, a, t))
    return np.array(out, np.int64).reshape(-1, 3)

  def inverse(self, index: int) -> int:
    """The index of the inverse of pattern `index` (M^-1 = M^T)."""
    target = self.label_maps[index].T
    for j, m in enumerate(self.label_maps):
      if np.array_equal(m, target):
        return j
    raise ValueError(f'Pattern {index} of {self.name!r} has no inverse.')


def azel_map(s: int, offset_deg: int, t: int) -> np.ndarray:
  """M of az' = s az + offset, el' = t el (offset a multiple of 90)."""
  a = np.deg2rad(offset_deg)
  rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
  m = np.zeros((3, 3))
  m[:2, :2] = rot @ np.diag([1.0, s])
  m[2, 2] = t
  return np.rint(m).astype(np.int64)


def _azel_name(s: int, offset_deg: int, t: int) -> str:
  az = ('-az' if s < 0 else 'az') + (f'{offset_deg:+d}' if offset_deg else '')
  return f'({az}, {"-el" if t < 0 else "el"})'


def _xyz_name(m: np.ndarray) -> str:
  parts = []
  for row in m:
    j = int(np.flatnonzero(row)[0])
    parts.append(('-' if row[j] < 0 else '') + 'xyz'[j])
  return '(' + ', '.join(parts) + ')'


def _foa_channels(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(map, sign) on W, Y, Z, X: W' = W, channel(i)' = M[i, j] channel(j)."""
  cmap = np.zeros(4, np.int64)
  sign = np.ones(4, np.int64)
  for i in range(3):
    j = int(np.flatnonzero(m[i])[0])
    cmap[_FOA_CHANNEL[i]] = _FOA_CHANNEL[j]
    sign[_FOA_CHANNEL[i]] = m[i, j]
  return cmap, sign


def _mic_channels(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Capsule permutation of M: new capsule m <- old capsule p, c_p = M^T c_m.

  Raises if M^T c_m is more than 1 degree from every capsule.
  """
  caps = spatial.capsule_directions()
  moved = caps @ m.astype(np.float64)  # rows: (M^T c_m)^T = c_m^T M
  cos = np.clip(moved @ caps.T, -1.0, 1.0)
  cmap = np.argmax(cos, axis=1)
  err = np.rad2deg(np.arccos(cos[np.arange(4), cmap]))
  if np.any(err > 1.0) or len(set(cmap.tolist())) != 4:
    raise ValueError(f'{_xyz_name(m)} is not a symmetry of the MIC array.')
  return cmap.astype(np.int64), np.ones(4, np.int64)


# (s, offset, t) of the 8 patterns of Wang et al., identity first.
FOA8_AZEL = (
    (1, 0, 1),
    (1, -90, -1),
    (-1, -90, 1),
    (-1, 0, -1),
    (1, 90, -1),
    (-1, 90, 1),
    (1, 180, 1),
    (-1, 180, -1),
)
FOA16_AZEL = tuple(
    (s, a, t) for a in (0, 90, 180, -90) for s in (1, -1) for t in (1, -1)
)


def _tetrahedral_group() -> list[np.ndarray]:
  """The 24 signed permutations with sign product +1, the 8 of FOA8 first."""
  first = [azel_map(*p) for p in FOA8_AZEL]
  rest = []
  for perm in itertools.permutations(range(3)):
    for signs in itertools.product((1, -1), repeat=3):
      if np.prod(signs) != 1:
        continue
      m = np.zeros((3, 3), np.int64)
      m[np.arange(3), perm] = signs
      if not any(np.array_equal(m, f) for f in first):
        rest.append(m)
  return first + rest


def _make_set(name: str, fmt: str, maps, names) -> PatternSet:
  channels = [
      _foa_channels(m) if fmt == 'foa' else _mic_channels(m) for m in maps
  ]
  return PatternSet(
      name=name,
      fmt=fmt,
      names=tuple(names),
      label_maps=np.stack(maps),
      channel_maps=np.stack([c[0] for c in channels]),
      channel_signs=np.stack([c[1] for c in channels]),
  )


@functools.cache
def get_patterns(name: str) -> PatternSet:
  """The `PatternSet` of a `config.augment.acs` value."""
  if name in ('foa8', 'mic'):
    maps = [azel_map(*p) for p in FOA8_AZEL]
    names = [_azel_name(*p) for p in FOA8_AZEL]
    return _make_set(name, 'foa' if name == 'foa8' else 'mic', maps, names)
  if name == 'foa16':
    maps = [azel_map(*p) for p in FOA16_AZEL]
    names = [_azel_name(*p) for p in FOA16_AZEL]
    return _make_set(name, 'foa', maps, names)
  if name == 'mic24':
    maps = _tetrahedral_group()
    names = [_azel_name(*p) for p in FOA8_AZEL]
    names += [_xyz_name(m) for m in maps[len(FOA8_AZEL) :]]
    return _make_set(name, 'mic', maps, names)
  if name == 'stereo':
    maps = [azel_map(1, 0, 1), azel_map(-1, 0, 1)]
    return PatternSet(
        name=name,
        fmt='stereo',
        names=('(az, el)', '(-az, el)'),
        label_maps=np.stack(maps),
        channel_maps=np.array([[0, 1], [1, 0]], np.int64),
        channel_signs=np.ones((2, 2), np.int64),
    )
  raise ValueError(
      f'Unknown channel swap set {name!r}; known: {", ".join(PATTERN_SETS)}.'
  )


PATTERN_SETS = ('foa8', 'foa16', 'mic', 'mic24', 'stereo')


# Array helpers
# -----------------------------------------------------------------------------


def _per_example(values: jax.Array, ndim: int) -> jax.Array:
  """[B] -> [B, 1, ..., 1] with `ndim` dimensions."""
  return values.reshape(values.shape + (1,) * (ndim - values.ndim))


def _matvec(m: jax.Array, v: jax.Array, axis: int) -> jax.Array:
  """Per-example M v along `axis` of v: out_i = sum_j m[b, i, j] v_j.

  Written as broadcast multiply-adds rather than a dot so that it is exact
  for entries in {0, +-1} on every backend (no reduced-precision matmul).

  Args:
    m: [B, n, n].
    v: [B, ...] with size n at `axis`.
    axis: the component axis of v.

  Returns:
    v transformed, same shape.
  """
  v = jnp.moveaxis(v, axis, 1)
  n = v.shape[1]
  if m.shape[1:] != (n, n):
    raise ValueError(f'Matrices {m.shape} do not match {n} components.')
  m = m.astype(v.dtype)
  shape = m.shape[:2] + (1,) * (v.ndim - 2)
  out = m[:, :, 0].reshape(shape) * v[:, 0:1]
  for j in range(1, n):
    out = out + m[:, :, j].reshape(shape) * v[:, j : j + 1]
  return jnp.moveaxis(out, 1, axis)


def _check_layout(target, layout: str):
  if layout not in LAYOUTS:
    raise ValueError(f'Unknown target layout {layout!r}; known: {LAYOUTS}.')
  if layout == 'sed_doa':
    if not isinstance(target, dict) or set(target) != {'sed', 'doa'}:
      raise ValueError("sed_doa targets are {'sed', 'doa'} dicts.")
    if target['doa'].shape[-1] != 3 * target['sed'].shape[-1]:
      raise ValueError(
          f"sed_doa 'doa' {target['doa'].shape} is not [B, T, 3K] for "
          f"'sed' {target['sed'].shape}."
      )
    return
  shape = target.shape
  if layout == 'single_accdoa':
    if target.ndim != 3 or shape[-1] % 3:
      raise ValueError(f'single_accdoa targets are [B, T, 3K], got {shape}.')
    return
  rows = {
      'multi_accdoa': (4,),
      'multi_accdoa_distance': (5,),
      'multi_accdoa_stereo': (4, 5),
  }[layout]
  if target.ndim != 5 or shape[2] != 6 or shape[3] not in rows:
    raise ValueError(
        f'{layout} targets are [B, T, 6, {"|".join(map(str, rows))}, K], '
        f'got {shape}.'
    )


# Audio channel swap
# -----------------------------------------------------------------------------


def transform_target(target, layout: str, label_maps: jax.Array):
  """Applies per-example direction maps M [B, 3, 3] to a target's vectors."""
  _check_layout(target, layout)
  if layout in ('multi_accdoa', 'multi_accdoa_distance'):
    xyz = _matvec(label_maps, target[..., 1:4, :], axis=-2)
    return jnp.concatenate(
        [target[..., :1, :], xyz, target[..., 4:, :]], axis=-2
    )
  if layout == 'multi_accdoa_stereo':
    xy = _matvec(label_maps[:, :2, :2], target[..., 1:3, :], axis=-2)
    return jnp.concatenate([target[..., :1, :], xy, target[..., 3:, :]], -2)

  def blocks(v):  # [B, T, 3K] -> [B, T, 3, K] and back
    b, t, d = v.shape
    x = _matvec(label_maps, v.reshape(b, t, 3, d // 3), axis=2)
    return x.reshape(b, t, d)

  if layout == 'single_accdoa':
    return blocks(target)
  return {'sed': target['sed'], 'doa': blocks(target['doa'])}


def apply_pattern(
    audio: jax.Array,
    target,
    index: jax.Array,
    patterns: PatternSet,
    layout: str,
):
  """Applies pattern `index[b]` of `patterns` to window b, audio and target.

  Args:
    audio: [B, C, N] in the set's channel order.
    target: the batch target in `layout`.
    index: int [B] pattern indices.
    patterns: the pattern set.
    layout: the target layout (see `LAYOUTS`).

  Returns:
    (audio, target) transformed.
  """
  if audio.ndim != 3 or audio.shape[1] != patterns.num_channels:
    raise ValueError(
        f'{patterns.name!r} channel swap needs audio [B, '
        f'{patterns.num_channels}, N]; got {audio.shape}.'
    )
  if layout == 'multi_accdoa_stereo' and not patterns.keeps_z:
    raise ValueError(
        f'{patterns.name!r} moves elevation into azimuth; the stereo target '
        'has no elevation.'
    )
  index = jnp.asarray(index)
  a = jnp.asarray(patterns.audio_matrices)[index]
  m = jnp.asarray(patterns.label_maps)[index]
  return _matvec(a, audio, axis=1), transform_target(target, layout, m)


def channel_swap(
    key: jax.Array,
    audio: jax.Array,
    target,
    visual: jax.Array | None = None,
    *,
    patterns: PatternSet,
    layout: str,
    prob: float = 1.0,
):
  """A uniformly drawn pattern per window, applied with probability `prob`.

  Args:
    key: RNG key.
    audio: [B, C, N].
    target: the target in `layout`.
    visual: None, or equirectangular video frames [B, ..., H, W, C] moved
      by the same pattern (`transform_visual`).
    patterns: the pattern set (pattern 0 is the identity, which the uniform
      draw includes).
    layout: the target layout.
    prob: chance that a window is transformed at all.

  Returns:
    (audio, target, visual).
  """
  b = audio.shape[0]
  k_index, k_apply = jax.random.split(key)
  index = jax.random.randint(k_index, (b,), 0, len(patterns))
  if prob < 1.0:
    index = jnp.where(jax.random.bernoulli(k_apply, prob, (b,)), index, 0)
  audio, target = apply_pattern(audio, target, index, patterns, layout)
  if visual is not None:
    visual = transform_visual(visual, index, patterns)
  return audio, target, visual


# Video transforms (AVCS)
# -----------------------------------------------------------------------------


def visual_index_tables(
    patterns: PatternSet, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
  """Source pixel tables of equirectangular frames, per pattern.

  New row r of pattern p is old row rows[p, r], new column j is old column
  cols[p, j] (see the module docstring for the derivation).

  Args:
    patterns: a video-compatible pattern set.
    height: frame height H.
    width: frame width W.

  Returns:
    (rows int [P, H], cols int [P, W]).

  Raises:
    ValueError: for a set that exchanges elevation with azimuth, or a width
      on which a rotation of the set does not move whole columns.
  """
  azel = patterns.azel
  r = np.arange(height)
  u_new = 2 * np.arange(width) + 1 - width  # half-columns from the centre
  rows, cols = [], []
  for s, a, t in azel:
    shift = width * a  # W a / 180 half-columns, times 180
    if shift % 360:
      raise ValueError(
          f'A {a:+d}-degree azimuth rotation ({patterns.name!r}) moves '
          f'equirectangular frames by {width} * {a} / 360 columns, which is '
          f'not whole: the width must be divisible by {360 // abs(a)}.'
      )
    u_old = s * (u_new + shift // 180)
    cols.append(np.mod((u_old + width - 1) // 2, width))
    rows.append(r if t > 0 else r[::-1])
  return np.stack(rows).astype(np.int32), np.stack(cols).astype(np.int32)


def transform_visual(
    visual: jax.Array, index: jax.Array, patterns: PatternSet
) -> jax.Array:
  """Moves equirectangular frames of window b by pattern `index[b]`.

  Args:
    visual: [B, ..., H, W, C] frames (e.g. [B, T, H, W, 3]), any dtype.
    index: int [B] pattern indices.
    patterns: a video-compatible pattern set.

  Returns:
    The frames, same shape and dtype: the content at direction v of window b
    now at direction M v, M the label map of its pattern.
  """
  if visual.ndim < 4:
    raise ValueError(f'Frames are [B, ..., H, W, C]; got {visual.shape}.')
  height, width = visual.shape[-3:-1]
  rows, cols = visual_index_tables(patterns, height, width)
  index = jnp.asarray(index)
  rows = jnp.asarray(rows)[index]  # [B, H]
  cols = jnp.asarray(cols)[index]  # [B, W]

  def gather(frames, r, c):  # frames [..., H, W, C]
    return jnp.take(jnp.take(frames, r, axis=-3), c, axis=-2)

  return jax.vmap(gather)(visual, rows, cols)


# Gain and mixup
# -----------------------------------------------------------------------------


def random_gain(
    key: jax.Array,
    audio: jax.Array,
    db_range: tuple[float, float],
    prob: float = 1.0,
) -> jax.Array:
  """Scales each window by a gain uniform in `db_range` dB (with `prob`)."""
  b = audio.shape[0]
  k_gain, k_apply = jax.random.split(key)
  lo, hi = (float(x) for x in db_range)
  db = jax.random.uniform(k_gain, (b,), minval=lo, maxval=hi)
  if prob < 1.0:
    db = jnp.where(jax.random.bernoulli(k_apply, prob, (b,)), db, 0.0)
  gain = jnp.power(10.0, db / 20.0).astype(audio.dtype)
  return audio * _per_example(gain, audio.ndim)


def merge_targets(a, b, layout: str):
  """The union of two windows' targets (see the module docstring).

  Args:
    a: the target of the windows that are kept.
    b: the target of the windows added to them.
    layout: the target layout.

  Returns:
    The merged target.
  """
  _check_layout(a, layout)
  _check_layout(b, layout)
  if layout in ADPIT_LAYOUTS:
    cand = jnp.concatenate([a, b], axis=2)  # [B, T, 12, D, K]
    active = cand[:, :, :, 0, :] > 0.5  # [B, T, 12, K]
    rank = jnp.cumsum(active.astype(jnp.int32), axis=2) - 1
    count = jnp.minimum(jnp.sum(active, axis=2, dtype=jnp.int32), 3)
    inst = []
    for p in range(3):
      sel = (active & (rank == p))[:, :, :, None, :]
      inst.append(jnp.sum(jnp.where(sel, cand, 0.0), axis=2))  # [B, T, D, K]
    n = count[:, :, None, :]

    def keep(x, c):
      return jnp.where(n == c, x, 0.0)

    slots = [
        keep(inst[0], 1),
        keep(inst[0], 2),
        keep(inst[1], 2),
        keep(inst[0], 3),
        keep(inst[1], 3),
        keep(inst[2], 3),
    ]
    return jnp.stack(slots, axis=2).astype(a.dtype)

  def overwrite(va, vb, active_b):
    bsz, t, d = va.shape
    k = active_b.shape[-1]
    va = va.reshape(bsz, t, d // k, k)
    vb = vb.reshape(bsz, t, d // k, k)
    return jnp.where(active_b[:, :, None, :], vb, va).reshape(bsz, t, d)

  if layout == 'single_accdoa':
    bsz, t, d = b.shape
    norm = jnp.sum(jnp.square(b.reshape(bsz, t, 3, d // 3)), axis=2)
    return overwrite(a, b, norm > 0.25)
  active_b = b['sed'] > 0.5
  return {
      'sed': jnp.maximum(a['sed'], b['sed']),
      'doa': overwrite(a['doa'], b['doa'], active_b),
  }


def mixup(
    key: jax.Array,
    audio: jax.Array,
    target,
    *,
    layout: str,
    prob: float,
):
  """Event remix: adds another window of the batch to a window (`prob`).

  Args:
    key: RNG key.
    audio: [B, C, N].
    target: the target in `layout`.
    layout: the target layout.
    prob: chance that a window gets a partner.

  Returns:
    (audio, target) with partners summed in and the labels merged.
  """
  b = audio.shape[0]
  k_perm, k_apply = jax.random.split(key)
  partner = jax.random.permutation(k_perm, b)
  mix = jax.random.bernoulli(k_apply, prob, (b,)) & (partner != jnp.arange(b))
  other = jax.tree.map(lambda x: x[partner], target)
  audio = audio + jnp.where(_per_example(mix, 3), audio[partner], 0.0)
  merged = merge_targets(target, other, layout)
  target = jax.tree.map(
      lambda m, t: jnp.where(_per_example(mix, t.ndim), m, t), merged, target
  )
  return audio, target


# Feature augmentation
# -----------------------------------------------------------------------------


def _band_masks(
    key: jax.Array, batch: int, size: int, count: int, max_width: int
) -> jax.Array:
  """bool [batch, size]: the union of `count` random bands per example."""
  k_width, k_start = jax.random.split(key)
  width = jax.random.randint(
      k_width, (batch, count), 0, min(max_width, size) + 1
  )
  start = jax.random.randint(k_start, (batch, count), 0, size - width + 1)
  pos = jnp.arange(size)[None, None, :]
  inside = (pos >= start[..., None]) & (pos < (start + width)[..., None])
  return jnp.any(inside, axis=1)


def _channel_mask(num_channels: int, spectral: int | None) -> np.ndarray:
  mask = np.zeros(num_channels, bool)
  mask[: num_channels if spectral is None else spectral] = True
  return mask


def spec_augment(
    key: jax.Array,
    features: jax.Array,
    *,
    time_masks: int = 0,
    time_width: int = 0,
    freq_masks: int = 0,
    freq_width: int = 0,
    mask_value: float = 0.0,
    prob: float = 1.0,
    spectral_channels: int | None = None,
) -> jax.Array:
  """Time and frequency masks on features [B, C', T, F].

  Args:
    key: RNG key.
    features: [B, C', T, F].
    time_masks: time bands per window.
    time_width: largest time band, frames (each uniform in 0..time_width).
    freq_masks: frequency bands per window.
    freq_width: largest frequency band, bins.
    mask_value: value of masked cells.
    prob: chance that a window is masked at all.
    spectral_channels: frequency masks cover channels [0, this) (None: all).

  Returns:
    The masked features.
  """
  b, c, t, f = features.shape
  k_time, k_freq, k_apply = jax.random.split(key, 3)
  mask = jnp.zeros((b, 1, t, f), bool)
  if time_masks and time_width:
    mask_t = _band_masks(k_time, b, t, time_masks, time_width)
    mask = mask | mask_t[:, None, :, None]
  if freq_masks and freq_width:
    mask_f = _band_masks(k_freq, b, f, freq_masks, freq_width)
    channels = jnp.asarray(_channel_mask(c, spectral_channels))
    mask = mask | (mask_f[:, None, None, :] & channels[None, :, None, None])
  if prob < 1.0:
    apply = jax.random.bernoulli(k_apply, prob, (b,))
    mask = mask & _per_example(apply, 4)
  return jnp.where(mask, jnp.asarray(mask_value, features.dtype), features)


def freq_shift(
    key: jax.Array,
    features: jax.Array,
    *,
    max_bins: int,
    prob: float = 1.0,
    mode: str = 'reflect',
    fill_value: float = 0.0,
    spectral_channels: int | None = None,
) -> jax.Array:
  """Shifts the frequency axis of each window by -max_bins..max_bins bins.

  out[..., f] = in[..., f - shift] (a positive shift moves content up).

  Args:
    key: RNG key.
    features: [B, C', T, F].
    max_bins: largest shift.
    prob: chance that a window is shifted.
    mode: fill of the vacated bins: 'reflect' (mirror about the edge bin,
      as numpy.pad), 'edge' (repeat it) or 'constant' (`fill_value`).
    fill_value: see `mode`.
    spectral_channels: shift channels [0, this) (None: all).

  Returns:
    The shifted features.
  """
  if mode not in FREQ_SHIFT_MODES:
    raise ValueError(f'mode must be one of {FREQ_SHIFT_MODES}, got {mode!r}.')
  b, c, _, f = features.shape
  if mode == 'reflect' and max_bins >= f:
    raise ValueError(f'max_bins {max_bins} must be < the {f} bins.')
  k_shift, k_apply = jax.random.split(key)
  shift = jax.random.randint(k_shift, (b,), -max_bins, max_bins + 1)
  if prob < 1.0:
    shift = jnp.where(jax.random.bernoulli(k_apply, prob, (b,)), shift, 0)
  src = jnp.arange(f)[None, :] - shift[:, None]  # [B, F]
  valid = (src >= 0) & (src < f)
  if mode == 'reflect':
    src = jnp.abs(src)
    src = jnp.where(src > f - 1, 2 * (f - 1) - src, src)
  src = jnp.clip(src, 0, f - 1)
  nc = c if spectral_channels is None else spectral_channels
  spec = features[:, :nc]
  shifted = jnp.take_along_axis(spec, src[:, None, None, :], axis=-1)
  if mode == 'constant':
    shifted = jnp.where(
        valid[:, None, None, :],
        shifted,
        jnp.asarray(fill_value, features.dtype),
    )
  return jnp.concatenate([shifted, features[:, nc:]], axis=1)


# Config
# -----------------------------------------------------------------------------


def default_config() -> ml_collections.ConfigDict:
  """Every `config.augment` field, all off."""
  c = ml_collections.ConfigDict()
  # '' (off) or one of PATTERN_SETS: 'foa8' | 'foa16' | 'mic' | 'mic24' |
  # 'stereo'. One pattern per window, uniform over the set (identity
  # included), with probability acs_prob (else the identity).
  c.acs = ''
  c.acs_prob = 1.0
  # Per-window gain uniform in this (low, high) dB range; () is off.
  c.gain_db = ()
  c.gain_prob = 1.0
  # Chance that a window gets another window of the batch summed in.
  c.mixup_prob = 0.0
  c.spec_augment = ml_collections.ConfigDict(
      dict(
          time_masks=0,
          time_width=0,  # frames
          freq_masks=0,
          freq_width=0,  # bins
          mask_value=0.0,
          prob=1.0,
      )
  )
  c.freq_shift = ml_collections.ConfigDict(
      dict(max_bins=0, prob=1.0, mode='reflect')
  )
  # Leading feature channels on a frequency axis (frequency masks and
  # shifts); None: from config.features (all but the GCC-PHAT lags).
  c.spectral_channels = ml_collections.config_dict.placeholder(int)
  return c


def _as_dict(value) -> dict[str, Any]:
  if value is None:
    return {}
  if isinstance(value, ml_collections.ConfigDict):
    return value.to_dict()
  return dict(value)


def _merge(defaults: dict[str, Any], given: dict[str, Any], where: str):
  out = dict(defaults)
  for k, v in given.items():
    if k not in defaults:
      raise ValueError(
          f'Unknown augmentation field {where}{k}; known: '
          f'{", ".join(sorted(defaults))}.'
      )
    if isinstance(defaults[k], dict):
      out[k] = _merge(defaults[k], _as_dict(v), f'{where}{k}.')
    else:
      out[k] = v
  return out


def resolve(augment) -> dict[str, Any]:
  """`config.augment` (possibly partial or None) completed with defaults."""
  cfg = _merge(default_config().to_dict(), _as_dict(augment), 'augment.')
  for name in ('acs_prob', 'gain_prob', 'mixup_prob'):
    if not 0.0 <= cfg[name] <= 1.0:
      raise ValueError(f'augment.{name} must be in [0, 1], got {cfg[name]}.')
  if cfg['acs'] and cfg['acs'] not in PATTERN_SETS:
    raise ValueError(
        f"augment.acs must be '' or one of {PATTERN_SETS}, got {cfg['acs']!r}."
    )
  gain = tuple(cfg['gain_db'] or ())
  if gain and (len(gain) != 2 or gain[0] > gain[1]):
    raise ValueError(f'augment.gain_db must be (low, high), got {gain}.')
  cfg['gain_db'] = gain
  sa = cfg['spec_augment']
  for name in ('time_masks', 'time_width', 'freq_masks', 'freq_width'):
    if int(sa[name]) < 0:
      raise ValueError(f'augment.spec_augment.{name} must be >= 0.')
  fs = cfg['freq_shift']
  if int(fs['max_bins']) < 0 or fs['mode'] not in FREQ_SHIFT_MODES:
    raise ValueError(
        'augment.freq_shift needs max_bins >= 0 and mode in '
        f'{FREQ_SHIFT_MODES}, got {fs}.'
    )
  for group in ('spec_augment', 'freq_shift'):
    if not 0.0 <= cfg[group]['prob'] <= 1.0:
      raise ValueError(f'augment.{group}.prob must be in [0, 1].')
  return cfg


# Channels of each feature that lie on a frequency axis (None: all).
_SPECTRAL_CHANNELS = {'mic_logmel_gcc': 4}
# Formats whose features cannot come from each channel swap format.
_FEATURE_FORMATS = {
    'foa_logmel_iv': 'foa',
    'mic_logmel_gcc': 'mic',
    'salsa_lite': 'mic',
    'stereo_log_mel': 'stereo',
}


def _check_format(patterns: PatternSet, config):
  features = config.get('features', None)
  fmt = _FEATURE_FORMATS.get(features)
  dataset = str(config.get('dataset', '') or '')
  suffix = dataset.rsplit('/', 1)[-1] if '/' in dataset else ''
  if fmt is None and suffix in ('foa', 'mic', 'stereo'):
    fmt = suffix
  if fmt is not None and fmt != patterns.fmt:
    raise ValueError(
        f'augment.acs={patterns.name!r} swaps {patterns.fmt.upper()} '
        f'channels, but the input is {fmt.upper()} (features {features!r}, '
        f'dataset {dataset!r}).'
    )


def _chain(steps):
  def run(key, x, target):
    keys = jax.random.split(key, len(steps))
    for k, step in zip(keys, steps):
      x, target = step(k, x, target)
    return x, target

  return run


def _chain_audio(steps):
  def run(key, audio, target, visual=None):
    keys = jax.random.split(key, len(steps))
    for k, step in zip(keys, steps):
      audio, target, visual = step(k, audio, target, visual)
    return audio, target, visual

  return run


# Values of `config.visual`: no video, or decoded frames in the batch.
VISUAL_INPUTS = ('', 'frames')


def _check_visual_input(visual: str, acs: str):
  if visual not in VISUAL_INPUTS:
    raise ValueError(
        f'augment.acs={acs!r} with config.visual={visual!r}: the channel '
        "swap moves video frames (visual='frames'), not inputs computed "
        'from the unmoved frames (e.g. embeddings); use frames or turn the '
        'channel swap off.'
    )


def build(
    config: ml_collections.ConfigDict,
) -> tuple[AudioAugment | None, FeatureAugment | None]:
  """The (audio_augment, feature_augment) hooks of `config.augment`.

  Reads `config.augment` (see `default_config`), `config.target` (the
  target layout), `config.features` / `config.dataset` (to reject a
  channel swap of the wrong format and to find the frequency channels) and
  `config.visual` ('' or missing: audio only; 'frames': the batch holds
  equirectangular frames, which the channel swap moves with the audio).

  Args:
    config: the run config.

  Returns:
    Two hooks for `train_step.setup`, each None when nothing is configured:
    audio_augment(key, audio, target, visual=None) -> (audio, target,
    visual) and feature_augment(key, features, target) -> (features,
    target).

  Raises:
    ValueError: for a bad config, a channel swap of the wrong format, a
      set that no image transform realises with video ('mic24'), or mixup
      with video.
  """
  aug = resolve(config.get('augment', None))
  layout = config.get('target', 'multi_accdoa')
  # The on-screen stereo target ([.., 6, 5, K]) has the stereo layout.
  layout = _LAYOUT_OF_TARGET.get(layout, layout)
  if layout not in LAYOUTS:
    raise ValueError(f'Unknown target {layout!r}; known: {LAYOUTS}.')
  visual = str(config.get('visual', '') or '')
  spectral = aug['spectral_channels']
  if spectral is None:
    spectral = _SPECTRAL_CHANNELS.get(config.get('features', None))

  audio_steps = []
  if aug['acs'] and aug['acs_prob'] > 0:
    patterns = get_patterns(aug['acs'])
    _check_format(patterns, config)
    if layout == 'multi_accdoa_stereo' and not patterns.keeps_z:
      raise ValueError(f'augment.acs={aug["acs"]!r} needs elevation labels.')
    _check_visual_input(visual, aug['acs'])
    if visual and not patterns.video_compatible:
      video_sets = [n for n in PATTERN_SETS if get_patterns(n).video_compatible]
      raise ValueError(
          f'augment.acs={aug["acs"]!r} exchanges elevation with azimuth, '
          'which no transform of the video frames (config.visual='
          f'{visual!r}) realises; video-compatible sets: {video_sets}.'
      )

    def acs_step(key, audio, target, frames):
      return channel_swap(
          key,
          audio,
          target,
          frames,
          patterns=patterns,
          layout=layout,
          prob=aug['acs_prob'],
      )

    audio_steps.append(acs_step)
  gain = aug['gain_db']
  if gain and gain != (0, 0) and aug['gain_prob'] > 0:

    def gain_step(key, audio, target, frames):
      return random_gain(key, audio, gain, aug['gain_prob']), target, frames

    audio_steps.append(gain_step)
  if aug['mixup_prob'] > 0:
    if visual:
      raise ValueError(
          f'augment.mixup_prob={aug["mixup_prob"]} is not supported with '
          f"video (config.visual={visual!r}): the added window's events "
          'would be heard but not seen. Set augment.mixup_prob = 0.'
      )

    def mixup_step(key, audio, target, frames):
      if frames is not None:
        raise ValueError('Mixup is not supported with video frames.')
      audio, target = mixup(
          key, audio, target, layout=layout, prob=aug['mixup_prob']
      )
      return audio, target, frames

    audio_steps.append(mixup_step)

  feature_steps = []
  fs = aug['freq_shift']
  sa = aug['spec_augment']
  if fs['max_bins'] > 0 and fs['prob'] > 0:

    def shift_step(key, feats, target):
      out = freq_shift(
          key,
          feats,
          max_bins=int(fs['max_bins']),
          prob=fs['prob'],
          mode=fs['mode'],
          fill_value=sa['mask_value'],
          spectral_channels=spectral,
      )
      return out, target

    feature_steps.append(shift_step)
  masks = (sa['time_masks'] and sa['time_width']) or (
      sa['freq_masks'] and sa['freq_width']
  )
  if masks and sa['prob'] > 0:

    def mask_step(key, feats, target):
      out = spec_augment(
          key,
          feats,
          time_masks=int(sa['time_masks']),
          time_width=int(sa['time_width']),
          freq_masks=int(sa['freq_masks']),
          freq_width=int(sa['freq_width']),
          mask_value=sa['mask_value'],
          prob=sa['prob'],
          spectral_channels=spectral,
      )
      return out, target

    feature_steps.append(mask_step)

  return (
      _chain_audio(audio_steps) if audio_steps else None,
      _chain(feature_steps) if feature_steps else None,
  )

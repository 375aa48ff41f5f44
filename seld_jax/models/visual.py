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

"""Visual encoders and the visual front end of the audio-visual models.

Encoders (NHWC / NTHWC inside, parameter names as their PyTorch originals so
the published weights import one-to-one with `seld_jax.convert.torch_resnet`
and `seld_jax.convert.torch_i3d`):

  ResNet50   torchvision `resnet50` without avgpool/fc (Bottleneck v1.5: the
             stride sits on the 3x3 conv; layers 3-4-6-3, widths 64..512,
             expansion 4, BatchNorm eps 1e-5): images [N, H, W, 3] ->
             [N, H/32, W/32, 2048]; 23,508,032 parameters.
  I3D        piergiaj/pytorch-i3d `InceptionI3d` (RGB) up to Mixed_5c, with
             TensorFlow 'SAME' padding (zeros, also before the max pools) and
             BatchNorm eps 1e-3, momentum 0.01: clips [N, T, H, W, 3] ->
             [N, ceil(T/8), ceil(H/32), ceil(W/32), 1024].
  SmallCNN   a few Conv3x3-BN-ReLU-MaxPool2 blocks, trainable from scratch on
             a CPU (the synthetic data's small frames).

Preprocessing (jit-able, frames uint8 or float on the 0..255 scale):
`imagenet_preprocess` (ResNet-50 / small CNN: /255, ImageNet mean/std, an
optional `jax.image.resize`), `i3d_preprocess` (pytorch-i3d: x/255*2-1) and
`dcase_transform`, the DCASE2024/2025 baseline's chain (SPEC §1.4): OpenCV
`cv2.resize(frame, (360, 180))`, then torchvision
`ResNet50_Weights.DEFAULT.transforms()` on the PIL image (shorter side to 232,
bilinear, centre crop 224, ImageNet normalisation). It is reproduced step by
step: the first resize is bilinear without antialiasing (as `INTER_LINEAR`)
and rounded to uint8; the second is PIL's bilinear filter (a triangle
widened by the scale when shrinking, i.e. `jax.image.resize(antialias=True)`),
applied horizontally then vertically with a uint8 rounding after each pass
as PIL does. Remaining difference: OpenCV (11-bit) and PIL (22-bit) round
fixed-point weights where this computes in float32, so values that land on
(or within ~1e-2 of) a half grey level round the other way; with 360 -> 464
many land exactly on .5 and about 1 % of the output values differ, by one
grey level (4e-3 after /255; measured against torch/PIL in the tests).
OpenCV's exact-2x shortcut (`INTER_AREA`) gives the same values as bilinear.

`create_frontend` wraps an encoder into the module the audio-visual models
use: video frames [B, T, H, W, 3] -> preprocessing -> encoder (per frame for
ResNet-50 / small CNN; one clip per window for I3D, whose T/8 outputs are
repeated back to T frames) -> pooling of each [h, w, C] map:

  'dcase_mean'  mean over channels, the h*w map flattened row-major (the
                baseline's [7, 7] -> 49)
  'avg'         global average over h, w -> C
  'none'        the whole map flattened in (h, w, C) order -> h*w*C

`freeze_encoder` (default: on for the pretrained ResNet-50 / I3D, off for the
small CNN) runs the encoder's BatchNorm on its running statistics and stops
its gradient; list 'visual_frontend.encoder' (the parameter path of the
model attribute holding the front end) in `config.freeze` as well so that no
optimizer (e.g. weight decay) touches it. `embed_frames` runs a front end
over the frames of one recording in chunks (the pre-extraction command).
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import math
import os

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from seld_jax.models import layers

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision resnet50: 25,557,032 parameters less the 2,049,000 of fc.
RESNET50_LAYERS = (3, 4, 6, 3)
RESNET50_PARAMS = 23_508_032

POOLINGS = ('dcase_mean', 'avg', 'none')
FRONTENDS = ('resnet50', 'i3d', 'small_cnn')
# name -> (transforms, the first the default; temporal; frozen by default)
_FRONTEND_SPECS = {
    'resnet50': (('imagenet', 'dcase'), False, True),
    'i3d': (('i3d',), True, True),
    'small_cnn': (('imagenet',), False, False),
}


# Preprocessing
# -----------------------------------------------------------------------------


def resize_frames(
    frames: jax.Array, size: Sequence[int], *, antialias: bool = True
) -> jax.Array:
  """Bilinear resize of [..., H, W, C] frames to [..., h, w, C] (float32)."""
  x = jnp.asarray(frames).astype(jnp.float32)
  size = tuple(int(s) for s in size)
  if x.shape[-3:-1] == size:
    return x
  shape = x.shape[:-3] + size + x.shape[-1:]
  return jax.image.resize(x, shape, method='linear', antialias=antialias)


def normalize(
    frames: jax.Array,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> jax.Array:
  """0..255 RGB frames -> (x / 255 - mean) / std, float32."""
  x = jnp.asarray(frames).astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def imagenet_preprocess(
    frames: jax.Array,
    size: Sequence[int] | None = None,
    *,
    antialias: bool = True,
) -> jax.Array:
  """torchvision's ImageNet input: optional resize to `size`, mean/std."""
  x = jnp.asarray(frames).astype(jnp.float32)
  if size is not None:
    x = resize_frames(x, size, antialias=antialias)
  return normalize(x)


def i3d_preprocess(
    frames: jax.Array,
    size: Sequence[int] | None = None,
    *,
    antialias: bool = True,
) -> jax.Array:
  """pytorch-i3d's RGB input: optional resize, then x / 255 * 2 - 1."""
  x = jnp.asarray(frames).astype(jnp.float32)
  if size is not None:
    x = resize_frames(x, size, antialias=antialias)
  return x / 127.5 - 1.0


def _round_uint8(x: jax.Array) -> jax.Array:
  """Round half up and saturate, as fixed-point uint8 resizers do."""
  return jnp.clip(jnp.floor(x + 0.5), 0.0, 255.0)


def _resize_axis(x: jax.Array, axis: int, size: int, antialias: bool):
  if x.shape[axis] == size:
    return x
  shape = list(x.shape)
  shape[axis] = size
  return jax.image.resize(x, shape, method='linear', antialias=antialias)


def resized_shorter_side(height: int, width: int, size: int) -> tuple[int, int]:
  """torchvision's `resize(img, size)` output (h, w) for an int `size`."""
  short, long = min(height, width), max(height, width)
  new_long = int(size * long / short)
  return (size, new_long) if height <= width else (new_long, size)


def center_crop(frames: jax.Array, size: int) -> jax.Array:
  """torchvision's `center_crop` of [..., H, W, C] to [..., size, size, C]."""
  h, w = frames.shape[-3:-1]
  if h < size or w < size:
    raise ValueError(f'Cannot crop {size}x{size} from {h}x{w} frames.')
  top = int(round((h - size) / 2.0))
  left = int(round((w - size) / 2.0))
  return frames[..., top : top + size, left : left + size, :]


def dcase_transform(
    frames: jax.Array,
    *,
    source_size: tuple[int, int] = (180, 360),
    resize_size: int = 232,
    crop_size: int = 224,
) -> jax.Array:
  """The DCASE2024/2025 baseline's frame preprocessing (SPEC §1.4).

  `cv2.resize(frame, (360, 180))` (skipped when the frames already have that
  size), then `ResNet50_Weights.DEFAULT.transforms()` on the PIL image:
  shorter side to 232, centre crop 224, ImageNet mean/std. See the module
  docstring for the (one grey level) differences.

  Args:
    frames: RGB frames [..., H, W, 3], uint8 or float on the 0..255 scale.
    source_size: (height, width) of the OpenCV resize.
    resize_size: the shorter side after torchvision's resize.
    crop_size: the centre crop.

  Returns:
    float32 [..., crop_size, crop_size, 3], normalised.
  """
  x = jnp.asarray(frames).astype(jnp.float32)
  h, w = source_size
  if x.shape[-3:-1] != (h, w):  # cv2 INTER_LINEAR: no antialiasing
    x = _round_uint8(resize_frames(x, (h, w), antialias=False))
  rh, rw = resized_shorter_side(h, w, resize_size)
  # PIL: the horizontal pass, then the vertical one, each rounded to uint8.
  x = _round_uint8(_resize_axis(x, x.ndim - 2, rw, antialias=True))
  x = _round_uint8(_resize_axis(x, x.ndim - 3, rh, antialias=True))
  return normalize(center_crop(x, crop_size))


# ResNet-50 (torchvision)
# -----------------------------------------------------------------------------

# torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu').
_KAIMING_FAN_OUT = jax.nn.initializers.variance_scaling(
    2.0, 'fan_out', 'normal'
)


def _conv2d(cin, cout, kernel, stride, pad, *, rngs, dtype) -> nnx.Conv:
  return nnx.Conv(
      cin,
      cout,
      kernel_size=(kernel, kernel),
      strides=(stride, stride),
      padding=((pad, pad), (pad, pad)),
      use_bias=False,
      kernel_init=_KAIMING_FAN_OUT,
      dtype=dtype,
      rngs=rngs,
  )


def _bn2d(n: int, *, rngs, dtype) -> nnx.BatchNorm:
  return nnx.BatchNorm(n, momentum=0.9, epsilon=1e-5, dtype=dtype, rngs=rngs)


class Bottleneck(nnx.Module):
  """torchvision Bottleneck: 1x1 -> 3x3 (stride) -> 1x1 (x4) + shortcut."""

  expansion = 4

  def __init__(
      self,
      in_channels: int,
      planes: int,
      stride: int = 1,
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    out = planes * self.expansion
    kw = dict(rngs=rngs, dtype=dtype)
    self.conv1 = _conv2d(in_channels, planes, 1, 1, 0, **kw)
    self.bn1 = _bn2d(planes, **kw)
    self.conv2 = _conv2d(planes, planes, 3, stride, 1, **kw)
    self.bn2 = _bn2d(planes, **kw)
    self.conv3 = _conv2d(planes, out, 1, 1, 0, **kw)
    self.bn3 = _bn2d(out, **kw)
    if stride != 1 or in_channels != out:
      self.downsample = nnx.List([
          _conv2d(in_channels, out, 1, stride, 0, **kw),
          _bn2d(out, **kw),
      ])
    else:
      self.downsample = None

  def __call__(self, x: jax.Array, ura: bool | None = None) -> jax.Array:
    y = jax.nn.relu(self.bn1(self.conv1(x), ura))
    y = jax.nn.relu(self.bn2(self.conv2(y), ura))
    y = self.bn3(self.conv3(y), ura)
    if self.downsample is not None:
      x = self.downsample[1](self.downsample[0](x), ura)
    return jax.nn.relu(x + y)


class ResNet50(nnx.Module):
  """torchvision ResNet-50 without avgpool/fc, NHWC.

  `width` and `layers` give smaller variants of the same architecture
  (stage widths width * 2**i, output channels width * 32); the defaults are
  the real network. Attributes `conv1`, `bn1`, `layer1..layerN[j]` carry the
  torchvision names.
  """

  def __init__(
      self,
      *,
      width: int = 64,
      layers: Sequence[int] = RESNET50_LAYERS,
      in_channels: int = 3,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if not layers or min(layers) < 1:
      raise ValueError(f'layers needs one block count >= 1 per stage: {layers}')
    self.num_stages = len(layers)
    self.dtype = dtype
    kw = dict(rngs=rngs, dtype=dtype)
    self.conv1 = _conv2d(in_channels, width, 7, 2, 3, **kw)
    self.bn1 = _bn2d(width, **kw)
    cin = width
    for i, blocks in enumerate(layers):
      planes = width * 2**i
      stage = nnx.List()
      for j in range(blocks):
        stride = 2 if (i > 0 and j == 0) else 1
        stage.append(Bottleneck(cin, planes, stride, **kw))
        cin = planes * Bottleneck.expansion
      setattr(self, f'layer{i + 1}', stage)
    self.out_channels = cin
    self.stride = 2 ** (self.num_stages + 1)

  def stages(self) -> list[nnx.List]:
    return [getattr(self, f'layer{i + 1}') for i in range(self.num_stages)]

  def __call__(
      self, images: jax.Array, *, use_running_average: bool | None = None
  ) -> jax.Array:
    """Normalised images [N, H, W, 3] -> feature maps [N, h, w, C]."""
    ura = use_running_average
    x = images if self.dtype is None else images.astype(self.dtype)
    x = jax.nn.relu(self.bn1(self.conv1(x), ura))
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage in self.stages():
      for block in stage:
        x = block(x, ura)
    return x


# I3D (piergiaj/pytorch-i3d InceptionI3d, RGB)
# -----------------------------------------------------------------------------

# Output channels of b0, b1a, b1b, b2a, b2b, b3b of each Inception module.
I3D_MIXED = {
    'Mixed_3b': (64, 96, 128, 16, 32, 32),
    'Mixed_3c': (128, 128, 192, 32, 96, 64),
    'Mixed_4b': (192, 96, 208, 16, 48, 64),
    'Mixed_4c': (160, 112, 224, 24, 64, 64),
    'Mixed_4d': (128, 128, 256, 24, 64, 64),
    'Mixed_4e': (112, 144, 288, 32, 64, 64),
    'Mixed_4f': (256, 160, 320, 32, 128, 128),
    'Mixed_5b': (256, 160, 320, 32, 128, 128),
    'Mixed_5c': (384, 192, 384, 48, 128, 128),
}
# The endpoints up to Mixed_5c in order: (name, kind, kernel, stride), the
# units' output channels in I3D_STEM_CHANNELS.
I3D_ENDPOINTS = (
    ('Conv3d_1a_7x7', 'unit', (7, 7, 7), (2, 2, 2)),
    ('MaxPool3d_2a_3x3', 'pool', (1, 3, 3), (1, 2, 2)),
    ('Conv3d_2b_1x1', 'unit', (1, 1, 1), (1, 1, 1)),
    ('Conv3d_2c_3x3', 'unit', (3, 3, 3), (1, 1, 1)),
    ('MaxPool3d_3a_3x3', 'pool', (1, 3, 3), (1, 2, 2)),
    ('Mixed_3b', 'mixed', None, None),
    ('Mixed_3c', 'mixed', None, None),
    ('MaxPool3d_4a_3x3', 'pool', (3, 3, 3), (2, 2, 2)),
    ('Mixed_4b', 'mixed', None, None),
    ('Mixed_4c', 'mixed', None, None),
    ('Mixed_4d', 'mixed', None, None),
    ('Mixed_4e', 'mixed', None, None),
    ('Mixed_4f', 'mixed', None, None),
    ('MaxPool3d_5a_2x2', 'pool', (2, 2, 2), (2, 2, 2)),
    ('Mixed_5b', 'mixed', None, None),
    ('Mixed_5c', 'mixed', None, None),
)
I3D_STEM_CHANNELS = {
    'Conv3d_1a_7x7': 64,
    'Conv3d_2b_1x1': 64,
    'Conv3d_2c_3x3': 192,
}


def same_pads(
    sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int]
) -> list[tuple[int, int]]:
  """TensorFlow 'SAME' padding (as pytorch-i3d's `compute_pad`)."""
  pads = []
  for n, k, s in zip(sizes, kernel, stride):
    total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
    pads.append((total // 2, total - total // 2))
  return pads


def _max_pool3d_same(x: jax.Array, kernel, stride) -> jax.Array:
  """pytorch-i3d `MaxPool3dSamePadding`: zero 'same' padding, then pool."""
  pads = same_pads(x.shape[1:4], kernel, stride)
  x = jnp.pad(x, [(0, 0), *pads, (0, 0)])
  return nnx.max_pool(x, tuple(kernel), strides=tuple(stride), padding='VALID')


class Unit3D(nnx.Module):
  """pytorch-i3d `Unit3D`: 'same'-padded Conv3d (no bias) -> BN -> ReLU."""

  def __init__(
      self,
      in_channels: int,
      out_channels: int,
      kernel: Sequence[int] = (1, 1, 1),
      stride: Sequence[int] = (1, 1, 1),
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    fan_in = in_channels * math.prod(kernel)
    # lax's 'SAME' zero padding is pytorch-i3d's `compute_pad` (TF 'SAME').
    self.conv3d = nnx.Conv(
        in_channels,
        out_channels,
        kernel_size=tuple(kernel),
        strides=tuple(stride),
        padding='SAME',
        use_bias=False,
        kernel_init=layers.torch_uniform(fan_in),
        dtype=dtype,
        rngs=rngs,
    )
    self.bn = nnx.BatchNorm(
        out_channels, momentum=0.99, epsilon=1e-3, dtype=dtype, rngs=rngs
    )

  def __call__(self, x: jax.Array, ura: bool | None = None) -> jax.Array:
    return jax.nn.relu(self.bn(self.conv3d(x), ura))


class InceptionModule(nnx.Module):
  """pytorch-i3d `InceptionModule`: four branches concatenated."""

  def __init__(
      self,
      in_channels: int,
      out_channels: Sequence[int],
      *,
      rngs: nnx.Rngs,
      dtype=None,
  ):
    c = tuple(out_channels)
    kw = dict(rngs=rngs, dtype=dtype)
    self.b0 = Unit3D(in_channels, c[0], **kw)
    self.b1a = Unit3D(in_channels, c[1], **kw)
    self.b1b = Unit3D(c[1], c[2], (3, 3, 3), **kw)
    self.b2a = Unit3D(in_channels, c[3], **kw)
    self.b2b = Unit3D(c[3], c[4], (3, 3, 3), **kw)
    self.b3b = Unit3D(in_channels, c[5], **kw)
    self.out_channels = c[0] + c[2] + c[4] + c[5]

  def __call__(self, x: jax.Array, ura: bool | None = None) -> jax.Array:
    b0 = self.b0(x, ura)
    b1 = self.b1b(self.b1a(x, ura), ura)
    b2 = self.b2b(self.b2a(x, ura), ura)
    b3 = self.b3b(_max_pool3d_same(x, (3, 3, 3), (1, 1, 1)), ura)
    return jnp.concatenate([b0, b1, b2, b3], axis=-1)


def scaled_channels(channels: int, multiplier: float) -> int:
  """A channel count times the width multiplier (at least 1)."""
  return max(1, int(round(channels * multiplier)))


class I3D(nnx.Module):
  """Inception-v1 I3D (Carreira & Zisserman 2017) up to Mixed_5c, NTHWC.

  The pytorch-i3d module names are the attribute names (`Conv3d_1a_7x7`,
  `Mixed_3b.b1a.conv3d`, ...). `width_multiplier` scales every channel
  count (`scaled_channels`) for small test variants; 1.0 is the real
  network (1024 output channels). Logits and the final average pool are
  left out.
  """

  temporal_stride = 8

  def __init__(
      self,
      *,
      in_channels: int = 3,
      width_multiplier: float = 1.0,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    self.dtype = dtype
    kw = dict(rngs=rngs, dtype=dtype)
    cin = in_channels
    for name, kind, kernel, stride in I3D_ENDPOINTS:
      if kind == 'unit':
        cout = scaled_channels(I3D_STEM_CHANNELS[name], width_multiplier)
        setattr(self, name, Unit3D(cin, cout, kernel, stride, **kw))
        cin = cout
      elif kind == 'mixed':
        outs = [scaled_channels(c, width_multiplier) for c in I3D_MIXED[name]]
        module = InceptionModule(cin, outs, **kw)
        setattr(self, name, module)
        cin = module.out_channels
    self.out_channels = cin

  def __call__(
      self, clips: jax.Array, *, use_running_average: bool | None = None
  ) -> jax.Array:
    """Clips [N, T, H, W, 3] in [-1, 1] -> [N, T/8, H/32, W/32, C]."""
    ura = use_running_average
    x = clips if self.dtype is None else clips.astype(self.dtype)
    for name, kind, kernel, stride in I3D_ENDPOINTS:
      if kind == 'pool':
        x = _max_pool3d_same(x, kernel, stride)
      else:
        x = getattr(self, name)(x, ura)
    return x


# Small CNN
# -----------------------------------------------------------------------------


class SmallCNN(nnx.Module):
  """`len(channels)` x (Conv3x3 -> BN -> ReLU -> 2x2 max pool), NHWC."""

  def __init__(
      self,
      *,
      channels: Sequence[int] = (16, 32, 64, 128),
      in_channels: int = 3,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if not channels:
      raise ValueError('SmallCNN needs at least one block.')
    self.dtype = dtype
    self.convs = nnx.List()
    self.bns = nnx.List()
    for cin, cout in zip((in_channels, *channels[:-1]), channels):
      self.convs.append(
          nnx.Conv(
              cin,
              cout,
              kernel_size=(3, 3),
              padding=((1, 1), (1, 1)),
              use_bias=False,
              kernel_init=_KAIMING_FAN_OUT,
              dtype=dtype,
              rngs=rngs,
          )
      )
      self.bns.append(_bn2d(cout, rngs=rngs, dtype=dtype))
    self.out_channels = channels[-1]
    self.stride = 2 ** len(channels)

  def __call__(
      self, images: jax.Array, *, use_running_average: bool | None = None
  ) -> jax.Array:
    """Normalised images [N, H, W, 3] -> [N, H/2^k, W/2^k, C] (floor)."""
    x = images if self.dtype is None else images.astype(self.dtype)
    for conv, bn in zip(self.convs, self.bns):
      # relu(max_pool(x)) == max_pool(relu(x)); the reshaped pool keeps the
      # gradient out of XLA:CPU's slow select-and-scatter (`layers.pool2d`).
      x = jax.nn.relu(layers.pool2d(bn(conv(x), use_running_average), (2, 2)))
    return x


# Front end
# -----------------------------------------------------------------------------


def pool_features(x: jax.Array, pooling: str) -> jax.Array:
  """Feature maps [..., h, w, C] -> embeddings [..., D] (see POOLINGS)."""
  if pooling == 'dcase_mean':
    m = jnp.mean(x, axis=-1)
    return m.reshape(m.shape[:-2] + (-1,))
  if pooling == 'avg':
    return jnp.mean(x, axis=(-3, -2))
  if pooling == 'none':
    return x.reshape(x.shape[:-3] + (-1,))
  raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}.')


class VisualFrontend(nnx.Module):
  """Video frames [B, T, H, W, 3] -> per-frame embeddings [B, T, D]."""

  def __init__(
      self,
      encoder: nnx.Module,
      *,
      transform: str,
      pooling: str,
      temporal: bool = False,
      resize: Sequence[int] | None = None,
      freeze_encoder: bool = False,
  ):
    if pooling not in POOLINGS:
      raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}.')
    if transform not in ('imagenet', 'i3d', 'dcase'):
      raise ValueError(f'Unknown transform {transform!r}.')
    if transform == 'dcase' and resize is not None:
      raise ValueError("transform='dcase' fixes the size; resize must be None.")
    self.encoder = encoder
    self.transform = transform
    self.pooling = pooling
    self.temporal = temporal
    self.resize = None if resize is None else tuple(int(s) for s in resize)
    self.freeze_encoder = freeze_encoder

  def preprocess(self, frames: jax.Array) -> jax.Array:
    """Frames (uint8 or 0..255 float) -> the encoder's float32 input."""
    if self.transform == 'dcase':
      return dcase_transform(frames)
    if self.transform == 'i3d':
      return i3d_preprocess(frames, self.resize)
    return imagenet_preprocess(frames, self.resize)

  def __call__(self, frames: jax.Array) -> jax.Array:
    if frames.ndim != 5 or frames.shape[-1] != 3:
      raise ValueError(f'Expected frames [B, T, H, W, 3], got {frames.shape}.')
    b, t = frames.shape[:2]
    x = self.preprocess(frames)
    ura = True if self.freeze_encoder else None
    if self.temporal:
      y = self.encoder(x, use_running_average=ura)  # [B, T', h, w, C]
    else:
      y = self.encoder(
          x.reshape((b * t,) + x.shape[2:]), use_running_average=ura
      )
      y = y.reshape((b, t) + y.shape[1:])
    if self.freeze_encoder:
      y = jax.lax.stop_gradient(y)
    y = pool_features(y.astype(jnp.float32), self.pooling)
    if self.temporal:  # each output covers `temporal_stride` input frames
      y = jnp.repeat(y, self.encoder.temporal_stride, axis=1)[:, :t]
    return y

  def output_dim(self, height: int, width: int) -> int:
    """D for frames of `height` x `width` pixels (shape inference only)."""
    graphdef, state = nnx.split(nnx.view(self, use_running_average=True))
    spec = jax.ShapeDtypeStruct((1, 1, height, width, 3), jnp.uint8)
    out = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, spec)
    return int(out.shape[-1])


def create_frontend(
    name: str,
    *,
    pooling: str,
    rngs: nnx.Rngs,
    dtype=None,
    resize: Sequence[int] | None = None,
    transform: str | None = None,
    freeze_encoder: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    **encoder_kwargs,
) -> VisualFrontend:
  """Builds the visual front end `name` (see FRONTENDS).

  Args:
    name: 'resnet50', 'i3d' or 'small_cnn'.
    pooling: one of POOLINGS.
    rngs: initialisation keys.
    dtype: the encoder's computation dtype (e.g. jnp.bfloat16).
    resize: (height, width) the frames are resized to before the encoder.
    transform: 'imagenet' (default for resnet50/small_cnn), 'dcase' (the
      DCASE baseline's 360x180 -> 232 -> crop 224 chain, resnet50) or 'i3d'
      (default and only choice for i3d).
    freeze_encoder: run the encoder on BatchNorm running statistics and stop
      its gradient; default True for the pretrained encoders (resnet50, i3d),
      False for small_cnn.
    checkpoint: a PyTorch weights file for the encoder (torchvision
      resnet50 `state_dict`, or pytorch-i3d `rgb_imagenet.pt` as published,
      legacy or zip format); the encoder is then built abstractly and filled
      from it (no random initialisation).
    **encoder_kwargs: for the encoder: ResNet50 (width, layers), I3D
      (width_multiplier), SmallCNN (channels).

  Returns:
    The front end; `.encoder` is the backbone the importers load into.
  """
  if name not in _FRONTEND_SPECS:
    raise ValueError(f'Unknown visual front end {name!r}; known: {FRONTENDS}.')
  transforms, temporal, frozen = _FRONTEND_SPECS[name]
  transform = transform or transforms[0]
  if transform not in transforms:
    raise ValueError(f'{name} takes transform {transforms}, got {transform!r}.')
  if pooling not in POOLINGS:
    raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}.')
  # pylint: disable=g-import-not-at-top
  if name == 'resnet50' and checkpoint is not None:
    from seld_jax.convert import torch_resnet

    encoder = torch_resnet.load_model(checkpoint, dtype=dtype, **encoder_kwargs)
  elif name == 'resnet50':
    encoder = ResNet50(dtype=dtype, rngs=rngs, **encoder_kwargs)
  elif name == 'i3d' and checkpoint is not None:
    from seld_jax.convert import torch_i3d

    encoder = torch_i3d.load_model(checkpoint, dtype=dtype, **encoder_kwargs)
  elif name == 'i3d':
    encoder = I3D(dtype=dtype, rngs=rngs, **encoder_kwargs)
  elif checkpoint is not None:
    raise ValueError(f'{name} has no published weights to import.')
  else:
    encoder = SmallCNN(dtype=dtype, rngs=rngs, **encoder_kwargs)
  # pylint: enable=g-import-not-at-top
  return VisualFrontend(
      encoder,
      transform=transform,
      pooling=pooling,
      temporal=temporal,
      resize=resize,
      freeze_encoder=frozen if freeze_encoder is None else freeze_encoder,
  )


# Pre-extraction
# -----------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _embed_chunk(graphdef, state, frames):
  return nnx.merge(graphdef, state)(frames[None])[0].astype(jnp.float32)


def embed_frames(
    frontend: VisualFrontend, frames: np.ndarray, *, batch_size: int = 64
) -> np.ndarray:
  """The embeddings of one recording's frames, computed in chunks.

  The front end runs in inference mode (BatchNorm running statistics) on
  chunks of `batch_size` frames, jitted once per front end and chunk size
  (the compilation is cached across calls and recordings). The last chunk
  is the last `batch_size` frames (overlapping the previous chunk) so every
  chunk has the same shape; a recording shorter than `batch_size` runs as
  one chunk of its length. For I3D each chunk is one clip: use a multiple
  of 8 frames, and expect the 'same' padding at chunk edges to change the
  outputs there slightly.

  Args:
    frontend: a front end from `create_frontend`.
    frames: [T, H, W, 3] uint8 (or 0..255 float) frames of one recording.
    batch_size: frames per chunk.

  Returns:
    float32 [T, D].
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3:
    raise ValueError(f'Expected frames [T, H, W, 3], got {frames.shape}.')
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1: {batch_size}')
  graphdef, state = nnx.split(nnx.view(frontend, use_running_average=True))
  total = frames.shape[0]
  if total <= batch_size:
    return np.asarray(_embed_chunk(graphdef, state, frames))
  parts = []
  for start in range(0, total, batch_size):
    begin = min(start, total - batch_size)
    out = _embed_chunk(graphdef, state, frames[begin : begin + batch_size])
    parts.append(np.asarray(out)[start - begin :])
  return np.concatenate(parts, axis=0)

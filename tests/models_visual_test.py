"""Visual encoders, preprocessing and the visual front end.

Encoders are built abstractly (`nnx.eval_shape`) and filled with numpy
values where a test runs them, which keeps the CPU suite fast (a random
init compiles one program per parameter shape). Weight-import parity is in
convert_torch_{resnet,i3d}_test.py.
"""

import math

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import torch
from torch.nn import functional as F

from seld_jax.models import visual

_SMALL = {
    'resnet50': dict(width=8, layers=(1, 1, 1, 1)),
    'i3d': dict(width_multiplier=0.125),
    'small_cnn': dict(channels=(8, 16, 16)),
}


def _materialize(model, seed=0):
  """Numpy values (He-scaled kernels, BN stats near 1) for an abstract model."""
  graphdef, state = nnx.split(model)
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    names = {getattr(k, 'key', getattr(k, 'name', None)) for k in path}
    shape = leaf.shape
    if 'kernel' in names:
      std = math.sqrt(2.0 / math.prod(shape[:-1]))
      value = rng.normal(0.0, std, shape)
    elif names & {'scale', 'var'}:
      value = rng.uniform(0.5, 1.5, shape)
    else:  # bias, mean
      value = rng.uniform(-0.2, 0.2, shape)
    return jnp.asarray(value.astype(leaf.dtype))

  return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(fill, state))


def _abstract_frontend(name, pooling='none', **kwargs):
  kwargs = {**_SMALL[name], **kwargs}
  return nnx.eval_shape(
      lambda: visual.create_frontend(
          name, pooling=pooling, rngs=nnx.Rngs(0), **kwargs
      )
  )


def _frames(shape, seed=0):
  return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _num_params(model):
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _out_shape(model, shape):
  graphdef, state = nnx.split(model)
  spec = jax.ShapeDtypeStruct(shape, jnp.float32)
  return jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, spec)


# Encoders
# -----------------------------------------------------------------------------


def test_resnet50_is_torchvision_sized():
  model = nnx.eval_shape(lambda: visual.ResNet50(rngs=nnx.Rngs(0)))
  assert _num_params(model) == visual.RESNET50_PARAMS == 23_508_032
  assert model.out_channels == 2048 and model.stride == 32
  assert _out_shape(model, (2, 224, 224, 3)).shape == (2, 7, 7, 2048)
  # Bottleneck v1.5: the stride sits on the 3x3 conv; 1x1 projections.
  assert model.layer2[0].conv1.strides == (1, 1)
  assert model.layer2[0].conv2.strides == (2, 2)
  assert model.layer2[0].downsample[0].kernel_size == (1, 1)
  assert model.layer2[1].downsample is None
  assert model.bn1.epsilon == 1e-5


def test_i3d_is_pytorch_i3d_sized():
  model = nnx.eval_shape(lambda: visual.I3D(rngs=nnx.Rngs(0)))
  # The torch copy in convert_torch_i3d_test.py has the same count.
  assert _num_params(model) == 12_287_264
  assert model.out_channels == 1024
  assert model.Conv3d_1a_7x7.bn.epsilon == 1e-3
  assert model.Conv3d_1a_7x7.bn.momentum == 0.99  # torch momentum 0.01
  assert model.Conv3d_1a_7x7.conv3d.bias is None
  # 'same' padding: ceil(T / 8), ceil(H / 32), ceil(W / 32).
  shape = _out_shape(model, (1, 10, 224, 200, 3)).shape
  assert shape == (1, 2, 7, 7, 1024)


def test_same_pads_follow_tensorflow():
  # Stride 1: k - 1 split front-light; stride 2, even: k - 2; odd: k - 1.
  assert visual.same_pads((10, 9, 8), (3, 3, 7), (1, 2, 2)) == [
      (1, 1),
      (1, 1),
      (2, 3),
  ]


# Preprocessing
# -----------------------------------------------------------------------------


def test_imagenet_preprocess_and_resize_match_torch():
  frames = _frames((2, 30, 40, 3))
  out = visual.imagenet_preprocess(frames)
  ref = (frames / 255.0 - np.array(visual.IMAGENET_MEAN)) / np.array(
      visual.IMAGENET_STD
  )
  np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(
      np.asarray(visual.imagenet_preprocess(frames.astype(np.float32))),
      np.asarray(out),
  )
  np.testing.assert_allclose(
      np.asarray(visual.i3d_preprocess(frames)),
      frames / 255.0 * 2 - 1,
      atol=1e-6,
  )
  # jax.image.resize(linear, antialias) = torch bilinear with antialias.
  x = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)
  for size in ((20, 25), (45, 64)):
    ours = visual.resize_frames(frames, size)
    ref = F.interpolate(
        x, size=size, mode='bilinear', align_corners=False, antialias=True
    )
    np.testing.assert_allclose(
        np.asarray(ours), ref.permute(0, 2, 3, 1).numpy(), atol=2e-3
    )


def test_dcase_transform_reproduces_opencv_then_torchvision_on_pil():
  frames = _frames((2, 240, 480, 3), seed=1)
  transform = jax.jit(visual.dcase_transform)
  out = np.asarray(transform(frames))
  assert out.shape == (2, 224, 224, 3)
  levels = out * np.array(visual.IMAGENET_STD) + np.array(visual.IMAGENET_MEAN)
  levels = np.round(levels * 255.0)
  # cv2.resize(frame, (360, 180)), INTER_LINEAR: half-pixel bilinear with
  # clamped borders and no antialiasing = torch's bilinear, rounded.
  x = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)
  small = F.interpolate(x, size=(180, 360), mode='bilinear', antialias=False)
  small = np.floor(small.permute(0, 2, 3, 1).numpy() + 0.5).astype(np.uint8)
  for i in range(2):
    # ResNet50_Weights.DEFAULT.transforms() on the PIL image: resize the
    # shorter side to 232 (bilinear), centre crop 224 at (4, 120).
    pil = Image.fromarray(small[i]).resize((464, 232), Image.BILINEAR)
    ref = np.asarray(pil, np.float64)[4:228, 120:344]
    # Values on a half grey level round by PIL's fixed-point weights.
    diff = np.abs(levels[i] - ref)
    assert diff.max() <= 1
    assert np.mean(diff > 0) < 0.02
    # Frames already at 360x180 skip the OpenCV step.
    direct = np.asarray(transform(small[i]))
    direct = direct * np.array(visual.IMAGENET_STD)
    direct = np.round((direct + np.array(visual.IMAGENET_MEAN)) * 255.0)
    diff = np.abs(direct - ref)
    assert diff.max() <= 1
    assert np.mean(diff > 0) < 0.02


# Front end
# -----------------------------------------------------------------------------


def test_pool_features():
  maps = np.random.default_rng(0).normal(size=(2, 3, 7, 7, 5))
  dcase = np.asarray(visual.pool_features(maps, 'dcase_mean'))
  # The baseline: mean over the channels, then [7, 7] -> view(49).
  np.testing.assert_allclose(
      dcase, maps.mean(-1).reshape(2, 3, 49), rtol=1e-5, atol=1e-6
  )
  np.testing.assert_allclose(
      np.asarray(visual.pool_features(maps, 'avg')),
      maps.mean((2, 3)),
      rtol=1e-5,
      atol=1e-6,
  )
  np.testing.assert_allclose(
      np.asarray(visual.pool_features(maps, 'none')),
      maps.reshape(2, 3, -1),
      rtol=1e-6,
  )
  with pytest.raises(ValueError, match='pooling'):
    visual.pool_features(maps, 'max')


@pytest.mark.parametrize('name', visual.FRONTENDS)
def test_frontend_shapes_poolings_and_jit(name):
  b, t, h, w = 2, 10, 64, 96
  grid, channels = {
      'resnet50': ((2, 3), 256),
      'i3d': ((2, 3), 128),
      'small_cnn': ((8, 12), 16),
  }[name]
  dims = {
      'dcase_mean': grid[0] * grid[1],
      'avg': channels,
      'none': grid[0] * grid[1] * channels,
  }
  abstract = _abstract_frontend(name, pooling='none')
  for pooling, dim in dims.items():
    front = visual.VisualFrontend(
        abstract.encoder,
        transform=abstract.transform,
        pooling=pooling,
        temporal=abstract.temporal,
    )
    assert front.output_dim(h, w) == dim
  graphdef, state = nnx.split(abstract)
  spec = jax.ShapeDtypeStruct((b, t, h, w, 3), jnp.uint8)
  out = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, spec)
  assert out.shape == (b, t, dims['none']) and out.dtype == jnp.float32
  if name == 'i3d':
    return  # values: the front-end parity in convert_torch_i3d_test.py
  # Values: one jitted run of the 'none' front end on uint8 frames.
  front = _materialize(abstract)
  front.eval()
  graphdef, state = nnx.split(front)
  run = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
  frames = _frames((b, t, h, w, 3))
  out = np.asarray(run(state, frames)).reshape(b, t, *grid, channels)
  assert np.all(np.isfinite(out)) and np.std(out) > 0
  # Frames are embedded independently: a time reversal commutes.
  rev = np.asarray(run(state, frames[:, ::-1])).reshape(out.shape)
  np.testing.assert_allclose(rev[:, ::-1], out, rtol=1e-5, atol=1e-5)


def test_dcase_frontend_gives_the_baseline_49_values():
  front = nnx.eval_shape(
      lambda: visual.create_frontend(
          'resnet50', pooling='dcase_mean', transform='dcase', rngs=nnx.Rngs(0)
      )
  )
  assert front.freeze_encoder
  assert front.output_dim(960, 1920) == 49  # STARSS23 video frames
  resized = _abstract_frontend('small_cnn', pooling='none', resize=(32, 64))
  assert resized.output_dim(480, 960) == 4 * 8 * 16


def test_small_cnn_initialises_and_accepts_uint8_or_float():
  front = visual.create_frontend(
      'small_cnn', pooling='avg', channels=(4,), rngs=nnx.Rngs(0)
  )
  assert not front.freeze_encoder
  kernel = np.asarray(front.encoder.convs[0].kernel[...])
  # torchvision-style He (fan-out) normal init.
  assert abs(np.std(kernel) - math.sqrt(2.0 / (9 * 4))) < 0.1
  frames = _frames((2, 3, 32, 48, 3))
  graphdef, state = nnx.split(front)
  run = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
  out = np.asarray(run(state, frames))
  assert out.shape == (2, 3, 4) and front.output_dim(32, 48) == 4
  np.testing.assert_allclose(
      np.asarray(run(state, frames.astype(np.float32))),
      out,
      rtol=1e-6,
      atol=1e-6,
  )


@pytest.mark.parametrize('freeze', [False, True])
def test_freeze_encoder_stops_gradients_and_batch_statistics(freeze):
  front = _abstract_frontend(
      'small_cnn', pooling='avg', channels=(4, 8), freeze_encoder=freeze
  )
  front.encoder = _materialize(front.encoder)
  front.train()
  frames = _frames((2, 3, 32, 48, 3))
  graphdef, params, rest = nnx.split(front, nnx.Param, ...)

  @jax.jit
  def grads_and_stats(params, rest):
    def loss(params):
      model = nnx.merge(graphdef, params, rest, copy=True)
      return jnp.sum(model(frames) ** 2), nnx.state(model, nnx.BatchStat)

    return jax.grad(loss, has_aux=True)(params)

  grads, stats = grads_and_stats(params, rest)
  norm = sum(float(jnp.sum(g**2)) for g in jax.tree.leaves(grads))
  before = np.asarray(front.encoder.bns[0].mean[...])
  after = np.asarray(stats['encoder']['bns'][0]['mean'][...])
  if freeze:
    assert norm == 0
    np.testing.assert_array_equal(after, before)
  else:
    assert norm > 0
    assert not np.allclose(after, before)


def test_embed_frames_in_chunks_equals_one_pass():
  front = _abstract_frontend('small_cnn', pooling='dcase_mean')
  front.encoder = _materialize(front.encoder, seed=3)
  front.train()  # embed_frames switches to inference mode by itself
  frames = _frames((23, 32, 48, 3), seed=2)
  out = visual.embed_frames(front, frames, batch_size=8)
  assert out.shape == (23, front.output_dim(32, 48)) == (23, 24)
  assert out.dtype == np.float32
  front.eval()
  ref = np.asarray(front(frames[None]))[0]
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
  short = visual.embed_frames(front, frames[:5], batch_size=8)
  np.testing.assert_allclose(short, ref[:5], rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match=r'\[T, H, W, 3\]'):
    visual.embed_frames(front, frames[None])


def test_create_frontend_rejects_bad_arguments():
  rngs = nnx.Rngs(0)
  with pytest.raises(ValueError, match='Unknown visual front end'):
    visual.create_frontend('vit', pooling='avg', rngs=rngs)
  with pytest.raises(ValueError, match='pooling'):
    visual.create_frontend('small_cnn', pooling='max', rngs=rngs)
  with pytest.raises(ValueError, match='transform'):
    visual.create_frontend('i3d', pooling='avg', transform='dcase', rngs=rngs)
  with pytest.raises(ValueError, match='no published weights'):
    visual.create_frontend(
        'small_cnn', pooling='avg', checkpoint='x.pt', rngs=rngs
    )
  with pytest.raises(ValueError, match='resize'):
    _abstract_frontend('resnet50', transform='dcase', resize=(224, 224))
  front = _abstract_frontend('small_cnn')
  with pytest.raises(ValueError, match=r'\[B, T, H, W, 3\]'):
    front(jnp.zeros((2, 32, 48, 3), jnp.uint8))

"""pytorch-i3d InceptionI3d checkpoint import: front-end parity, key coverage.

The test holds a compact copy of piergiaj/pytorch-i3d `pytorch_i3d.py`
(`Unit3D` with the dynamic TF-'same' padding, `MaxPool3dSamePadding`,
`InceptionModule`, `InceptionI3d` with its `end_points` and `logits`), with a
width multiplier for speed. It saves a 1/8-width copy with `torch.save`,
builds the 'i3d' visual front end from it (import without torch) and
compares its per-frame maps with the torch Mixed_5c features to 1e-4, on a
uint8 clip whose sizes are odd after some strides (both padding branches);
the full-size network's `state_dict` must map completely.
"""

from flax import nnx
import jax
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from seld_jax.convert import mapping
from seld_jax.convert import torch_i3d
from seld_jax.models import visual


def _same_pad(sizes, kernel, stride):
  pad = []
  for s, k, st in zip(sizes, kernel, stride):
    total = max(k - st, 0) if s % st == 0 else max(k - s % st, 0)
    pad.append((total // 2, total - total // 2))
  (tf, tb), (hf, hb), (wf, wb) = pad
  return (wf, wb, hf, hb, tf, tb)


class _MaxPool3dSamePadding(nn.MaxPool3d):

  def forward(self, x):
    x = F.pad(x, _same_pad(x.shape[2:], self.kernel_size, self.stride))
    return super().forward(x)


class _Unit3D(nn.Module):

  def __init__(
      self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), bn=True, relu=True
  ):
    super().__init__()
    self.kernel, self.stride, self.relu = kernel, stride, relu
    self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not bn)
    if bn:
      self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)
    self.use_bn = bn

  def forward(self, x):
    x = F.pad(x, _same_pad(x.shape[2:], self.kernel, self.stride))
    x = self.conv3d(x)
    if self.use_bn:
      x = self.bn(x)
    return F.relu(x) if self.relu else x


class _InceptionModule(nn.Module):

  def __init__(self, cin, c):
    super().__init__()
    self.b0 = _Unit3D(cin, c[0])
    self.b1a = _Unit3D(cin, c[1])
    self.b1b = _Unit3D(c[1], c[2], (3, 3, 3))
    self.b2a = _Unit3D(cin, c[3])
    self.b2b = _Unit3D(c[3], c[4], (3, 3, 3))
    self.b3a = _MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(1, 1, 1))
    self.b3b = _Unit3D(cin, c[5])

  def forward(self, x):
    return torch.cat(
        [
            self.b0(x),
            self.b1b(self.b1a(x)),
            self.b2b(self.b2a(x)),
            self.b3b(self.b3a(x)),
        ],
        dim=1,
    )


_MIXED = (
    ('Mixed_3b', (64, 96, 128, 16, 32, 32)),
    ('Mixed_3c', (128, 128, 192, 32, 96, 64)),
    ('MaxPool3d_4a_3x3', ((3, 3, 3), (2, 2, 2))),
    ('Mixed_4b', (192, 96, 208, 16, 48, 64)),
    ('Mixed_4c', (160, 112, 224, 24, 64, 64)),
    ('Mixed_4d', (128, 128, 256, 24, 64, 64)),
    ('Mixed_4e', (112, 144, 288, 32, 64, 64)),
    ('Mixed_4f', (256, 160, 320, 32, 128, 128)),
    ('MaxPool3d_5a_2x2', ((2, 2, 2), (2, 2, 2))),
    ('Mixed_5b', (256, 160, 320, 32, 128, 128)),
    ('Mixed_5c', (384, 192, 384, 48, 128, 128)),
)


class _InceptionI3d(nn.Module):
  """pytorch-i3d `InceptionI3d(num_classes)`, channels times `m`."""

  def __init__(self, num_classes=400, m=1.0):
    super().__init__()

    def s(c):
      return max(1, int(round(c * m)))

    self.end_points = {
        'Conv3d_1a_7x7': _Unit3D(3, s(64), (7, 7, 7), (2, 2, 2)),
        'MaxPool3d_2a_3x3': _MaxPool3dSamePadding((1, 3, 3), (1, 2, 2)),
        'Conv3d_2b_1x1': _Unit3D(s(64), s(64)),
        'Conv3d_2c_3x3': _Unit3D(s(64), s(192), (3, 3, 3)),
        'MaxPool3d_3a_3x3': _MaxPool3dSamePadding((1, 3, 3), (1, 2, 2)),
    }
    cin = s(192)
    for name, spec in _MIXED:
      if name.startswith('MaxPool'):
        self.end_points[name] = _MaxPool3dSamePadding(*spec)
      else:
        c = [s(x) for x in spec]
        self.end_points[name] = _InceptionModule(cin, c)
        cin = c[0] + c[2] + c[4] + c[5]
    self.avg_pool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=(1, 1, 1))
    self.dropout = nn.Dropout(0.5)
    self.logits = _Unit3D(cin, num_classes, bn=False, relu=False)
    for k, v in self.end_points.items():
      self.add_module(k, v)

  def features(self, x):  # the endpoints up to Mixed_5c (before avg_pool)
    for name in self.end_points:
      x = self._modules[name](x)
    return x


def _randomised(model):
  torch.manual_seed(0)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, nn.BatchNorm3d):
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.2, 0.2)
        m.running_mean.uniform_(-0.2, 0.2)
        m.running_var.uniform_(0.5, 1.5)
  return model.eval()


def _abstract(**kwargs):
  return nnx.eval_shape(lambda: visual.I3D(rngs=nnx.Rngs(0), **kwargs))


def test_frontend_features_match_pytorch(tmp_path):
  # Seeded before construction: the conv weights come from torch's global
  # generator, whose state otherwise depends on the tests run before.
  torch.manual_seed(0)
  tmodel = _randomised(_InceptionI3d(num_classes=7, m=0.125))
  path = tmp_path / 'rgb_small.pt'
  torch.save(tmodel.state_dict(), path)
  front = visual.create_frontend(
      'i3d',
      pooling='none',
      checkpoint=path,
      width_multiplier=0.125,
      rngs=nnx.Rngs(0),
  )
  # uint8 RGB video; pytorch-i3d's input is x / 255 * 2 - 1, [N, C, T, H, W].
  # T=10, 56x56: odd sizes before MaxPool3d_4a/5a exercise both pad cases.
  frames = np.random.default_rng(0).integers(0, 256, (1, 10, 56, 56, 3))
  frames = frames.astype(np.uint8)
  clip = (frames / 255.0 * 2 - 1).astype(np.float32).transpose(0, 4, 1, 2, 3)
  with torch.no_grad():
    ref = tmodel.features(torch.from_numpy(clip)).numpy()
  ref = ref.transpose(0, 2, 3, 4, 1)  # [1, T' = 2, 2, 2, 128]
  # Non-degenerate features (not all ReLU-zero), so the parity means something.
  assert ref.shape == (1, 2, 2, 2, 128) and np.std(ref) > 0.05
  graphdef, state = nnx.split(front)
  out = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, frames)
  out = np.asarray(out).reshape(1, 10, 2, 2, 128)
  # Each I3D step covers 8 frames: frames 0-7 -> step 0, 8-9 -> step 1.
  expected = ref[:, [0] * 8 + [1] * 2]
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_full_i3d_state_dict_maps_completely():
  torch.manual_seed(0)
  tmodel = _InceptionI3d()
  sd = {k: v.numpy() for k, v in tmodel.state_dict().items()}
  torch_params = sum(
      p.numel()
      for n, p in tmodel.named_parameters()
      if not n.startswith('logits.')
  )
  model = _abstract()
  params = nnx.state(model, nnx.Param)
  assert sum(x.size for x in jax.tree.leaves(params)) == torch_params
  assert torch_params == 12_287_264
  unused = torch_i3d.load_into(model, sd)
  assert unused == ['logits.conv3d.bias', 'logits.conv3d.weight']
  mapping.check_concrete(model, 'i3d')
  assert model.out_channels == 1024
  np.testing.assert_array_equal(
      np.asarray(model.Mixed_4e.b2b.conv3d.kernel[...]),
      sd['Mixed_4e.b2b.conv3d.weight'].transpose(2, 3, 4, 1, 0),
  )
  np.testing.assert_array_equal(
      np.asarray(model.Conv3d_1a_7x7.bn.mean[...]),
      sd['Conv3d_1a_7x7.bn.running_mean'],
  )


def test_errors_name_the_file_and_every_bad_tensor(tmp_path):
  sd = _randomised(_InceptionI3d(num_classes=7, m=0.125)).state_dict()
  # The 2018 files have no num_batches_tracked: they load as well.
  sd = {k: v for k, v in sd.items() if not k.endswith('num_batches_tracked')}
  bad = dict(sd)
  del bad['Mixed_5c.b3b.bn.running_var']
  bad['Conv3d_2c_3x3.conv3d.weight'] = torch.zeros(24, 8, 1, 3, 3)
  bad['Mixed_6a.b0.conv3d.weight'] = torch.zeros(1)
  path = tmp_path / 'broken.pt'
  torch.save(bad, path)
  model = _abstract(width_multiplier=0.125)
  with pytest.raises(ValueError) as err:
    torch_i3d.load_into(model, path)
  message = str(err.value)
  for expected in (
      str(path),
      'Mixed_5c.b3b.bn.running_var',
      'Conv3d_2c_3x3.conv3d.weight (24, 8, 1, 3, 3)',
      'Mixed_6a.b0.conv3d.weight',
  ):
    assert expected in message
  # Nothing was written, and the intact checkpoint then loads.
  assert isinstance(model.Mixed_3b.b0.bn.var.get_value(), jax.ShapeDtypeStruct)
  assert torch_i3d.load_into(model, sd) == [
      'logits.conv3d.bias',
      'logits.conv3d.weight',
  ]
  mapping.check_concrete(model, 'i3d')

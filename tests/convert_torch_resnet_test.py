"""torchvision ResNet-50 checkpoint import: feature parity and key coverage.

The test builds torchvision's ResNet (Bottleneck v1.5) in PyTorch with the
same module names (`conv1`, `bn1`, `layer{i}.{j}.conv{k}`, `downsample.0/1`,
`fc`), saves a reduced-depth/width copy with `torch.save`, imports it without
torch and compares the feature maps to 1e-4; the full-size ResNet-50's
`state_dict` must map completely (every tensor but `fc`, exact shapes).
"""

from flax import nnx
import jax
import numpy as np
import pytest
import torch
from torch import nn

from seld_jax.convert import mapping
from seld_jax.convert import torch_resnet
from seld_jax.models import visual


class _Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, cin, planes, stride=1, downsample=None):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(planes * 4)
    self.relu = nn.ReLU(inplace=True)
    self.downsample = downsample

  def forward(self, x):
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    identity = x if self.downsample is None else self.downsample(x)
    return self.relu(out + identity)


class _TorchResNet(nn.Module):
  """torchvision `ResNet(Bottleneck, layers)`, as `models/resnet.py`."""

  def __init__(self, width=64, layers=(3, 4, 6, 3), num_classes=1000):
    super().__init__()
    self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
    self.bn1 = nn.BatchNorm2d(width)
    self.relu = nn.ReLU(inplace=True)
    self.maxpool = nn.MaxPool2d(3, 2, 1)
    cin = width
    self.num_stages = len(layers)
    for i, blocks in enumerate(layers):
      planes = width * 2**i
      stage = []
      for j in range(blocks):
        stride = 2 if (i > 0 and j == 0) else 1
        down = None
        if stride != 1 or cin != planes * 4:
          down = nn.Sequential(
              nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
              nn.BatchNorm2d(planes * 4),
          )
        stage.append(_Bottleneck(cin, planes, stride, down))
        cin = planes * 4
      setattr(self, f'layer{i + 1}', nn.Sequential(*stage))
    self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    self.fc = nn.Linear(cin, num_classes)

  def features(self, x):  # the DCASE baseline's children()[:-2]
    x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
    for i in range(self.num_stages):
      x = getattr(self, f'layer{i + 1}')(x)
    return x


def _randomised(model):
  torch.manual_seed(0)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, nn.BatchNorm2d):
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.2, 0.2)
        m.running_mean.uniform_(-0.2, 0.2)
        m.running_var.uniform_(0.5, 1.5)
  return model.eval()


_SMALL = dict(width=8, layers=(2, 1, 1, 1))


def _abstract(**kwargs):
  return nnx.eval_shape(lambda: visual.ResNet50(rngs=nnx.Rngs(0), **kwargs))


def _save(tmp_path, state_dict, name='resnet_small.pth'):
  path = tmp_path / name
  torch.save(state_dict, path)
  return path


def test_features_match_pytorch(tmp_path):
  tmodel = _randomised(_TorchResNet(**_SMALL, num_classes=10))
  path = _save(tmp_path, tmodel.state_dict())
  model = torch_resnet.load_model(path, **_SMALL)
  x = np.random.default_rng(0).normal(size=(2, 3, 72, 88)).astype(np.float32)
  with torch.no_grad():
    ref = tmodel.features(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
  graphdef, state = nnx.split(model)
  out = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(
      state, x.transpose(0, 2, 3, 1)
  )
  assert out.shape == ref.shape == (2, 3, 3, 256)
  assert np.std(ref) > 0.1
  np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-4, atol=1e-4)


def test_full_resnet50_state_dict_maps_completely():
  torch.manual_seed(0)
  tmodel = _TorchResNet()
  sd = {k: v.numpy() for k, v in tmodel.state_dict().items()}
  torch_params = sum(
      p.numel() for n, p in tmodel.named_parameters() if not n.startswith('fc.')
  )
  assert torch_params == visual.RESNET50_PARAMS == 23_508_032
  model = _abstract()
  unused = torch_resnet.load_into(model, sd)
  assert unused == ['fc.bias', 'fc.weight']
  mapping.check_concrete(model, 'resnet50')
  params = nnx.state(model, nnx.Param)
  assert sum(x.size for x in jax.tree.leaves(params)) == torch_params
  np.testing.assert_array_equal(
      np.asarray(model.layer4[2].conv2.kernel[...]),
      sd['layer4.2.conv2.weight'].transpose(2, 3, 1, 0),
  )
  np.testing.assert_array_equal(
      np.asarray(model.layer3[0].downsample[1].var[...]),
      sd['layer3.0.downsample.1.running_var'],
  )


def test_errors_name_the_file_and_every_bad_tensor(tmp_path):
  sd = _randomised(_TorchResNet(**_SMALL, num_classes=10)).state_dict()
  bad = dict(sd)
  del bad['layer1.1.bn2.running_var']
  del bad['layer2.0.downsample.0.weight']
  bad['conv1.weight'] = torch.zeros(8, 3, 5, 5)
  bad['layer5.0.conv1.weight'] = torch.zeros(1)
  path = _save(tmp_path, bad, 'broken.pth')
  model = _abstract(**_SMALL)
  with pytest.raises(ValueError) as err:
    torch_resnet.load_into(model, path)
  message = str(err.value)
  for expected in (
      str(path),
      'layer1.1.bn2.running_var',
      'layer2.0.downsample.0.weight',
      'conv1.weight (8, 3, 5, 5)',
      'layer5.0.conv1.weight',
  ):
    assert expected in message
  # Nothing was written: the abstract model is still abstract.
  assert isinstance(model.bn1.scale.get_value(), jax.ShapeDtypeStruct)
  # A depth mismatch reports the blocks the checkpoint lacks.
  with pytest.raises(ValueError, match=r'layer1\.2\.conv1\.weight'):
    torch_resnet.load_into(_abstract(width=8, layers=(3, 1, 1, 1)), sd)


def test_lenient_load_and_data_parallel_prefix(tmp_path):
  sd = _randomised(_TorchResNet(**_SMALL, num_classes=10)).state_dict()
  extra = {f'module.{k}': v for k, v in sd.items()}
  extra['module.head.weight'] = torch.ones(3)
  path = _save(tmp_path, extra, 'data_parallel.pth')
  with pytest.raises(ValueError, match='head.weight'):
    torch_resnet.load_into(_abstract(**_SMALL), path)
  model = _abstract(**_SMALL)
  unused = torch_resnet.load_into(model, path, strict=False)
  assert unused == ['fc.bias', 'fc.weight', 'head.weight']
  np.testing.assert_array_equal(
      np.asarray(model.layer1[1].bn3.mean[...]),
      sd['layer1.1.bn3.running_mean'].numpy(),
  )

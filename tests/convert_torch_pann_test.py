"""PyTorch PANN CNN14 checkpoint import: embedding parity.

The test builds PANN's `Cnn14` in PyTorch (same module names and shapes as
`audioset_tagging_cnn/pytorch/models.py`, at reduced width), including the
spectrogram / log-mel extractor tensors of the public checkpoint, saves the
`state_dict` with `torch.save` as the released file does (under 'model'),
imports it without torch and compares embeddings and clip outputs to 1e-5.
"""

from flax import nnx
import jax
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from seld_jax.convert import torch_pann
from seld_jax.models import general
from seld_jax.models import pann


class _ConvBlock(nn.Module):

  def __init__(self, cin, cout):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.bn2 = nn.BatchNorm2d(cout)

  def forward(self, x, pool_size):
    x = F.relu_(self.bn1(self.conv1(x)))
    x = F.relu_(self.bn2(self.conv2(x)))
    return F.avg_pool2d(x, kernel_size=pool_size)


class _Spectrogram(nn.Module):
  """Stands in for torchlibrosa's Spectrogram (its STFT basis tensors)."""

  def __init__(self, n_fft):
    super().__init__()
    self.stft = nn.Module()
    self.stft.conv_real = nn.Conv1d(1, n_fft // 2 + 1, n_fft, bias=False)
    self.stft.conv_imag = nn.Conv1d(1, n_fft // 2 + 1, n_fft, bias=False)


class _TorchCnn14(nn.Module):
  """PANN Cnn14 from the log-mel on (the extractors are not run)."""

  def __init__(self, widths, mel_bins=64, classes=527, n_fft=64):
    super().__init__()
    self.spectrogram_extractor = _Spectrogram(n_fft)
    self.logmel_extractor = nn.Module()  # torchlibrosa LogmelFilterBank
    self.logmel_extractor.melW = nn.Parameter(
        torch.zeros(n_fft // 2 + 1, mel_bins)
    )
    self.bn0 = nn.BatchNorm2d(mel_bins)
    cins = (1,) + tuple(widths[:-1])
    for i, (cin, cout) in enumerate(zip(cins, widths)):
      setattr(self, f'conv_block{i + 1}', _ConvBlock(cin, cout))
    self.fc1 = nn.Linear(widths[-1], widths[-1], bias=True)
    self.fc_audioset = nn.Linear(widths[-1], classes, bias=True)

  def forward(self, x):  # x: log-mel [B, 1, T, mel]
    x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
    for i in range(6):
      block = getattr(self, f'conv_block{i + 1}')
      x = F.dropout(
          block(x, (2, 2) if i < 5 else (1, 1)), p=0.2, training=self.training
      )
    x = torch.mean(x, dim=3)
    x = torch.max(x, dim=2)[0] + torch.mean(x, dim=2)
    x = F.relu_(self.fc1(F.dropout(x, p=0.5, training=self.training)))
    embedding = F.dropout(x, p=0.5, training=self.training)
    return {
        'clipwise_output': torch.sigmoid(self.fc_audioset(x)),
        'embedding': embedding,
    }


def _randomised(model):
  torch.manual_seed(0)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, nn.BatchNorm2d):
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.2, 0.2)
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.5, 2.0)
  return model.eval()


_WIDTHS = (4, 8, 8, 16, 16, 32)


def _save(tmp_path, model):
  path = tmp_path / 'Cnn14_small.pth'
  torch.save({'iteration': 10, 'model': model.state_dict()}, path)
  return path


def test_embeddings_match_pytorch(tmp_path):
  tmodel = _randomised(_TorchCnn14(_WIDTHS, classes=10))
  path = _save(tmp_path, tmodel)
  model = pann.Cnn14(1, 64, 10, channels=_WIDTHS, rngs=nnx.Rngs(0))
  unused = torch_pann.load_into(model, path)
  assert unused == [
      'logmel_extractor.melW',
      'spectrogram_extractor.stft.conv_imag.weight',
      'spectrogram_extractor.stft.conv_real.weight',
  ]
  model.eval()
  x = np.random.default_rng(0).normal(size=(2, 1, 100, 64)).astype(np.float32)
  with torch.no_grad():
    ref = tmodel(torch.from_numpy(x))
  out = model(x)
  for key in ('embedding', 'clipwise_output'):
    np.testing.assert_allclose(
        np.asarray(out[key]), ref[key].numpy(), rtol=1e-5, atol=1e-5
    )


def test_headless_backbone_skips_the_clip_head_and_spreads_channels(tmp_path):
  tmodel = _randomised(_TorchCnn14(_WIDTHS, classes=10))
  path = _save(tmp_path, tmodel)
  one = pann.Cnn14(1, 64, channels=_WIDTHS, include_top=False, rngs=nnx.Rngs(0))
  four = pann.Cnn14(
      4, 64, channels=_WIDTHS, include_top=False, rngs=nnx.Rngs(1)
  )
  unused = torch_pann.load_into(four, path)
  assert {'fc1.weight', 'fc_audioset.bias'} <= set(unused)
  torch_pann.load_into(one, path)
  one.eval()
  four.eval()
  x = np.random.default_rng(1).normal(size=(1, 1, 40, 64)).astype(np.float32)
  np.testing.assert_allclose(
      np.asarray(four.frame_embeddings(np.repeat(x, 4, axis=1))),
      np.asarray(one.frame_embeddings(x)),
      rtol=1e-5,
      atol=1e-5,
  )
  with pytest.raises(ValueError, match='shape'):
    torch_pann.load_into(four, path, first_conv='exact')


def test_unknown_tensors_are_errors(tmp_path):
  tmodel = _randomised(_TorchCnn14(_WIDTHS, classes=10))
  sd = {k: v.numpy() for k, v in tmodel.state_dict().items()}
  sd['conv_block7.conv1.weight'] = np.zeros((1,), np.float32)
  model = pann.Cnn14(1, 64, 10, channels=_WIDTHS, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match='conv_block7'):
    torch_pann.load_into(model, sd)


def test_general_model_loads_the_sed_backbone(tmp_path):
  tmodel = _randomised(_TorchCnn14(_WIDTHS, classes=10))
  path = _save(tmp_path, tmodel)
  model = general.GeneralSELD(
      7,
      64,
      13,
      sed_widths=_WIDTHS,
      doa_widths=(4, 8),
      rnn_size=8,
      align_size=8,
      sed_pretrained=str(path),
      rngs=nnx.Rngs(0),
  )
  np.testing.assert_allclose(
      np.asarray(model.sed_module.backbone.conv_blocks[2].conv1.kernel[...]),
      tmodel.conv_block3.conv1.weight.detach().numpy().transpose(2, 3, 1, 0),
  )


def test_full_size_parameter_count_equals_pytorch():
  tmodel = _TorchCnn14((64, 128, 256, 512, 1024, 2048))
  expected = sum(
      p.numel()
      for n, p in tmodel.named_parameters()
      if not n.startswith(torch_pann.EXTRACTOR_PREFIXES)
  )
  del tmodel
  model = nnx.eval_shape(lambda: pann.Cnn14(rngs=nnx.Rngs(0)))
  count = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
  assert count == expected == 80_753_615

"""PyTorch checkpoint import for the DCASE baseline CRNN: output parity.

The test builds a PyTorch implementation of the same network (SPEC §3.1),
saves its `state_dict` with `torch.save`, imports it with seld_jax (which
reads the file without torch) and compares the outputs to 1e-5.
"""

from flax import nnx
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch import nn

from seld_jax.convert import torch_checkpoint
from seld_jax.convert import torch_crnn
from seld_jax.models import crnn


class _TorchConvBlock(nn.Module):

  def __init__(self, cin, cout):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
    self.bn = nn.BatchNorm2d(cout)

  def forward(self, x):
    return torch.relu(self.bn(self.conv(x)))


class _TorchSeld(nn.Module):
  """The baseline layout (module names as the official state_dict)."""

  def __init__(
      self, cin, nfreq, out, t_pool=(5, 1, 1), f_pool=(4, 4, 2), act='tanh'
  ):
    super().__init__()
    self.act = act
    self.conv_block_list = nn.ModuleList()
    for i, (t, f) in enumerate(zip(t_pool, f_pool)):
      self.conv_block_list.append(_TorchConvBlock(cin if i == 0 else 64, 64))
      self.conv_block_list.append(nn.MaxPool2d((t, f)))
      self.conv_block_list.append(nn.Dropout2d(0.05))
    self.gru = nn.GRU(
        64 * int(np.floor(nfreq / np.prod(f_pool))),
        128,
        num_layers=2,
        batch_first=True,
        dropout=0.05,
        bidirectional=True,
    )
    self.mhsa_block_list = nn.ModuleList([
        nn.MultiheadAttention(128, 8, dropout=0.05, batch_first=True)
        for _ in range(2)
    ])
    self.layer_norm_list = nn.ModuleList([nn.LayerNorm(128) for _ in range(2)])
    self.fnn_list = nn.ModuleList([nn.Linear(128, 128), nn.Linear(128, out)])

  def forward(self, x):
    for layer in self.conv_block_list:
      x = layer(x)
    x = x.transpose(1, 2).contiguous()
    x = x.view(x.shape[0], x.shape[1], -1)
    x, _ = self.gru(x)
    x = torch.tanh(x)
    x = x[:, :, x.shape[-1] // 2 :] * x[:, :, : x.shape[-1] // 2]
    for att, norm in zip(self.mhsa_block_list, self.layer_norm_list):
      a, _ = att(x, x, x)
      x = norm(a + x)
    x = self.fnn_list[0](x)
    y = self.fnn_list[1](x)
    return torch.tanh(y) if self.act == 'tanh' else y


def _randomise_bn(model):
  g = torch.Generator().manual_seed(1)
  for m in model.modules():
    if isinstance(m, nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
      m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
      m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
      m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize(
    'cin,nfreq,output,act',
    [
        (7, 64, 'multi_accdoa', 'tanh'),  # 2023 FOA
        (10, 64, 'multi_accdoa', 'tanh'),  # 2023 MIC-GCC
        (7, 64, 'multi_accdoa_distance', 'none'),  # 2024 FOA
    ],
)
def test_parity_with_pytorch(tmp_path, cin, nfreq, output, act):
  torch.manual_seed(0)
  out = crnn.output_size(output, 13)
  ref = _TorchSeld(cin, nfreq, out, act=act)
  _randomise_bn(ref)
  ref.eval()
  path = tmp_path / 'model.h5'  # the official scripts use an .h5 suffix
  torch.save(ref.state_dict(), path)

  model = crnn.SeldCRNN(cin, nfreq, 13, output=output, rngs=nnx.Rngs(0))
  unused = torch_crnn.load_into(model, path)
  assert unused == []
  model.eval()

  x = np.random.default_rng(0).normal(size=(2, cin, 250, nfreq))
  x = x.astype(np.float32)
  with torch.no_grad():
    want = ref(torch.from_numpy(x)).numpy()
  got = np.asarray(model(jnp.asarray(x)))
  assert got.shape == want.shape == (2, 50, out)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_reader_matches_torch_load(tmp_path):
  torch.manual_seed(0)
  ref = _TorchSeld(7, 64, 117)
  path = tmp_path / 'sd.pt'
  torch.save({'state_dict': ref.state_dict(), 'epoch': 3}, path)
  ours = torch_checkpoint.load_state_dict(path)
  theirs = ref.state_dict()
  assert list(ours) == list(theirs)
  for k, v in theirs.items():
    np.testing.assert_array_equal(ours[k], v.numpy())


def test_reader_refuses_arbitrary_objects_and_bad_files(tmp_path):
  path = tmp_path / 'evil.pt'
  torch.save({'w': torch.zeros(2), 'f': np.random.default_rng}, path)
  with pytest.raises(torch_checkpoint.CheckpointError, match='refusing'):
    torch_checkpoint.load_state_dict(path)
  bad = tmp_path / 'bad.pt'
  bad.write_bytes(b'not a checkpoint')
  with pytest.raises(torch_checkpoint.CheckpointError, match='not a zip'):
    torch_checkpoint.load_state_dict(bad)


def test_shape_mismatch_is_a_clear_error(tmp_path):
  ref = _TorchSeld(7, 64, 117)
  path = tmp_path / 'm.pt'
  torch.save(ref.state_dict(), path)
  model = crnn.SeldCRNN(10, 64, 13, rngs=nnx.Rngs(0))  # MIC: 10 channels
  with pytest.raises(ValueError, match='conv_block_list.0.conv.weight'):
    torch_crnn.load_into(model, path)

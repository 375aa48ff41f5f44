"""PyTorch checkpoint import for the DCASE baseline CRNNs: output parity.

The tests build PyTorch copies of the reference networks with their exact
module names (2022-2024 `seldnet_model.py:SeldModel`, audio and the 2024
audio-visual variant; 2025 `model.py:SELDModel`, audio and audio-visual) at
the reference sizes, save their `state_dict` with `torch.save`, import the
file with seld_jax (which reads it without torch) and compare the outputs to
1e-5. The 2025 reference returns the raw head output; our models apply the
per-element activations, so the test applies them to torch's output.
"""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch import nn

from seld_jax.convert import torch_checkpoint
from seld_jax.convert import torch_crnn
from seld_jax.models import av_baseline
from seld_jax.models import crnn


@pytest.fixture(autouse=True, scope='module')
def _one_torch_thread():
  """One torch CPU thread in this module (restored after it).

  The forward passes are small: on a busy 2-core machine two threads spin
  and run them 100x slower.
  """
  threads = torch.get_num_threads()
  torch.set_num_threads(1)
  yield
  torch.set_num_threads(threads)


# The PyTorch references
# -----------------------------------------------------------------------------


class _ConvBlock(nn.Module):
  """2022-2024 `seldnet_model.py:ConvBlock` (pool and dropout outside)."""

  def __init__(self, cin, cout):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
    self.bn = nn.BatchNorm2d(cout)

  def forward(self, x):
    return torch.relu(self.bn(self.conv(x)))


def _fusion(model):
  """The fusion layers, registered as both references do."""
  model.visual_embed_to_d_model = nn.Linear(49, 128)
  model.transformer_decoder_layer = nn.TransformerDecoderLayer(
      d_model=128, nhead=8, batch_first=True
  )
  model.transformer_decoder = nn.TransformerDecoder(
      model.transformer_decoder_layer, num_layers=2
  )


def _fuse(model, x, vid_feat):
  vid_feat = vid_feat.view(vid_feat.shape[0], vid_feat.shape[1], -1)
  return model.transformer_decoder(x, model.visual_embed_to_d_model(vid_feat))


class _SeldModel(nn.Module):
  """2022-2024 `SeldModel`; with `video`, the 2024 audio-visual one."""

  def __init__(self, cin, out, act='none', video=False, nfreq=64):
    super().__init__()
    self.act = act
    self.conv_block_list = nn.ModuleList()
    for i, (t, f) in enumerate(zip((5, 1, 1), (4, 4, 2))):
      self.conv_block_list.append(_ConvBlock(cin if i == 0 else 64, 64))
      self.conv_block_list.append(nn.MaxPool2d((t, f)))
      self.conv_block_list.append(nn.Dropout2d(0.05))
    self.gru = nn.GRU(
        64 * (nfreq // 32),
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
    if video:
      _fusion(self)
    self.fnn_list = nn.ModuleList([nn.Linear(128, 128), nn.Linear(128, out)])

  def embed(self, x):
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
    return x

  def forward(self, x, vid_feat=None):
    x = self.embed(x)
    if vid_feat is not None:
      x = _fuse(self, x, vid_feat)
    y = self.fnn_list[1](self.fnn_list[0](x))
    return torch.tanh(y) if self.act == 'tanh' else y  # 2022/2023: tanh


class _ConvBlock2025(nn.Module):
  """2025 `model.py:ConvBlock`: conv, bn, pool and dropout as attributes."""

  def __init__(self, cin, cout, pool_size):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, 3, 1, 1)
    self.bn = nn.BatchNorm2d(cout)
    self.pool = nn.MaxPool2d(pool_size)
    self.dropout = nn.Dropout2d(0.05)

  def forward(self, x):
    return self.dropout(self.pool(torch.relu(self.bn(self.conv(x)))))


class _SELDModel2025(nn.Module):
  """2025 `model.py:SELDModel` with the reference `parameters.py`."""

  def __init__(self, audio_visual):
    super().__init__()
    self.conv_blocks = nn.ModuleList([
        _ConvBlock2025(64 if i else 2, 64, pool)
        for i, pool in enumerate(((5, 4), (1, 4), (1, 2)))
    ])
    self.gru = nn.GRU(
        128, 128, num_layers=2, batch_first=True, dropout=0.05,
        bidirectional=True,
    )  # fmt: skip
    self.mhsa_layers = nn.ModuleList([
        nn.MultiheadAttention(128, 8, dropout=0.05, batch_first=True)
        for _ in range(2)
    ])
    self.layer_norms = nn.ModuleList([nn.LayerNorm(128) for _ in range(2)])
    if audio_visual:
      _fusion(self)
    out = 3 * (4 if audio_visual else 3) * 13
    self.fnn_list = nn.ModuleList([nn.Linear(128, 128), nn.Linear(128, out)])

  def forward(self, audio_feat, vid_feat=None):
    x = audio_feat
    for block in self.conv_blocks:
      x = block(x)
    x = x.transpose(1, 2).contiguous()
    x = x.view(x.shape[0], x.shape[1], -1).contiguous()
    x, _ = self.gru(x)
    x = torch.tanh(x)
    x = x[:, :, x.shape[-1] // 2 :] * x[:, :, : x.shape[-1] // 2]
    for mhsa, ln in zip(self.mhsa_layers, self.layer_norms):
      a, _ = mhsa(x, x, x)
      x = ln(a + x)
    if vid_feat is not None:
      x = _fuse(self, x, vid_feat)
    return self.fnn_list[1](self.fnn_list[0](x))  # raw, no activation


def _reference(model):
  """Eval mode; the tensors torch initialises to constants made random.

  (LayerNorm and BatchNorm affine and statistics, attention biases: so a
  swapped or dropped one shows in the outputs.)
  """
  g = torch.Generator().manual_seed(1)

  def rand(t, scale=0.1, offset=0.0):
    t.copy_(torch.randn(t.shape, generator=g) * scale + offset)

  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
        rand(m.weight, 0.2, 1.0)
        rand(m.bias)
      if isinstance(m, nn.BatchNorm2d):
        rand(m.running_mean)
        m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
      if isinstance(m, nn.MultiheadAttention):
        rand(m.in_proj_bias)
        rand(m.out_proj.bias)
  return model.eval()


def _abstract(cls, *args, **kwargs):
  """The model's structure without values (`nnx.eval_shape`, no init).

  A forward pass then only runs when the import filled every parameter and
  statistic (the dropout RNG state stays abstract; eval mode never reads it).
  """
  return nnx.eval_shape(lambda: cls(*args, rngs=nnx.Rngs(0), **kwargs))


def _filled(model) -> list[bool]:
  """Per parameter and statistic of an `_abstract` model: has a value."""
  leaves = jax.tree.leaves(nnx.state(model, nnx.Param, nnx.BatchStat))
  return [isinstance(x, jax.Array) for x in leaves]


def _assert_filled(model):
  assert all(_filled(model))


def _assert_untouched(model):
  assert not any(_filled(model))


def _numpy_sd(model):
  return {k: v.numpy() for k, v in model.state_dict().items()}


def _inputs(cin, frames):
  # One batch size everywhere: JAX compiles each op once per shape.
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, cin, frames, 64)).astype(np.float32)
  v = rng.normal(size=(2, 50, 7, 7)).astype(np.float32)
  return x, v


def _torch_out(ref, output, *inputs):
  """The reference's output with our output activation of `output`."""
  with torch.no_grad():
    y = ref(*(torch.from_numpy(a) for a in inputs)).numpy()
  if isinstance(ref, _SELDModel2025):  # the 2025 forward returns raw values
    y = np.asarray(crnn.apply_output_activation(jnp.asarray(y), output, 13))
  return y


def _fusion_keys(sd):
  return sorted(k for k in sd if k.startswith(torch_crnn.FUSION_PREFIXES))


def _template_keys(sd):
  return sorted(k for k in sd if k.startswith('transformer_decoder_layer.'))


# Parity
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'cin,output,act',
    [
        (7, 'multi_accdoa', 'tanh'),  # 2023 FOA
        (10, 'multi_accdoa', 'tanh'),  # 2023 MIC-GCC
        (7, 'multi_accdoa_distance', 'none'),  # 2024 FOA
    ],
)
def test_parity_2022_2024_audio(tmp_path, cin, output, act):
  torch.manual_seed(0)
  out = crnn.output_size(output, 13)
  ref = _reference(_SeldModel(cin, out, act=act))
  path = tmp_path / 'model.h5'  # the official scripts use an .h5 suffix
  torch.save(ref.state_dict(), path)
  assert torch_crnn.detect_layout(_numpy_sd(ref)) is torch_crnn.LAYOUT_2022_2024

  model = _abstract(crnn.SeldCRNN, cin, 64, 13, output=output)
  assert torch_crnn.load_into(model, path) == []
  _assert_filled(model)
  model.eval()
  x, _ = _inputs(cin, 250)
  want = _torch_out(ref, output, x)
  got = np.asarray(model(jnp.asarray(x)))
  assert got.shape == want.shape == (2, 50, out)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_parity_2025_audio_stereo(tmp_path):
  torch.manual_seed(0)
  ref = _reference(_SELDModel2025(audio_visual=False))
  sd = _numpy_sd(ref)
  assert 'conv_blocks.1.conv.weight' in sd  # consecutive indices
  assert 'mhsa_layers.1.in_proj_weight' in sd and 'layer_norms.1.bias' in sd
  assert torch_crnn.detect_layout(sd) is torch_crnn.LAYOUT_2025
  path = tmp_path / 'best_model.pth'
  torch.save(ref.state_dict(), path)

  model = _abstract(crnn.SeldCRNN, 2, 64, 13, output='multi_accdoa_stereo')
  assert torch_crnn.load_into(model, path) == []
  _assert_filled(model)
  model.eval()
  x, _ = _inputs(2, 251)  # 251 frames, as the 2025 features
  want = _torch_out(ref, 'multi_accdoa_stereo', x)
  got = np.asarray(model(jnp.asarray(x)))
  assert got.shape == want.shape == (2, 50, 117)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  # The activations matter: the raw reference output is not ours.
  with torch.no_grad():
    raw = ref(torch.from_numpy(x)).numpy()
  assert np.abs(raw - got).max() > 0.1


@pytest.mark.parametrize(
    'year,cin,frames,output',
    [
        ('2024', 7, 250, 'multi_accdoa_distance'),
        ('2025', 2, 251, 'multi_accdoa_stereo_av'),
    ],
)
def test_parity_audio_visual(tmp_path, year, cin, frames, output):
  torch.manual_seed(0)
  if year == '2024':
    ref = _reference(_SeldModel(cin, 156, video=True))
  else:
    ref = _reference(_SELDModel2025(audio_visual=True))
  sd = _numpy_sd(ref)
  path = tmp_path / f'{year}_av.pth'
  torch.save(ref.state_dict(), path)

  model = _abstract(av_baseline.AVSeldCRNN, cin, 64, 13, output=output)
  unused = torch_crnn.load_into(model, path)
  _assert_filled(model)
  # Only the never-called template layer is left: 16 tensors.
  assert unused == _template_keys(sd) and len(unused) == 18
  np.testing.assert_array_equal(
      model.visual_embed.kernel[...], sd['visual_embed_to_d_model.weight'].T
  )
  model.eval()
  x, v = _inputs(cin, frames)
  want = _torch_out(ref, output, x, v)
  got = np.asarray(model(jnp.asarray(x), jnp.asarray(v)))
  assert got.shape == want.shape == (2, 50, 156)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  # Without video both skip the decoder.
  want_audio = _torch_out(ref, output, x)
  got_audio = np.asarray(model(jnp.asarray(x)))
  np.testing.assert_allclose(got_audio, want_audio, atol=1e-5, rtol=0)
  assert np.abs(got_audio - got).max() > 0.01


# Audio / audio-visual combinations
# -----------------------------------------------------------------------------


def test_audio_model_and_an_audio_visual_checkpoint(tmp_path):
  torch.manual_seed(0)
  ref = _reference(_SELDModel2025(audio_visual=True))
  sd = _numpy_sd(ref)
  path = tmp_path / 'av.pth'
  torch.save(ref.state_dict(), path)
  model = _abstract(crnn.SeldCRNN, 2, 64, 13, output='multi_accdoa_stereo_av')

  with pytest.raises(ValueError, match='tensors the model does not have') as e:
    torch_crnn.load_into(model, path)
  message = str(e.value)
  assert str(path) in message and 'AVSeldCRNN' in message
  fusion = _fusion_keys(sd)
  assert len(fusion) == 2 + 2 * 18
  assert all(repr(k) in message for k in fusion)
  assert 'transformer_decoder_layer.' not in message  # skipped, not an error
  _assert_untouched(model)  # a failed import writes nothing

  unused = torch_crnn.load_into(model, path, strict=False)
  assert unused == sorted(fusion + _template_keys(sd))
  _assert_filled(model)
  model.eval()
  x, _ = _inputs(2, 251)
  want = _torch_out(ref, 'multi_accdoa_stereo_av', x)  # no video
  got = np.asarray(model(jnp.asarray(x)))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_2024_recipe_audio_visual_model_from_the_audio_checkpoint(tmp_path):
  """train_seldnet.py: audio weights without `fnn`, `strict=False`."""
  torch.manual_seed(0)
  ref = _reference(_SeldModel(7, 156))
  sd = {k: v for k, v in ref.state_dict().items() if 'fnn' not in k}
  path = tmp_path / '3_1_dev_split0_multiaccdoa_foa_model.h5'
  torch.save(sd, path)
  model = _abstract(av_baseline.AVSeldCRNN, 7, 64, 13)

  with pytest.raises(ValueError, match='missing tensors') as e:
    torch_crnn.load_into(model, path)
  message = str(e.value)
  for key in ('fnn_list.0.weight', 'fnn_list.1.bias'):
    assert repr(key) in message
  for key in ('visual_embed_to_d_model.weight', 'transformer_decoder.layers.1'):
    assert key in message
  assert '2024 recipe' in message
  _assert_untouched(model)

  assert torch_crnn.load_into(model, path, strict=False) == []
  for name in ('fnn', 'head', 'visual_embed', 'decoder_layers'):  # kept
    _assert_untouched(getattr(model, name))
  for name in ('conv_blocks', 'gru', 'attention_blocks'):  # loaded
    _assert_filled(getattr(model, name))
  model.eval()
  x, _ = _inputs(7, 250)
  with torch.no_grad():
    want = ref.embed(torch.from_numpy(x)).numpy()
  got = np.asarray(model.embed(jnp.asarray(x)))
  assert got.shape == (2, 50, 128)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_load_model_builds_the_model_the_checkpoint_needs(tmp_path):
  torch.manual_seed(0)
  ref = _SELDModel2025(audio_visual=True)
  path = tmp_path / 'av.pth'
  torch.save(ref.state_dict(), path)
  head = ref.fnn_list[1].weight.detach().numpy().T
  output = 'multi_accdoa_stereo_av'
  model = torch_crnn.load_model(path, in_channels=2, output=output)
  assert isinstance(model, av_baseline.AVSeldCRNN)  # found in the file
  np.testing.assert_array_equal(model.head.kernel[...], head)
  audio = torch_crnn.load_model(
      path, model_class=crnn.SeldCRNN, strict=False, in_channels=2,
      output=output,
  )  # fmt: skip
  assert not isinstance(audio, av_baseline.AVSeldCRNN)
  np.testing.assert_array_equal(audio.head.kernel[...], head)
  assert not torch_crnn.is_audio_visual(_numpy_sd(_SELDModel2025(False)))


# Errors and the reader
# -----------------------------------------------------------------------------


def test_layouts_and_partial_groups_are_clear_errors():
  sd = _numpy_sd(_SeldModel(7, 117))
  model = _abstract(crnn.SeldCRNN, 7, 64, 13)
  with pytest.raises(ValueError, match='cannot tell the baseline layout'):
    torch_crnn.load_into(model, {f'net.{k}': v for k, v in sd.items()})
  mixed = dict(sd, **{'conv_blocks.0.conv.weight': sd['gru.bias_ih_l0']})
  with pytest.raises(ValueError, match='cannot tell the baseline layout'):
    torch_crnn.load_into(model, mixed)
  fewer = {k: v for k, v in sd.items() if not k.startswith('conv_block_list.6')}
  with pytest.raises(ValueError, match='2 conv blocks'):
    torch_crnn.load_into(model, fewer, strict=False)

  av = _numpy_sd(_SELDModel2025(audio_visual=True))
  del av['transformer_decoder.layers.1.norm3.bias']
  av_model = _abstract(
      av_baseline.AVSeldCRNN, 2, 64, 13, output='multi_accdoa_stereo_av'
  )
  with pytest.raises(ValueError, match='layers.1.norm3.bias'):
    torch_crnn.load_into(av_model, av, strict=False)  # partly present


def test_reader_matches_torch_load(tmp_path):
  torch.manual_seed(0)
  ref = _SeldModel(7, 117)
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
  ref = _SeldModel(7, 117)
  path = tmp_path / 'm.pt'
  torch.save(ref.state_dict(), path)
  model = _abstract(crnn.SeldCRNN, 10, 64, 13)  # MIC: 10 channels
  with pytest.raises(ValueError, match='conv_block_list.0.conv.weight') as e:
    torch_crnn.load_into(model, path)
  assert str(path) in str(e.value) and 'wrong shape' in str(e.value)
  _assert_untouched(model)  # though all the other tensors fit
  narrow = _abstract(crnn.SeldCRNN, 7, 64, 13, rnn_size=64)
  with pytest.raises(ValueError) as e:
    torch_crnn.load_into(narrow, path)
  for key in ('gru.weight_hh_l0 + gru.weight_hh_l0_reverse', 'fnn_list.0'):
    assert key in str(e.value)
  assert 'mhsa_block_list.1.in_proj_weight (384, 128) (model (64, 8, 8)' in (
      str(e.value)
  )

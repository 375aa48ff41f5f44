"""Tests for the DCASE2024/2025 audio-visual baseline (models.av_baseline).

The parity test builds the reference network in PyTorch with the official
module names (`seldnet_model.py:SeldModel` with `in_vid_feat_shape`, 2024;
the 2025 `model.py` has the same layers and the per-element activations),
loads its weights (audio path with `convert.torch_crnn`, fusion layers
mapped here) and compares the outputs.
"""

from flax import nnx
import jax
import jax.numpy as jnp
import model_steps
import numpy as np
import pytest
import torch
from torch import nn

from configs import av_baseline_synthetic
from seld_jax import losses
from seld_jax import train_step
from seld_jax.convert import torch_crnn
from seld_jax.models import av_baseline
from seld_jax.models import crnn

# Every JAX model of the file has these shapes (compilations are shared).
_TINY = dict(
    f_pool=(2, 2, 2),
    conv_channels=4,
    rnn_size=16,
    num_heads=2,
    fnn_size=16,
    decoder_heads=2,
    decoder_ffn_dim=32,
)


@nnx.jit
def _forward(model, x, v):
  return model(x, v)


def _tiny_model(**kwargs):
  """Stereo [B, 2, T, 16] -> 2025 AV outputs, small widths."""
  return av_baseline.AVSeldCRNN(
      2,
      16,
      13,
      output='multi_accdoa_stereo_av',
      rngs=nnx.Rngs(0),
      **_TINY,
      **kwargs,
  )


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


# The reference in PyTorch
# -----------------------------------------------------------------------------


class _TorchConvBlock(nn.Module):

  def __init__(self, cin, cout):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
    self.bn = nn.BatchNorm2d(cout)

  def forward(self, x):
    return torch.relu(self.bn(self.conv(x)))


class _TorchAVSeld(nn.Module):
  """SeldModel with the fusion layers, named as the official state_dict.

  The defaults are the reference sizes; the parity test uses small ones.
  """

  def __init__(
      self,
      cin,
      out,
      act,
      conv=64,
      rnn=128,
      heads=8,
      ffn=2048,
      nfreq=64,
      f_pool=(4, 4, 2),
  ):
    super().__init__()
    self.act = act
    self.conv_block_list = nn.ModuleList()
    for i, (t, f) in enumerate(zip((5, 1, 1), f_pool)):
      self.conv_block_list.append(
          _TorchConvBlock(cin if i == 0 else conv, conv)
      )
      self.conv_block_list.append(nn.MaxPool2d((t, f)))
      self.conv_block_list.append(nn.Dropout2d(0.05))
    self.gru = nn.GRU(
        conv * (nfreq // int(np.prod(f_pool))),
        rnn,
        num_layers=2,
        batch_first=True,
        dropout=0.05,
        bidirectional=True,
    )
    self.mhsa_block_list = nn.ModuleList([
        nn.MultiheadAttention(rnn, heads, dropout=0.05, batch_first=True)
        for _ in range(2)
    ])
    self.layer_norm_list = nn.ModuleList([nn.LayerNorm(rnn) for _ in range(2)])
    self.visual_embed_to_d_model = nn.Linear(49, rnn)
    # As the reference: a template layer registered on the model, deep-copied
    # twice by nn.TransformerDecoder (the template itself is never called).
    self.transformer_decoder_layer = nn.TransformerDecoderLayer(
        d_model=rnn, nhead=heads, dim_feedforward=ffn, batch_first=True
    )
    self.transformer_decoder = nn.TransformerDecoder(
        self.transformer_decoder_layer, num_layers=2
    )
    self.fnn_list = nn.ModuleList([nn.Linear(rnn, rnn), nn.Linear(rnn, out)])

  def forward(self, x, vid):
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
    vid = self.visual_embed_to_d_model(vid.view(vid.shape[0], vid.shape[1], -1))
    x = self.transformer_decoder(x, vid)
    y = self.fnn_list[1](self.fnn_list[0](x))
    if self.act == 'stereo':  # 2025: tanh x, y; ReLU distance; sigmoid
      y = y.reshape(y.shape[0], y.shape[1], 3, 4, 13)
      y = torch.cat(
          [
              torch.tanh(y[:, :, :, :2]),
              torch.relu(y[:, :, :, 2:3]),
              torch.sigmoid(y[:, :, :, 3:]),
          ],
          dim=3,
      )
      y = y.reshape(y.shape[0], y.shape[1], -1)
    return y


def _set(variable, value):
  assert tuple(variable[...].shape) == tuple(value.shape)
  variable[...] = jnp.asarray(value, variable[...].dtype)


def _load_attention(att, sd, p):
  e, h = att.in_features, att.num_heads
  w, b = sd[f'{p}.in_proj_weight'], sd[f'{p}.in_proj_bias']
  for j, proj in enumerate((att.query, att.key, att.value)):
    _set(proj.kernel, w[j * e : (j + 1) * e].T.reshape(e, h, e // h))
    _set(proj.bias, b[j * e : (j + 1) * e].reshape(h, e // h))
  _set(att.out.kernel, sd[f'{p}.out_proj.weight'].T.reshape(h, e // h, e))
  _set(att.out.bias, sd[f'{p}.out_proj.bias'])


def _load_fusion(model, sd):
  _set(model.visual_embed.kernel, sd['visual_embed_to_d_model.weight'].T)
  _set(model.visual_embed.bias, sd['visual_embed_to_d_model.bias'])
  for i, layer in enumerate(model.decoder_layers):
    p = f'transformer_decoder.layers.{i}'
    _load_attention(layer.self_attn, sd, f'{p}.self_attn')
    _load_attention(layer.cross_attn, sd, f'{p}.multihead_attn')
    for name in ('linear1', 'linear2'):
      _set(getattr(layer, name).kernel, sd[f'{p}.{name}.weight'].T)
      _set(getattr(layer, name).bias, sd[f'{p}.{name}.bias'])
    for name in ('norm1', 'norm2', 'norm3'):
      _set(getattr(layer, name).scale, sd[f'{p}.{name}.weight'])
      _set(getattr(layer, name).bias, sd[f'{p}.{name}.bias'])


# Tests
# -----------------------------------------------------------------------------


def _torch_reference(cin, act, **sizes):
  torch.manual_seed(0)
  ref = _TorchAVSeld(cin, 156, act, **sizes)
  g = torch.Generator().manual_seed(1)
  for m in ref.modules():
    if isinstance(m, nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
      m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
  return ref.eval()


@pytest.mark.parametrize(
    'cin,output,count',
    [
        (7, 'multi_accdoa_distance', 2_067_228),  # 2024 FOA
        (2, 'multi_accdoa_stereo_av', 2_064_348),  # 2025 stereo
    ],
)
def test_parameter_count_equals_the_reference(cin, output, count):
  model = nnx.eval_shape(
      lambda: av_baseline.AVSeldCRNN(
          cin, 64, 13, output=output, rngs=nnx.Rngs(0)
      )
  )
  # Audio CRNN (742,172 / 734,261 + 5,031 for the 156 outputs) + Linear(49,
  # 128) 6,400 + 2 decoder layers of 659,328 (self- and cross-attention
  # 2 x 66,048, feed-forward 128*2048+2048 + 2048*128+128, 3 LayerNorms).
  assert _num_params(model) == count
  ref = _TorchAVSeld(cin, 156, 'none')
  template = sum(p.numel() for p in ref.transformer_decoder_layer.parameters())
  # The reference also registers the never-called template layer.
  assert template == 659_328
  assert sum(p.numel() for p in ref.parameters()) - template == count


def test_parity_with_pytorch_2025_stereo_av():
  # Small widths keep the test fast; the layout is the reference's.
  ref = _torch_reference(
      2, 'stereo', conv=4, rnn=16, heads=2, ffn=32, nfreq=16, f_pool=(2, 2, 2)
  )
  model = _tiny_model()
  sd = {k: v.numpy() for k, v in ref.state_dict().items()}
  unused = torch_crnn.load_into(model, sd, strict=False)
  assert unused and all(
      k.startswith(('visual_embed_to_d_model.', 'transformer_decoder'))
      for k in unused
  )
  _load_fusion(model, sd)
  model.eval()

  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 2, 51, 16)).astype(np.float32) * 3  # 10 frames
  v = rng.normal(size=(2, 10, 7, 7)).astype(np.float32)
  with torch.no_grad():
    want = ref(torch.from_numpy(x), torch.from_numpy(v)).numpy()
  got = np.asarray(_forward(model, jnp.asarray(x), jnp.asarray(v)))
  assert got.shape == want.shape == (2, 10, 156)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


@pytest.mark.parametrize('norm_first', [False, True])
def test_decoder_layer_matches_torch_in_training_mode_without_dropout(
    norm_first,
):
  torch.manual_seed(0)
  ref = nn.TransformerDecoderLayer(
      16,
      4,
      dim_feedforward=24,
      dropout=0.0,
      batch_first=True,
      norm_first=norm_first,
  )
  layer = av_baseline.TransformerDecoderLayer(
      16, 4, 24, 0.0, norm_first=norm_first, rngs=nnx.Rngs(0)
  )
  sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
  _load_attention(layer.self_attn, sd, 'self_attn')
  _load_attention(layer.cross_attn, sd, 'multihead_attn')
  for name in ('linear1', 'linear2'):
    _set(getattr(layer, name).kernel, sd[f'{name}.weight'].T)
    _set(getattr(layer, name).bias, sd[f'{name}.bias'])
  for name in ('norm1', 'norm2', 'norm3'):
    _set(getattr(layer, name).scale, sd[f'{name}.weight'])
    _set(getattr(layer, name).bias, sd[f'{name}.bias'])
  rng = np.random.default_rng(1)
  x = rng.normal(size=(3, 5, 16)).astype(np.float32)
  mem = rng.normal(size=(3, 7, 16)).astype(np.float32)  # other length
  with torch.no_grad():
    want = ref(torch.from_numpy(x), torch.from_numpy(mem)).numpy()
  got = np.asarray(layer(jnp.asarray(x), jnp.asarray(mem)))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  # A local cross-attention mask (torch masks where True, ours attends).
  mask = av_baseline.local_attention_mask(5, 7, 1)
  with torch.no_grad():
    want = ref(
        torch.from_numpy(x),
        torch.from_numpy(mem),
        memory_mask=torch.from_numpy(~np.asarray(mask[0, 0])),
    ).numpy()
  got = np.asarray(layer(jnp.asarray(x), jnp.asarray(mem), mask))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_local_attention_mask():
  mask = np.asarray(av_baseline.local_attention_mask(4, 5, 1))
  assert mask.shape == (1, 1, 4, 5) and mask.dtype == bool
  np.testing.assert_array_equal(
      mask[0, 0].astype(int),
      [
          [1, 1, 0, 0, 0],
          [1, 1, 1, 0, 0],
          [0, 1, 1, 1, 0],
          [0, 0, 1, 1, 1],
      ],
  )
  np.testing.assert_array_equal(
      av_baseline.local_attention_mask(3, 3, 0)[0, 0], np.eye(3, dtype=bool)
  )
  with pytest.raises(ValueError, match='>= 0'):
    av_baseline.local_attention_mask(3, 3, -1)


def test_visual_input_layouts():
  v = jax.random.normal(jax.random.key(1), (2, 10, 7, 7))
  want = v.reshape(2, 10, 49)
  for layout in (v, want, v[..., None]):  # [B, T, h, w], [B, T, D], ...
    got = av_baseline.visual_sequence(layout, None, 49, 10)
    np.testing.assert_array_equal(got, want)
  assert av_baseline.visual_sequence(v, None, 49, 10, jnp.bfloat16).dtype == (
      jnp.bfloat16
  )


def test_output_ranges_and_audio_only_path():
  model = _tiny_model()
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, 2, 51, 16)) * 3
  v = jax.random.normal(jax.random.key(1), (2, 10, 7, 7))
  y = _forward(model, x, v)
  assert y.shape == (2, 10, 156)
  e = np.asarray(y).reshape(2, 10, 3, 4, 13)
  assert np.abs(e[:, :, :, :2]).max() <= 1.0
  assert e[:, :, :, 2].min() >= 0.0
  assert e[:, :, :, 3].min() > 0.0 and e[:, :, :, 3].max() < 1.0
  assert not np.allclose(y, _forward(model, x, v + 1.0))  # the video matters
  audio_only = _forward(model, x, None)  # the reference skips the decoder
  assert audio_only.shape == (2, 10, 156)
  assert not np.allclose(y, audio_only)


def test_blind_control_has_the_same_parameters_and_ignores_the_video():
  model = _tiny_model()
  blind = _tiny_model(blind=True)
  assert _num_params(blind) == _num_params(model)
  blind.eval()
  x = jax.random.normal(jax.random.key(0), (2, 2, 51, 16))
  v = jax.random.normal(jax.random.key(1), (2, 10, 7, 7))
  y = _forward(blind, x, v)
  np.testing.assert_array_equal(y, _forward(blind, x, v * 5.0 + 1.0))
  # Still the fused network (a constant memory), not the decoder-less path.
  assert not np.allclose(y, _forward(blind, x, None))


def test_decoder_norm_first_gives_pre_norm_layers_of_the_same_size():
  post = _tiny_model()
  pre = _tiny_model(decoder_norm_first=True)
  assert _num_params(pre) == _num_params(post)
  assert all(layer.norm_first for layer in pre.decoder_layers)
  assert not any(layer.norm_first for layer in post.decoder_layers)
  pre.eval()
  post.eval()
  x = jax.random.normal(jax.random.key(0), (2, 2, 51, 16))
  v = jax.random.normal(jax.random.key(1), (2, 10, 7, 7))
  # Same initial parameters, the other layer arithmetic.
  assert np.abs(_forward(pre, x, v) - _forward(post, x, v)).max() > 1e-3


def test_bad_visual_inputs_are_clear_errors():
  model = _tiny_model()
  x = jnp.zeros((1, 2, 51, 16))
  with pytest.raises(ValueError, match='one row per label frame'):
    model(x, jnp.zeros((1, 9, 49)))
  with pytest.raises(ValueError, match='built for 49'):
    model(x, jnp.zeros((1, 10, 48)))
  with pytest.raises(ValueError, match='visual_frontend'):
    model(x, jnp.zeros((1, 10, 8, 8, 3), jnp.uint8))
  with pytest.raises(ValueError, match='visual_size'):
    _tiny_model(visual_frontend=dict(name='small_cnn', pooling='avg'))
  with pytest.raises(ValueError, match='visual_dim'):
    _tiny_model(visual_dim=None)


def test_raw_frames_through_a_visual_frontend():
  model = _tiny_model(
      visual_frontend=dict(name='small_cnn', pooling='avg', channels=(4, 8)),
      visual_size=(16, 32),
  )
  assert model.visual_dim == 8  # avg pooling of the last 8 channels
  frontend_params = _num_params(model.visual_frontend)
  assert frontend_params == 3 * 9 * 4 + 4 * 9 * 8 + 2 * (4 + 8)  # convs, BN
  assert _num_params(model) > frontend_params
  model.eval()
  frames = jax.random.randint(jax.random.key(1), (2, 10, 16, 32, 3), 0, 256)
  frames = frames.astype(jnp.uint8)
  emb = model.visual_frontend(frames)
  assert emb.shape == (2, 10, 8)
  memory = model.visual_input(frames, 10)
  assert memory.shape == (2, 10, 16)
  # The same front end's pre-extracted (float) embeddings are read as such.
  np.testing.assert_allclose(model.visual_input(emb, 10), memory, atol=1e-6)
  x = jax.ShapeDtypeStruct((2, 2, 51, 16), jnp.float32)
  v = jax.ShapeDtypeStruct(frames.shape, jnp.uint8)
  out = nnx.eval_shape(lambda m, x, v: m(x, v), model, x, v)
  assert out.shape == (2, 10, 156)


def test_adam_steps_reduce_the_stereo_av_loss():
  model = _tiny_model(
      dropout=0.0,
      decoder_dropout=0.0,
      rnn_layers=1,
      num_attention_layers=1,
      num_decoder_layers=1,
  )
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 51, 16)), jnp.float32)
  v = jnp.asarray(rng.normal(size=(2, 10, 7, 7)), jnp.float32)
  target = np.zeros((2, 10, 6, 5, 13), np.float32)  # act, x, y, dist, onscreen
  target[:, :, 0, :, 3] = (1.0, 0.6, 0.8, 1.5, 1.0)
  losses_ = model_steps.adam_losses(
      model, (x, v), jnp.asarray(target), losses.adpit_stereo
  )
  assert np.all(np.isfinite(losses_))
  assert np.all(np.diff(losses_) < 0)
  assert losses_[-1] < 0.85 * losses_[0]


@pytest.mark.parametrize('arg', av_baseline_synthetic.VARIANTS)
def test_configs_build_the_2024_model_on_synthetic_frames(arg):
  config = av_baseline_synthetic.get_config(arg)
  assert config.visual == 'frames'
  assert config.dataset == 'synthetic_seld/foa_video'
  spec = train_step.feature_spec(config, None)
  shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
  model = nnx.eval_shape(lambda: train_step.create_model(config, shape))
  assert isinstance(model, av_baseline.AVSeldCRNN)
  # The recipe's 1.2-s windows: 12 label frames, one video frame each.
  assert (config.window_seconds, config.batch_size) == (1.2, 32)
  size = tuple(config.model_kwargs.visual_size)
  frames = jax.ShapeDtypeStruct((1, 12) + size + (3,), jnp.uint8)
  feats = jax.ShapeDtypeStruct((1,) + shape, jnp.float32)
  out = nnx.eval_shape(lambda m, x, v: m(x, v), model, feats, frames)
  assert (
      out.shape == (1, 12, crnn.output_size(config.target, 13)) == (1, 12, 156)
  )
  # resnet50: the official 49 values per frame (7x7 channel mean).
  assert model.visual_dim == (49 if arg == 'resnet50' else 4 * 8 * 32)


def test_visual_dropout_blanks_the_video_of_some_training_examples():
  model = _tiny_model(visual_dropout=0.5, dropout=0.0, decoder_dropout=0.0)
  assert _num_params(model) == _num_params(_tiny_model())
  x = jax.random.normal(jax.random.key(0), (16, 2, 51, 16))
  v = jax.random.normal(jax.random.key(1), (16, 10, 7, 7))
  model_steps.check_visual_dropout(model, x, v)

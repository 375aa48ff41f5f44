"""Tests for ASMA-SELD (models.asma).

The reference is NutrinoDaya/ASMA-SELD (`models/ASMA_SELD.py` and the
ablation models in `models/ablation/`). It is rebuilt here in PyTorch (the
audio path named as the DCASE baseline's state_dict, so that
`convert.torch_crnn` loads it) for the parameter counts of every ablation
and for output parity.
"""

from flax import nnx
import jax
import jax.numpy as jnp
import model_steps
import numpy as np
import pytest
import torch
from torch import nn

from configs import asma_seld
from seld_jax import losses
from seld_jax import train_step
from seld_jax.convert import torch_crnn
from seld_jax.models import asma
from seld_jax.models import av_baseline

# Every concrete JAX model of the file has these shapes.
_TINY = dict(
    f_pool=(2, 2, 2),
    conv_channels=8,
    se_reduction=4,
    rnn_size=16,
    num_heads=2,
    fnn_size=16,
    decoder_heads=2,
    decoder_ffn_dim=32,
)

_VARIANTS = {
    'full': dict(),
    'no_phase': dict(use_phase=False),
    'no_se': dict(use_se=False),
    'no_transformer': dict(use_transformer=False),
    'audio_only': dict(use_visual=False, output='multi_accdoa_stereo'),
}


@nnx.jit
def _forward(model, x, v):
  return model(x, v)


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _set(variable, value):
  value = np.asarray(value)
  assert tuple(variable[...].shape) == value.shape
  variable[...] = jnp.asarray(value, variable[...].dtype)


# The reference in PyTorch
# -----------------------------------------------------------------------------


class _TorchSE(nn.Module):

  def __init__(self, c, reduction):
    super().__init__()
    self.excitation = nn.Sequential(
        nn.Linear(c, c // reduction, bias=False),
        nn.ReLU(),
        nn.Linear(c // reduction, c, bias=False),
        nn.Sigmoid(),
    )

  def forward(self, x):
    return x * self.excitation(x.mean(dim=(2, 3)))[:, :, None, None]


class _TorchBlock(nn.Module):
  """SEConvBlock (conv, BN, SE, ReLU) or the baseline ConvBlock."""

  def __init__(self, cin, cout, se, reduction):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, 3, padding=1)
    self.bn = nn.BatchNorm2d(cout)
    self.se = _TorchSE(cout, reduction) if se else None

  def forward(self, x):
    x = self.bn(self.conv(x))
    return torch.relu(self.se(x) if self.se is not None else x)


class _TorchASMA(nn.Module):
  """ASMA_SELD_AudioVisual and its ablations (phase, se, transformer, av)."""

  def __init__(
      self,
      phase=True,
      se=True,
      transformer=True,
      av=True,
      conv=64,
      rnn=128,
      heads=8,
      ffn=2048,
      nfreq=64,
      f_pool=(4, 4, 2),
      reduction=8,
  ):
    super().__init__()
    self.phase, self.transformer, self.av = phase, transformer, av
    if phase:
      self.phase_encoder = nn.Sequential(
          nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
      )
    self.conv_block_list = nn.ModuleList()
    for i, (t, f) in enumerate(zip((5, 1, 1), f_pool)):
      cin = (6 if phase else 2) if i == 0 else conv
      self.conv_block_list.append(_TorchBlock(cin, conv, se, reduction))
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
    if av:
      self.visual_embed_to_d_model = nn.Linear(49, rnn)
      if transformer:
        self.transformer_decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(rnn, heads, ffn, batch_first=True), 2
        )
      else:
        self.fusion_projection = nn.Linear(2 * rnn, rnn)
    self.fnn_list = nn.ModuleList(
        [nn.Linear(rnn, rnn), nn.Linear(rnn, 3 * (4 if av else 3) * 13)]
    )

  def forward(self, x, vid=None):
    if self.phase:
      ild = x[:, 0:1] - x[:, 1:2]
      x = torch.cat([x, torch.relu(self.phase_encoder(ild))], dim=1)
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
    if vid is not None:
      vid = self.visual_embed_to_d_model(vid.reshape(*vid.shape[:2], -1))
      if self.transformer:
        x = self.transformer_decoder(x, vid)
      else:
        x = self.fusion_projection(torch.cat([x, vid], dim=-1))
    y = self.fnn_list[1](self.fnn_list[0](x))
    k = 4 if self.av else 3
    y = y.reshape(y.shape[0], y.shape[1], 3, k, 13)
    parts = [torch.tanh(y[:, :, :, :2]), torch.relu(y[:, :, :, 2:3])]
    if self.av:
      parts.append(torch.sigmoid(y[:, :, :, 3:]))
    return torch.cat(parts, dim=3).reshape(y.shape[0], y.shape[1], -1)


# Tests
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'variant,count',
    [
        ('full', 2_069_768),
        ('no_phase', 2_067_420),
        ('no_se', 2_066_696),
        ('no_transformer', 784_008),
        ('audio_only', 739_681),
    ],
)
def test_parameter_counts_equal_the_reference(variant, count):
  kwargs = _VARIANTS[variant]
  model = nnx.eval_shape(
      lambda: asma.ASMASeld(2, 64, 13, rngs=nnx.Rngs(0), **kwargs)
  )
  assert _num_params(model) == count
  with torch.device('meta'):
    ref = _TorchASMA(
        phase=kwargs.get('use_phase', True),
        se=kwargs.get('use_se', True),
        transformer=kwargs.get('use_transformer', True),
        av=kwargs.get('use_visual', True),
    )
  assert sum(p.numel() for p in ref.parameters()) == count


def test_without_the_additions_it_is_the_dcase2025_av_baseline():
  model = nnx.eval_shape(
      lambda: asma.ASMASeld(
          2, 64, 13, use_phase=False, use_se=False, rngs=nnx.Rngs(0)
      )
  )
  baseline = nnx.eval_shape(
      lambda: av_baseline.AVSeldCRNN(
          2, 64, 13, output='multi_accdoa_stereo_av', rngs=nnx.Rngs(0)
      )
  )
  assert _num_params(model) == _num_params(baseline) == 2_064_348
  shapes = lambda m: sorted(
      x.shape for x in jax.tree.leaves(nnx.state(m, nnx.Param))
  )
  assert shapes(model) == shapes(baseline)


def test_parity_with_pytorch_no_transformer_variant():
  """ILD branch, SE blocks, MHSA and the concatenation fusion, vs torch."""
  torch.manual_seed(0)
  ref = _TorchASMA(
      transformer=False,
      conv=8,
      rnn=16,
      heads=2,
      nfreq=16,
      f_pool=(2, 2, 2),
      reduction=4,
  )
  g = torch.Generator().manual_seed(1)
  for m in ref.modules():
    if isinstance(m, nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
      m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
  ref.eval()
  model = asma.ASMASeld(
      2, 16, 13, use_transformer=False, rngs=nnx.Rngs(0), **_TINY
  )
  sd = {k: v.numpy() for k, v in ref.state_dict().items()}
  unused = set(torch_crnn.load_into(model, sd, strict=False))
  for block, i in zip(model.conv_blocks, (0, 3, 6)):
    for j, fc in ((0, block.se.fc1), (2, block.se.fc2)):
      key = f'conv_block_list.{i}.se.excitation.{j}.weight'
      _set(fc.kernel, sd[key].T)
      unused.remove(key)
  _set(
      model.phase_encoder.kernel,
      sd['phase_encoder.0.weight'].transpose(2, 3, 1, 0),
  )
  bn = model.phase_bn
  for ours, theirs in (
      (bn.scale, 'weight'),
      (bn.bias, 'bias'),
      (bn.mean, 'running_mean'),
      (bn.var, 'running_var'),
  ):
    _set(ours, sd[f'phase_encoder.1.{theirs}'])
  for ours, theirs in (
      (model.visual_embed, 'visual_embed_to_d_model'),
      (model.fusion_proj, 'fusion_projection'),
  ):
    _set(ours.kernel, sd[f'{theirs}.weight'].T)
    _set(ours.bias, sd[f'{theirs}.bias'])
  assert {k for k in unused if 'num_batches_tracked' not in k} == {
      'phase_encoder.0.weight',
      'phase_encoder.1.weight',
      'phase_encoder.1.bias',
      'phase_encoder.1.running_mean',
      'phase_encoder.1.running_var',
      'visual_embed_to_d_model.weight',
      'visual_embed_to_d_model.bias',
      'fusion_projection.weight',
      'fusion_projection.bias',
  }
  model.eval()

  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 2, 51, 16)).astype(np.float32) * 10 - 30  # dB
  x[:, 1] += rng.normal(size=(2, 51, 16)) * 6  # an ILD
  v = rng.normal(size=(2, 10, 7, 7)).astype(np.float32)
  with torch.no_grad():
    want = ref(torch.from_numpy(x), torch.from_numpy(v)).numpy()
  got = np.asarray(_forward(model, jnp.asarray(x), jnp.asarray(v)))
  assert got.shape == want.shape == (2, 10, 156)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_ild_and_squeeze_excitation():
  x = jnp.asarray(
      np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4)
  )
  ild = asma.interchannel_level_difference(x)
  assert ild.shape == (2, 1, 3, 4)
  np.testing.assert_array_equal(ild, x[:, :1] - x[:, 1:])
  np.testing.assert_array_equal(ild, -12.0)
  with pytest.raises(ValueError, match='stereo'):
    asma.interchannel_level_difference(x[:, :1])
  se = asma.SqueezeExcitation(8, 4, rngs=nnx.Rngs(0))
  se.fc2.kernel[...] = jnp.zeros_like(se.fc2.kernel[...])  # sigmoid(0)
  y = jnp.ones((1, 3, 5, 8))
  np.testing.assert_allclose(se(y), 0.5 * y)
  with pytest.raises(ValueError, match='stereo'):
    asma.ASMASeld(4, 64, 13, rngs=nnx.Rngs(0))


@pytest.mark.parametrize('variant', sorted(_VARIANTS))
def test_output_shapes_of_every_ablation(variant):
  kwargs = _VARIANTS[variant]
  model = nnx.eval_shape(
      lambda: asma.ASMASeld(2, 64, 13, rngs=nnx.Rngs(0), **kwargs)
  )
  x = jax.ShapeDtypeStruct((3, 2, 251, 64), jnp.float32)
  v = jax.ShapeDtypeStruct((3, 50, 7, 7), jnp.float32)
  if variant == 'audio_only':
    out = nnx.eval_shape(lambda m, x: m(x), model, x)
    assert out.shape == (3, 50, 117)
    with pytest.raises(ValueError, match='audio only'):
      nnx.eval_shape(lambda m, x, v: m(x, v), model, x, v)
  else:
    out = nnx.eval_shape(lambda m, x, v: m(x, v), model, x, v)
    assert out.shape == (3, 50, 156)


def test_outputs_ranges_and_the_visual_input():
  model = asma.ASMASeld(2, 16, 13, rngs=nnx.Rngs(0), **_TINY)
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, 2, 51, 16)) * 10
  v = jax.random.normal(jax.random.key(1), (2, 10, 49))
  y = _forward(model, x, v)
  e = np.asarray(y).reshape(2, 10, 3, 4, 13)
  assert np.abs(e[:, :, :, :2]).max() <= 1.0
  assert e[:, :, :, 2].min() >= 0.0
  assert e[:, :, :, 3].min() > 0.0 and e[:, :, :, 3].max() < 1.0
  assert not np.allclose(y, _forward(model, x, v + 1.0))  # the video matters
  assert not np.allclose(y, _forward(model, x[:, ::-1], v))  # and the ILD


def test_adam_steps_reduce_the_loss():
  model = asma.ASMASeld(
      2, 16, 13, dropout=0.0, decoder_dropout=0.0, rngs=nnx.Rngs(0), **_TINY
  )
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 51, 16)) * 10, jnp.float32)
  v = jnp.asarray(rng.normal(size=(2, 10, 49)), jnp.float32)
  target = np.zeros((2, 10, 6, 5, 13), np.float32)  # act, x, y, dist, onscreen
  target[:, :, 0, :, 1] = (1.0, 0.0, -1.0, 2.0, 1.0)
  target = jnp.asarray(target)
  values = model_steps.adam_losses(model, (x, v), target, losses.adpit_stereo)
  assert np.all(np.isfinite(values))
  assert np.all(np.diff(values) < 0)
  assert values[-1] < 0.85 * values[0]


@pytest.mark.parametrize('arg', asma_seld.VARIANTS)
def test_configs(arg):
  config = asma_seld.get_config(arg)
  assert config.dataset == 'dcase2025_stereo/stereo_video'
  assert config.normalize is False  # the ILD needs the dB values
  spec = train_step.feature_spec(config, None)
  shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
  assert shape == (2, 251, 64)
  model = nnx.eval_shape(lambda: train_step.create_model(config, shape))
  kwargs = _VARIANTS[arg]
  for name in ('use_phase', 'use_se', 'use_transformer', 'use_visual'):
    assert getattr(config.model_kwargs, name) == kwargs.get(name, True)
  feats = jax.ShapeDtypeStruct((1,) + shape, jnp.float32)
  if config.visual:
    assert config.visual == 'frames'
    assert model.visual_dim == 49  # ResNet-50 7x7 map, channel mean
    frames = jax.ShapeDtypeStruct(
        (1, 50) + tuple(config.model_kwargs.visual_size) + (3,), jnp.uint8
    )
    out = nnx.eval_shape(lambda m, x, v: m(x, v), model, feats, frames)
    assert out.shape == (1, 50, 156)
  else:
    out = nnx.eval_shape(lambda m, x: m(x), model, feats)
    assert out.shape == (1, 50, 117)


def test_cross_attention_window_keeps_the_video_of_other_frames_out():
  kwargs = dict(dropout=0.0, decoder_dropout=0.0, num_decoder_layers=1)
  kwargs.update(_TINY)
  local = asma.ASMASeld(
      2, 16, 13, cross_attention_window=0, rngs=nnx.Rngs(0), **kwargs
  )
  full = asma.ASMASeld(2, 16, 13, rngs=nnx.Rngs(0), **kwargs)
  assert _num_params(local) == _num_params(full)
  local.eval()
  full.eval()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 50, 16)) * 10, jnp.float32)
  v = rng.normal(size=(2, 10, 49)).astype(np.float32)
  other = v.copy()
  other[:, 4] += 3.0  # another video at output frame 4 only
  v, other = jnp.asarray(v), jnp.asarray(other)
  # With one decoder layer and window 0, frame t's output reads video
  # frame t only; the reference decoder mixes every frame of the window.
  changed = np.abs(np.asarray(local(x, other)) - np.asarray(local(x, v)))
  assert changed[:, 4].max() > 1e-3
  np.testing.assert_allclose(np.delete(changed, 4, axis=1), 0.0, atol=1e-6)
  changed = np.abs(np.asarray(full(x, other)) - np.asarray(full(x, v)))
  assert np.delete(changed, 4, axis=1).max() > 1e-4
  for bad in (dict(use_transformer=False), dict(use_visual=False)):
    with pytest.raises(ValueError, match='decoder fusion'):
      asma.ASMASeld(
          2, 16, 13, cross_attention_window=1, rngs=nnx.Rngs(0), **bad
      )
  with pytest.raises(ValueError, match='>= 0'):
    asma.ASMASeld(2, 16, 13, cross_attention_window=-1, rngs=nnx.Rngs(0))


def test_decoder_norm_first_builds_pre_norm_layers_of_the_same_size():
  kwargs = dict(dropout=0.0, decoder_dropout=0.0, **_TINY)
  post = asma.ASMASeld(2, 16, 13, rngs=nnx.Rngs(0), **kwargs)
  pre = asma.ASMASeld(
      2, 16, 13, decoder_norm_first=True, rngs=nnx.Rngs(0), **kwargs
  )
  assert _num_params(pre) == _num_params(post)
  assert [layer.norm_first for layer in pre.decoder_layers] == [True, True]
  assert [layer.norm_first for layer in post.decoder_layers] == [False, False]
  pre.eval()
  post.eval()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 50, 16)) * 10, jnp.float32)
  v = jnp.asarray(rng.normal(size=(2, 10, 49)), jnp.float32)
  # Same initial parameters, other arithmetic: the outputs differ, and the
  # audio path before the fusion is the same.
  assert np.abs(np.asarray(pre(x, v)) - np.asarray(post(x, v))).max() > 1e-3
  np.testing.assert_array_equal(pre.embed(x), post.embed(x))
  for bad in (dict(use_transformer=False), dict(use_visual=False)):
    with pytest.raises(ValueError, match='decoder_norm_first needs'):
      asma.ASMASeld(2, 16, 13, decoder_norm_first=True, rngs=nnx.Rngs(0), **bad)


def test_visual_dropout_shows_some_examples_no_video_in_training():
  kwargs = dict(dropout=0.0, decoder_dropout=0.0, **_TINY)
  model = asma.ASMASeld(
      2, 16, 13, visual_dropout=0.5, rngs=nnx.Rngs(0), **kwargs
  )
  assert _num_params(model) == _num_params(
      asma.ASMASeld(2, 16, 13, rngs=nnx.Rngs(0), **kwargs)
  )
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(16, 2, 51, 16)) * 10, jnp.float32)
  v = jnp.asarray(rng.normal(size=(16, 10, 49)), jnp.float32)
  model_steps.check_visual_dropout(model, x, v)
  with pytest.raises(ValueError, match='use_visual'):
    asma.ASMASeld(
        2,
        16,
        13,
        use_visual=False,
        visual_dropout=0.5,
        rngs=nnx.Rngs(0),
        **_TINY,
    )


def test_zero_visual_embed_starts_as_the_blind_control():
  kwargs = dict(dropout=0.0, decoder_dropout=0.0, **_TINY)
  blind = asma.ASMASeld(2, 16, 13, blind=True, rngs=nnx.Rngs(0), **kwargs)
  model = asma.ASMASeld(
      2, 16, 13, zero_visual_embed=True, rngs=nnx.Rngs(1), **kwargs
  )
  assert _num_params(model) == _num_params(blind)
  kernel = np.asarray(model.visual_embed.kernel[...])
  assert kernel.shape == (49, 16) and not kernel.any()
  assert np.abs(np.asarray(model.visual_embed.bias[...])).max() > 0
  # Everything but the zero kernel from the blind control (a two-stage
  # start with config.init_skip=('visual_embed.kernel',)).
  state = nnx.state(blind)
  state['visual_embed']['kernel'] = nnx.state(model)['visual_embed']['kernel']
  nnx.update(model, state)
  blind.eval()
  model.eval()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 2, 51, 16)) * 10, jnp.float32)
  v = jnp.asarray(rng.normal(size=(2, 10, 49)), jnp.float32)
  np.testing.assert_array_equal(
      np.asarray(model(x, v)), np.asarray(blind(x, v))
  )
  # The video reaches the kernel's gradient, so training moves it.
  grads = nnx.grad(lambda m: jnp.sum(m(x, v) ** 2))(model)
  assert np.abs(np.asarray(grads['visual_embed']['kernel'][...])).max() > 0
  with pytest.raises(ValueError, match='use_visual'):
    asma.ASMASeld(
        2,
        16,
        13,
        use_visual=False,
        zero_visual_embed=True,
        rngs=nnx.Rngs(0),
        **_TINY,
    )

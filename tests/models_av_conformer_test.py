"""Tests for AV-Conformer / CMAF (models.av_conformer).

The reference is dberghi/AV-SELD (`models/AV_SELD_model.py`,
`models/audio_encoder.py`, `models/CMAF.py`). Its residual conv block and
CMAF layer are rebuilt here in PyTorch for output parity; the full-size
parameter counts are taken from PyTorch modules laid out as the reference
(torchaudio's Conformer layer rebuilt from its modules: torchaudio is not
installed).
"""

import functools

from flax import nnx
import jax
import jax.numpy as jnp
import model_steps
import numpy as np
import pytest
import torch
from torch import nn

from configs import av_conformer_synthetic
from seld_jax import losses
from seld_jax import train_step
from seld_jax.models import av_conformer

_TINY = dict(
    audio_channels=(4, 8),
    t_pool=(5, 1),
    f_pool=(2, 2),
    audio_layers=1,
    visual_width=8,
    fusion_layers=1,
    num_heads=2,
    ffn_dim=16,
    kernel_size=3,
    fnn_size=8,
    dropout=0.0,
)


@functools.cache
def _tiny_model(fusion):
  """One tiny model per fusion for the whole file (building compiles)."""
  return av_conformer.AVConformer(
      7, 16, 13, fusion=fusion, visual_dim=32, rngs=nnx.Rngs(0), **_TINY
  )


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _set(variable, value):
  value = np.asarray(value)
  assert tuple(variable[...].shape) == value.shape
  variable[...] = jnp.asarray(value, variable[...].dtype)


# The reference in PyTorch
# -----------------------------------------------------------------------------


class _TorchResBlock(nn.Module):
  """audio_encoder.ConvBlock (avg pool 2x2, stride-2 1x1 shortcut)."""

  def __init__(self, cin, cout):
    super().__init__()
    self.downsample_res1x1 = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
    self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
    self.bn_res = nn.BatchNorm2d(cout)
    self.bn1 = nn.BatchNorm2d(cout)
    self.bn2 = nn.BatchNorm2d(cout)

  def forward(self, x):
    residual = self.bn_res(self.downsample_res1x1(x))
    x = torch.relu(self.bn1(self.conv1(x)))
    x = torch.relu(self.bn2(self.conv2(x)))
    return nn.functional.avg_pool2d(x, 2) + residual


def _torch_conformer_layer(d, ffn, k=51, heads=8):
  """torchaudio ConformerLayer's modules (for counting)."""

  def feed_forward():
    return nn.Sequential(
        nn.LayerNorm(d), nn.Linear(d, ffn), nn.SiLU(), nn.Linear(ffn, d)
    )

  return nn.ModuleList([
      feed_forward(),
      nn.LayerNorm(d),
      nn.MultiheadAttention(d, heads),
      nn.LayerNorm(d),
      nn.Conv1d(d, 2 * d, 1),
      nn.Conv1d(d, d, k, groups=d),
      nn.BatchNorm1d(d),
      nn.Conv1d(d, d, 1),
      feed_forward(),
      nn.LayerNorm(d),
  ])


class _TorchCMAF(nn.Module):
  """CMAF.CMAF_Layer with its PositionalEncoding."""

  def __init__(self, d, heads):
    super().__init__()
    self.MHSA = nn.MultiheadAttention(d, heads, dropout=0.1, batch_first=True)
    self.MHCA = nn.MultiheadAttention(d, heads, dropout=0.1, batch_first=True)
    self.linear1 = nn.Linear(d, 4 * d)
    self.linear2 = nn.Linear(4 * d, d)
    self.norm1 = nn.LayerNorm(d)
    self.norm2 = nn.LayerNorm(d)
    pos = torch.arange(200).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2) * (-np.log(10000.0) / d))
    pe = torch.zeros(200, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    self.register_buffer('pe', pe)

  def forward(self, alpha, beta):
    alpha = alpha + self.pe[: alpha.shape[1]]
    beta = beta + self.pe[: beta.shape[1]]
    x_sa, _ = self.MHSA(alpha, alpha, alpha)
    x_ca, _ = self.MHCA(alpha, beta, beta)
    x = self.norm1(alpha + x_sa + x_ca)
    return self.norm2(x + self.linear2(torch.relu(self.linear1(x))))


def _torch_reference_count(fusion, visual_dim):
  """Trainable parameters of AudioVisualConf / AudioVisualCMAF."""
  with torch.device('meta'):
    parts = [
        _TorchResBlock(7, 64),
        _TorchResBlock(64, 128),
        _TorchResBlock(128, 256),
        _TorchResBlock(256, 512),
        *[_torch_conformer_layer(512, 1024) for _ in range(4)],  # encoder
        nn.LayerNorm(512),  # norm_audio
        nn.Linear(visual_dim, 512),
        nn.LayerNorm(512),  # fc/norm_visual
        nn.Linear(1024, 128),
        nn.Linear(128, 117),  # AVfnn_list
    ]
    if fusion == 'conformer':
      parts += [_torch_conformer_layer(1024, 1024) for _ in range(4)]
    else:
      parts += [_TorchCMAF(512, 8) for _ in range(8)]  # 4 A2V + 4 V2A
  return sum(p.numel() for m in parts for p in m.parameters())


def _load_attention(att, sd, p):
  e, h = att.in_features, att.num_heads
  w, b = sd[f'{p}.in_proj_weight'], sd[f'{p}.in_proj_bias']
  for j, proj in enumerate((att.query, att.key, att.value)):
    _set(proj.kernel, w[j * e : (j + 1) * e].T.reshape(e, h, e // h))
    _set(proj.bias, b[j * e : (j + 1) * e].reshape(h, e // h))
  _set(att.out.kernel, sd[f'{p}.out_proj.weight'].T.reshape(h, e // h, e))
  _set(att.out.bias, sd[f'{p}.out_proj.bias'])


# Tests
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'fusion,visual_dim,count',
    [
        ('conformer', 4096, 69_440_885),  # AV-Conformer, ResNet-50
        ('cmaf', 2048, 55_571_829),  # CMAF, I3D
    ],
)
def test_parameter_counts_equal_the_reference(fusion, visual_dim, count):
  model = nnx.eval_shape(
      lambda: av_conformer.AVConformer(
          7, 128, 13, fusion=fusion, visual_dim=visual_dim, rngs=nnx.Rngs(0)
      )
  )
  assert _num_params(model) == count
  assert _torch_reference_count(fusion, visual_dim) == count
  # The audio encoder alone: CNN 4,864,000 + 4 Conformer layers of 3,971,584.
  assert _num_params(model.audio_encoder) == 20_750_336


def test_residual_block_matches_torch():
  torch.manual_seed(0)
  ref = _TorchResBlock(3, 6)
  g = torch.Generator().manual_seed(1)
  for m in ref.modules():
    if isinstance(m, nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(6, generator=g) * 0.1)
      m.running_var.copy_(torch.rand(6, generator=g) + 0.5)
      m.weight.data.copy_(torch.rand(6, generator=g) + 0.5)
  ref.eval()
  block = av_conformer.ResidualPoolBlock(3, 6, (2, 2), rngs=nnx.Rngs(0))
  sd = {k: v.numpy() for k, v in ref.state_dict().items()}
  for ours, theirs in (
      (block.shortcut, 'downsample_res1x1'),
      (block.conv1, 'conv1'),
      (block.conv2, 'conv2'),
  ):
    _set(ours.kernel, sd[f'{theirs}.weight'].transpose(2, 3, 1, 0))
  for ours, theirs in (
      (block.shortcut_bn, 'bn_res'),
      (block.bn1, 'bn1'),
      (block.bn2, 'bn2'),
  ):
    _set(ours.scale, sd[f'{theirs}.weight'])
    _set(ours.bias, sd[f'{theirs}.bias'])
    _set(ours.mean, sd[f'{theirs}.running_mean'])
    _set(ours.var, sd[f'{theirs}.running_var'])
  block.eval()
  x = np.random.default_rng(0).normal(size=(2, 3, 8, 10)).astype(np.float32)
  with torch.no_grad():
    want = ref(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
  got = block(jnp.asarray(x.transpose(0, 2, 3, 1)))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  # Odd sizes: the strided shortcut is cropped to the pooled map.
  odd = av_conformer.ResidualPoolBlock(3, 6, (5, 2), rngs=nnx.Rngs(0))
  assert odd(jnp.ones((1, 11, 7, 3))).shape == (1, 2, 3, 6)


def test_cmaf_layer_matches_torch():
  torch.manual_seed(0)
  ref = _TorchCMAF(16, 4).eval()
  layer = av_conformer.CMAFLayer(16, 4, 4, 0.1, rngs=nnx.Rngs(0))
  sd = {k: v.numpy() for k, v in ref.state_dict().items()}
  _load_attention(layer.self_attn, sd, 'MHSA')
  _load_attention(layer.cross_attn, sd, 'MHCA')
  for name in ('linear1', 'linear2'):
    _set(getattr(layer, name).kernel, sd[f'{name}.weight'].T)
    _set(getattr(layer, name).bias, sd[f'{name}.bias'])
  for name in ('norm1', 'norm2'):
    _set(getattr(layer, name).scale, sd[f'{name}.weight'])
    _set(getattr(layer, name).bias, sd[f'{name}.bias'])
  layer.eval()
  rng = np.random.default_rng(1)
  a = rng.normal(size=(2, 6, 16)).astype(np.float32)
  v = rng.normal(size=(2, 6, 16)).astype(np.float32)
  with torch.no_grad():
    want = ref(torch.from_numpy(a), torch.from_numpy(v)).numpy()
  np.testing.assert_allclose(
      layer(jnp.asarray(a), jnp.asarray(v)), want, atol=1e-5, rtol=0
  )


@nnx.jit
def _forward(model, x, v):
  return model(x, v)


@pytest.mark.parametrize('fusion', ['conformer', 'cmaf'])
def test_fusion_shapes_ranges_and_the_visual_input(fusion):
  model = _tiny_model(fusion)
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, 7, 50, 16))
  v = jax.random.normal(jax.random.key(1), (2, 10, 32))
  y = _forward(model, x, v)
  assert y.shape == (2, 10, 117)
  assert float(jnp.max(jnp.abs(y))) <= 1.0  # tanh
  assert not np.allclose(y, _forward(model, x, v * 2.0))  # the video matters
  with pytest.raises(ValueError, match='needs the visual input'):
    model(x)


def test_audio_only_and_configuration_errors():
  model = nnx.eval_shape(
      lambda: av_conformer.AVConformer(
          7,
          16,
          13,
          output='multi_accdoa_distance',
          fusion='none',
          rngs=nnx.Rngs(0),
          **_TINY,
      )
  )
  assert not hasattr(model, 'visual_proj')
  x = jax.ShapeDtypeStruct((2, 7, 50, 16), jnp.float32)
  assert nnx.eval_shape(lambda m, x: m(x), model, x).shape == (2, 10, 156)
  with pytest.raises(ValueError, match='audio only'):
    model(jnp.zeros(x.shape), jnp.zeros((2, 10, 32)))
  with pytest.raises(ValueError, match='visual_width'):
    av_conformer.AVConformer(
        7,
        16,
        13,
        fusion='cmaf',
        rngs=nnx.Rngs(0),
        **dict(_TINY, visual_width=4),
    )
  with pytest.raises(ValueError, match='fusion must be'):
    av_conformer.AVConformer(7, 16, 13, fusion='late', rngs=nnx.Rngs(0))


def test_raw_frames_through_a_visual_frontend():
  model = nnx.eval_shape(
      lambda: av_conformer.AVConformer(
          7,
          16,
          13,
          fusion='cmaf',
          visual_frontend=dict(
              name='small_cnn', pooling='avg', channels=(4, 6)
          ),
          visual_size=(16, 32),
          rngs=nnx.Rngs(0),
          **_TINY,
      )
  )
  assert model.visual_dim == 6 and model.visual_proj.in_features == 6
  x = jax.ShapeDtypeStruct((2, 7, 50, 16), jnp.float32)
  frames = jax.ShapeDtypeStruct((2, 10, 16, 32, 3), jnp.uint8)
  out = nnx.eval_shape(lambda m, x, v: m(x, v), model, x, frames)
  assert out.shape == (2, 10, 117)
  # The front end's embeddings (float) are taken as they are.
  emb = jax.ShapeDtypeStruct((2, 10, 6), jnp.float32)
  assert nnx.eval_shape(lambda m, x, v: m(x, v), model, x, emb).shape == (
      2,
      10,
      117,
  )


def test_adam_steps_reduce_the_av_conformer_loss():
  model = _tiny_model('conformer')
  model.train()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(4, 7, 50, 16)), jnp.float32)
  v = jnp.asarray(rng.normal(size=(4, 10, 32)), jnp.float32)
  target = np.zeros((4, 10, 6, 4, 13), np.float32)
  target[:, :, 0, :, 5] = (1.0, 0.0, 0.6, 0.8)
  target = jnp.asarray(target)
  values = model_steps.adam_losses(model, (x, v), target, losses.adpit)
  assert np.all(np.isfinite(values))
  assert np.all(np.diff(values) < 0)
  assert values[-1] < 0.8 * values[0]


@pytest.mark.parametrize('arg', av_conformer_synthetic.VARIANTS)
def test_configs_output_label_frames(arg):
  config = av_conformer_synthetic.get_config(arg)
  spec = train_step.feature_spec(config, None)
  shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
  model = nnx.eval_shape(lambda: train_step.create_model(config, shape))
  model.eval()
  feats = jax.ShapeDtypeStruct((1,) + shape, jnp.float32)
  num_frames = int(round(config.window_seconds * config.label_rate))
  if config.visual:
    frames = jax.ShapeDtypeStruct(
        (1, num_frames) + tuple(config.model_kwargs.visual_size) + (3,),
        jnp.uint8,
    )
    out = nnx.eval_shape(lambda m, x, v: m(x, v), model, feats, frames)
  else:
    out = nnx.eval_shape(lambda m, x: m(x), model, feats)
  assert out.shape == (1, num_frames, 117)
  fusion = arg.removesuffix('_cpu').removesuffix('_blind')
  assert model.fusion == ('none' if fusion == 'audio_only' else fusion)
  assert model.blind == ('_blind' in arg)
  assert (num_frames == 20) == arg.endswith('_cpu')


def _config_num_params(arg):
  config = av_conformer_synthetic.get_config(arg)
  shape = train_step.feature_spec(config, None).shape(
      int(round(config.window_seconds * config.sample_rate))
  )
  return _num_params(
      nnx.eval_shape(lambda: train_step.create_model(config, shape))
  )


def test_cpu_configs_sizes_and_blind_controls_match():
  # The blind controls have exactly the AV model's parameters; the CPU
  # widths shrink every model.
  sizes = {
      arg: _config_num_params(arg)
      for arg in (
          'conformer_cpu',
          'conformer_blind_cpu',
          'cmaf_cpu',
          'cmaf_blind_cpu',
          'audio_only_cpu',
          'conformer',
      )
  }
  assert sizes['conformer_cpu'] == sizes['conformer_blind_cpu']
  assert sizes['cmaf_cpu'] == sizes['cmaf_blind_cpu']
  assert sizes['audio_only_cpu'] < sizes['cmaf_cpu'] < sizes['conformer_cpu']
  assert sizes['conformer_cpu'] < sizes['conformer'] // 20


def test_blind_model_ignores_the_video():
  model = av_conformer.AVConformer(
      7,
      16,
      13,
      fusion='cmaf',
      visual_dim=32,
      blind=True,
      rngs=nnx.Rngs(0),
      **_TINY,
  )
  model.eval()
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 7, 50, 16)), jnp.float32)
  v1 = jnp.asarray(rng.normal(size=(2, 10, 32)), jnp.float32)
  v2 = jnp.asarray(rng.normal(size=(2, 10, 32)), jnp.float32)
  np.testing.assert_array_equal(model(x, v1), model(x, v2))
  with pytest.raises(ValueError, match='blind needs a fusion'):
    av_conformer.AVConformer(fusion='none', blind=True, rngs=nnx.Rngs(0))

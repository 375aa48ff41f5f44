"""Tests for SELDnet (seld_jax.models.seldnet)."""

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import seldnet_synthetic
from configs import seldnet_tut2018
from configs import test as test_config
from seld_jax import sharding
from seld_jax import train_step
from seld_jax.models import seldnet


def _num_params(model):
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_parameter_count_from_the_layer_shapes():
  # TUT 2018 Ambisonic: 4 audio channels -> 8 magnitude/phase channels, 512
  # bins pooled 8 x 8 x 2 -> 4, so the GRU reads 64 * 4 = 256 features.
  model = seldnet.SELDnet(8, 512, 11, rngs=nnx.Rngs(0))
  conv = (8 * 9 + 1) * 64 + 2 * (64 * 9 + 1) * 64
  bn = 3 * 2 * 64
  # torch-style GRU per direction: 3H x (I + H) weights + 2 x 3H biases.
  gru = 2 * (3 * 64 * (256 + 64) + 6 * 64) + 2 * (3 * 64 * (64 + 64) + 6 * 64)
  heads = (64 * 128 + 128) * 2 + (128 * 11 + 11) + (128 * 33 + 33)
  assert _num_params(model) == conv + bn + gru + heads == 274_796


@pytest.mark.parametrize(
    't_pool,frames,out_frames', [((1, 1, 1), 64, 64), ((5, 1, 1), 50, 10)]
)
def test_shapes_and_ranges(t_pool, frames, out_frames):
  model = seldnet.SELDnet(
      8,
      64,
      11,
      conv_channels=4,
      t_pool=t_pool,
      f_pool=(4, 4, 2),
      rnn_size=8,
      fnn_size=8,
      rngs=nnx.Rngs(0),
  )
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, 8, frames, 64)) * 3
  out = model(x)
  assert out['sed'].shape == (2, out_frames, 11)
  assert out['doa'].shape == (2, out_frames, 33)
  assert float(jnp.max(jnp.abs(out['doa']))) <= 1.0
  assert model.output_frames(frames) == out_frames


def test_configs_give_label_rate_outputs():
  for config, frames in (
      (seldnet_tut2018.get_config(), 512),
      (seldnet_synthetic.get_config(), 50),
  ):
    spec = train_step.feature_spec(config, None)
    shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
    model = train_step.create_model(config, shape)
    assert model.output_frames(shape[1]) == frames
    assert round(config.window_seconds * config.label_rate) == frames


def test_rejects_other_targets():
  with pytest.raises(ValueError, match='sed_doa'):
    seldnet.SELDnet(output='multi_accdoa', rngs=nnx.Rngs(0))


def test_training_steps_reduce_the_loss():
  config = test_config.get_config()
  config.features = 'magnitude_phase'
  config.feature_params.n_fft = 512
  config.feature_params.hop_length = 480
  config.feature_params.win_length = 480
  config.model = 'seldnet'
  config.target = 'sed_doa'
  config.model_kwargs = ml_collections.ConfigDict(
      dict(
          conv_channels=4,
          f_pool=(4, 4, 2),
          t_pool=(5, 1, 1),
          rnn_size=8,
          fnn_size=8,
      )
  )
  config.loss_options.doa_weight = 5.0
  mesh = sharding.make_mesh()
  run = train_step.setup(config, mesh)
  rng = np.random.default_rng(0)
  sed = np.zeros((8, 10, 13), np.float32)
  sed[:, :, 3] = 1.0
  doa = np.zeros((8, 10, 39), np.float32)
  doa[:, :, 3] = 1.0  # x of class 3
  batch = {
      'audio': rng.normal(scale=0.1, size=(8, 4, 24000)).astype(np.float32),
      'target': {'sed': sed, 'doa': doa},
      'mask': np.ones((8,), np.float32),
  }
  batch = sharding.to_global(batch, mesh)
  state = run.state
  losses = []
  for _ in range(6):
    state, metrics = run.train_step(state, batch)
    losses.append(float(metrics['loss']))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0]
  out = run.eval_step(state, batch)
  assert out['output'].shape == (8, 10, 13 + 39)

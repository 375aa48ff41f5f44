"""Tests for the general SED/DOA/alignment model (seld_jax.models.general)."""

from flax import nnx
import jax
import ml_collections
import numpy as np
import pytest

from configs import general_synthetic
from configs import general_tau2020
from configs import test as test_config
from seld_jax import sharding
from seld_jax import train_step
from seld_jax.models import general

_TINY = dict(
    sed_widths=(4, 4, 8),
    doa_widths=(4, 8),
    rnn_size=8,
    rnn_layers=1,
    align_size=8,
    dropout=0.0,
)


@pytest.mark.parametrize(
    'output,expected',
    [('sed_doa', None), ('multi_accdoa', 117), ('multi_accdoa_distance', 156)],
)
def test_shapes(output, expected):
  model = general.GeneralSELD(
      7, 16, 13, output=output, rngs=nnx.Rngs(0), **_TINY
  )
  model.eval()
  out = model(np.ones((2, 7, 50, 16), np.float32))
  if expected is None:
    assert out['sed'].shape == (2, 10, 13)
    assert out['doa'].shape == (2, 10, 39)
    assert model.alignment is None
  else:
    assert out.shape == (2, 10, expected)


def test_configs():
  for config, frames in (
      (general_synthetic.get_config('sed'), 50),
      (general_tau2020.get_config('align'), 60),
  ):
    spec = train_step.feature_spec(config, None)
    shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
    model = train_step.create_model(config, shape)
    assert model.output_frames(shape[1]) == frames
  doa = general_synthetic.get_config('doa')
  assert doa.freeze == ('sed_module',) and doa.target == 'sed_doa'
  assert doa.init_from == 'runs/general_synthetic_sed'
  align = general_synthetic.get_config('align')
  assert align.freeze == ('sed_module', 'doa_module')
  assert align.target == 'multi_accdoa'
  assert not general_synthetic.get_config('finetune').freeze


def test_bad_arguments():
  with pytest.raises(ValueError, match='frozen'):
    general.GeneralSELD(frozen=('alignment',), rngs=nnx.Rngs(0), **_TINY)
  with pytest.raises(ValueError, match='sed_channels'):
    general.GeneralSELD(sed_channels=(4, 9), rngs=nnx.Rngs(0), **_TINY)


def test_alignment_stage_trains_with_frozen_modules():
  config = test_config.get_config()
  config.feature_params.num_mels = 16
  config.model = 'general'
  config.model_kwargs = ml_collections.ConfigDict(
      dict(_TINY, time_pool=5, frozen=())
  )
  config.run_name = 'tiny'
  config = general_synthetic.apply_stage(config, 'align', 'multi_accdoa')
  config.init_from = None  # not from a run here
  mesh = sharding.make_mesh()
  run = train_step.setup(config, mesh)
  rng = np.random.default_rng(0)
  target = np.zeros((8, 10, 6, 4, 13), np.float32)
  target[:, :, 0, 0, 3] = 1.0
  target[:, :, 0, 2, 3] = 1.0
  batch = {
      'audio': rng.normal(scale=0.1, size=(8, 4, 24000)).astype(np.float32),
      'target': target,
      'mask': np.ones((8,), np.float32),
  }
  batch = sharding.to_global(batch, mesh)

  def flat(tree):
    return {
        train_step.param_path(p): np.asarray(v)
        for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]
        if jax.numpy.issubdtype(v.dtype, jax.numpy.floating)
    }

  start = {**flat(run.state.params), **flat(run.state.rest)}
  state = run.state
  losses = []
  for _ in range(6):
    state, metrics = run.train_step(state, batch)
    losses.append(float(metrics['loss']))
  assert losses[-1] < losses[0]
  end = {**flat(state.params), **flat(state.rest)}
  for k, v in start.items():
    if k.startswith(('sed_module.', 'doa_module.')):
      np.testing.assert_array_equal(v, end[k], err_msg=k)
  assert not np.array_equal(start['head.kernel'], end['head.kernel'])

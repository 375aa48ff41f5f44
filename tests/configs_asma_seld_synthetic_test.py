# Copyright 2026 The seld_jax Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""configs/asma_seld_synthetic.py: the variants, and a tiny end-to-end run.

The run trains ASMA-SELD (tiny widths, small-CNN front end on the
perspective frames) on a tiny synthetic_seld 'stereo_video' dataset (3 train
+ 2 test scenes of 3 s), evaluates with the DCASE2025 metric and checks the
prediction CSVs are in the DCASE2025 format.
"""

import json

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import asma_seld_synthetic
from seld_jax import augment
from seld_jax import formats
from seld_jax import train
from seld_jax import train_step
from seld_jax.testing import tiny_runs

DATASET = 'synthetic_seld/stereo_video_tiny'


def _num_params(model) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _model(config):
  spec = train_step.feature_spec(config, None)
  shape = spec.shape(int(round(config.window_seconds * config.sample_rate)))
  assert shape == (2, 61, 64)  # 1.2-s windows
  return shape, nnx.eval_shape(lambda: train_step.create_model(config, shape))


@pytest.mark.parametrize(
    'arg, count',
    [
        ('full', 2_208_984),
        ('no_phase', 2_206_636),
        ('no_se', 2_205_912),
        ('no_transformer', 923_224),
        ('audio_only', 739_681),
        ('blind', 2_208_984),
    ],
)
def test_variants(arg, count):
  config = asma_seld_synthetic.get_config(arg)
  assert config.dataset == 'synthetic_seld/stereo_video'
  assert config.metric == 'dcase2025' and config.normalize is False
  assert (config.batch_size, config.learning_rate) == (32, 1.5e-3)
  assert (config.window_seconds, config.eval_hop_seconds) == (1.2, 0.6)
  assert config.num_train_steps == 2000 and config.optimizer == 'adam'
  shape, model = _model(config)
  assert _num_params(model) == count
  feats = jax.ShapeDtypeStruct((1,) + shape, jnp.float32)
  if arg == 'audio_only':
    assert config.visual == '' and config.target == 'multi_accdoa_stereo'
    assert nnx.eval_shape(lambda m, x: m(x), model, feats).shape == (1, 12, 117)
    return
  assert config.visual == 'frames'
  assert config.target == 'multi_accdoa_stereo_av'
  assert tuple(config.model_kwargs.visual_size) == (72, 128)
  assert config.freeze == ()  # the small CNN is trained
  assert model.blind == (arg == 'blind')
  assert config.model_kwargs.zero_visual_embed is False  # reference init
  if arg == 'no_transformer':
    assert 'decoder_norm_first' not in config.model_kwargs
  else:  # pre-norm decoder layers, where the reference's are post-norm
    assert config.model_kwargs.decoder_norm_first is True
    assert [layer.norm_first for layer in model.decoder_layers] == [True] * 2
  # Every augmentation field present (settable from the command line), off.
  assert config.augment.to_dict() == augment.default_config().to_dict()
  assert augment.build(config) == (None, None)
  frames = jax.ShapeDtypeStruct((1, 12, 72, 128, 3), jnp.uint8)
  out = nnx.eval_shape(lambda m, x, v: m(x, v), model, feats, frames)
  assert out.shape == (1, 12, 156)


def test_reference_post_norm_decoder_is_one_flag_away():
  config = asma_seld_synthetic.get_config('full')
  config.model_kwargs.decoder_norm_first = False  # the reference's layers
  _, model = _model(config)
  assert [layer.norm_first for layer in model.decoder_layers] == [False] * 2
  assert _num_params(model) == 2_208_984  # same parameters either way


def test_unknown_variant():
  with pytest.raises(ValueError, match='blind'):
    asma_seld_synthetic.get_config('nope')


def test_blind_model_ignores_the_video():
  config = asma_seld_synthetic.get_config('blind')
  config.model_kwargs.update(conv_channels=4, rnn_size=8, decoder_ffn_dim=8)
  config.model_kwargs.update(num_heads=2, decoder_heads=2, fnn_size=8)
  model = train_step.create_model(config, (2, 251, 64))
  model.eval()
  x = jax.random.normal(jax.random.key(0), (1, 2, 251, 64))
  frames = jax.random.randint(jax.random.key(1), (1, 50, 72, 128, 3), 0, 255)
  frames = frames.astype(jnp.uint8)
  a = model(x, frames)
  b = model(x, jnp.zeros_like(frames))
  np.testing.assert_array_equal(a, b)
  model.blind = False
  assert np.abs(model(x, frames) - model(x, jnp.zeros_like(frames))).max() > 0


@pytest.fixture(scope='module')
def data_dir(stereo_video_tiny_dir):
  return stereo_video_tiny_dir  # conftest: built once for the session


def test_train_and_evaluate(data_dir, tmp_path):
  config = tiny_runs.shrink_av_run(
      asma_seld_synthetic.get_config('full'), data_dir, dataset=DATASET
  )
  workdir = tmp_path / 'run'
  result = train.train_and_evaluate(config, workdir)
  assert result['metric'] == 'dcase2025' and result['files'] == 2
  for key in ('F', 'DOAE', 'RDE', 'onscreen_acc'):
    assert key in result
  saved = json.loads((workdir / 'config.json').read_text())
  assert saved['visual_frame_shape'] == [72, 128, 3]
  preds = sorted((workdir / 'eval' / 'test' / 'pred').glob('*.csv'))
  assert len(preds) == 2
  header = preds[0].read_text().splitlines()[0]
  assert header == 'frame,class,source,azimuth,distance,onscreen'
  table = formats.read_metadata(preds[0], 'dcase2025')
  # atan2(y, x) as the official writer: an untrained model may point back.
  assert len(table) and np.all(np.abs(table.azimuth) <= 180.0)
  assert set(np.unique(table.onscreen)) <= {0, 1}

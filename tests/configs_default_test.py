"""Tests for configs/default.py: the default, 5-s and audio-visual recipes."""

import jax
import jax.numpy as jnp
import optax

from configs import default
from seld_jax import train_step


def test_default_recipe_uses_muon_on_the_weight_matrices():
  config = default.get_config()
  assert config.optimizer == 'muon'
  assert (config.batch_size, config.window_seconds) == (32, 1.2)
  assert config.num_train_steps == 3700
  _, state, tx = train_step.create_train_state(config, (7, 60, 64))
  specs = train_step.muon_dimension_numbers(
      state.params, config.muon_exclude, strict=True
  )
  is_spec = lambda x: isinstance(x, optax.contrib.MuonDimensionNumbers)
  leaves = jax.tree_util.tree_leaves(
      specs, is_leaf=lambda x: x is None or is_spec(x)
  )
  # 3 conv kernels, 2 x 4 attention kernels and the hidden dense layer.
  assert sum(is_spec(x) for x in leaves) == 12
  updates, _ = tx.update(
      jax.tree.map(jnp.ones_like, state.params), state.opt_state, state.params
  )
  assert all(
      bool(jnp.all(jnp.isfinite(u))) for u in jax.tree_util.tree_leaves(updates)
  )


def test_five_second_recipe_keeps_adam():
  config = default.five_second_config()
  assert config.optimizer == 'adam'
  assert (config.batch_size, config.window_seconds) == (8, 5.0)
  assert config.learning_rate == 2e-3


def test_short_window_adam_recipe_takes_the_default_shape_with_adam():
  config = default.short_window_adam_recipe(
      default.five_second_config(), learning_rate=1e-3
  )
  assert config.optimizer == 'adam'  # the config's, not the default's Muon
  assert (config.batch_size, config.window_seconds) == (32, 1.2)
  assert (config.eval_batch_size, config.eval_hop_seconds) == (32, 0.6)
  assert (config.schedule, config.warmup_steps) == ('cosine', 200)
  assert config.learning_rate == 1e-3
  assert config.num_train_steps == 2000
  assert config.eval_every_steps == config.checkpoint_every_steps == 1000

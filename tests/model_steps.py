"""Model-test helpers: a few jitted Adam steps ("training reduces the loss")
and the visual-dropout check."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax


def adam_losses(model, inputs, target, loss_fn, steps=8, learning_rate=3e-3):
  """The losses of `steps` Adam steps of `loss_fn(model(*inputs), target)`."""
  graph, params, rest = nnx.split(model, nnx.Param, ...)
  tx = optax.adam(learning_rate)
  opt = tx.init(params)

  @jax.jit
  def step(params, rest, opt):
    def loss(p):
      m = nnx.merge(graph, p, rest, copy=True)
      value = loss_fn(m(*inputs), target)
      _, _, new_rest = nnx.split(m, nnx.Param, ...)
      return value, new_rest

    (value, rest), grads = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), rest, opt, value

  out = []
  for _ in range(steps):
    params, rest, opt, value = step(params, rest, opt)
    out.append(float(value))
  return out


def check_visual_dropout(model, x, v):
  """`model` (built with visual_dropout) blanks the video of some examples.

  In training each example's output is either its output with the video or
  its output with the video zeroed, and both kinds occur in the batch; in
  evaluation every example sees the video, deterministically.
  """
  model.train()
  y = np.asarray(model(x, v))
  model.modality_dropout.dropout.deterministic = True
  with_video = np.asarray(model(x, v))
  without = np.asarray(model(x, jnp.zeros_like(v)))
  seen = np.array([np.allclose(a, b) for a, b in zip(y, with_video)])
  blind = np.array([np.allclose(a, b) for a, b in zip(y, without)])
  assert np.all(seen != blind)  # each example either sees or lacks the video
  assert 0 < blind.sum() < len(blind)
  model.eval()
  y = np.asarray(model(x, v))
  np.testing.assert_array_equal(y, np.asarray(model(x, v)))
  assert not np.allclose(y, np.asarray(model(x, jnp.zeros_like(v))))

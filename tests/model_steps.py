"""A few jitted Adam steps on a model: the 'training reduces the loss' tests."""

from flax import nnx
import jax
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

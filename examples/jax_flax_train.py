"""A tiny JAX/Flax training loop on CPU logging to TensorBoard with tbwrite's clu-style
writer: no TensorFlow, no torch.

    pip install 'tbwrite[examples]'        # jax, flax, optax
    python examples/jax_flax_train.py runs/flax
    tensorboard --logdir runs/flax

Fits y = sin(3x) with a 2-layer MLP for a few hundred steps (a few seconds), logging the
config as hparams, the loss (a jax.Array) as scalars, parameter histograms and a text note.
"""

from __future__ import annotations

import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from tbwrite.integrations.clu import SummaryWriter

CONFIG = {
    "model": {"width": 32, "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "steps": 300,
    "seed": 0,
}


class MLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.tanh(nn.Dense(self.width)(x))
        return nn.Dense(1)(x)


def main(logdir: str) -> None:
    key = jax.random.PRNGKey(CONFIG["seed"])
    x = jnp.linspace(-1.0, 1.0, 128)[:, None]
    y = jnp.sin(3.0 * x)
    model = MLP(CONFIG["model"]["width"])
    params = model.init(key, x)
    tx = optax.adam(CONFIG["optimizer"]["learning_rate"])
    opt_state = tx.init(params)

    @jax.jit
    def train_step(params, opt_state):
        def loss_fn(p):
            return jnp.mean((model.apply(p, x) - y) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    with SummaryWriter(logdir) as writer:  # a with block: FAILURE status if training raises
        writer.write_hparams(CONFIG)  # nested: model.width, optimizer.learning_rate, ...
        for step in range(CONFIG["steps"]):
            params, opt_state, loss = train_step(params, opt_state)
            if step % 10 == 0 or step == CONFIG["steps"] - 1:
                writer.write_scalars(step, {"train/loss": loss})  # a jax.Array, no float() needed
            if step % 100 == 0:
                kernels = {
                    f"params/{name}": layer["kernel"] for name, layer in params["params"].items()
                }
                writer.write_histograms(step, kernels)
        writer.write_texts(CONFIG["steps"], {"summary": f"final loss **{float(loss):.4f}**"})
    print(f"final loss {float(loss):.4f}; tensorboard --logdir {logdir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/flax")

"""A small tour of jinit against jax.nn.initializers (runs in seconds on a CPU)."""

import jax
import jax.numpy as jnp
import numpy as np

import jinit

key = jax.random.key(0)
shape = (512, 256)

for name in ["glorot_uniform", "he_normal", "lecun_normal"]:
    ours = getattr(jinit, name)()(key, shape)
    theirs = getattr(jax.nn.initializers, name)()(key, shape)
    print(
        f"{name:15s} float32: identical to jax.nn.initializers: "
        f"{bool(jnp.array_equal(ours, theirs))}"
    )

ours = jinit.he_normal()(key, shape, jnp.bfloat16)
theirs = jax.nn.initializers.he_normal()(key, shape, jnp.bfloat16)
print(
    f"he_normal bfloat16: distinct values jinit {np.unique(np.asarray(ours)).size}, "
    f"JAX {np.unique(np.asarray(theirs)).size}"
)

std = jinit.variance_scaling(1.0, "fan_in", "truncated_normal")
w = std(key, (256, 4096), jnp.complex64)
print(
    f"complex64 truncated normal, target variance {1 / 256:.6f}: "
    f"jinit {float(jnp.mean(jnp.abs(w) ** 2)):.6f}, JAX "
    f"{float(jnp.mean(jnp.abs(jax.nn.initializers.variance_scaling(1.0, 'fan_in', 'truncated_normal')(key, (256, 4096), jnp.complex64)) ** 2)):.6f}"
)

print("identity (3, 3):\n", jinit.identity()(key, (3, 3)))
try:
    jinit.variance_scaling(1.0, "fanin", "normal")
except ValueError as e:
    print("ValueError:", e)

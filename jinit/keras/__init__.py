"""Keras 3 initializers by their Keras names, bit-identical to Keras on JAX.

``jinit.keras.GlorotUniform(seed=1)((256, 256))`` returns, element for element, what
``keras.initializers.GlorotUniform(seed=1)((256, 256))`` returns on the JAX backend,
without Keras installed. Every class only translates Keras' names, seeds, defaults
and constants onto jinit's core (:mod:`jinit._distributions`, :mod:`jinit._structured`,
:mod:`jinit._constant`, :func:`jinit.compute_fans`); nothing here samples by itself.

How Keras computes, and hence how this module does:

* **Keys.** An int seed ``s`` is the raw threefry key ``uint32[s, 0]`` (not
  ``jax.random.PRNGKey(s)``, which is ``[0, s]``); the k-th draw of a
  ``SeedGenerator(s)`` uses ``uint32[s, k]``. Seeds are ints in ``[0, 2**32)``.
* **Constants** are Python floats (float64 arithmetic): e.g. ``VarianceScaling``
  with a truncated normal multiplies by ``sqrt(scale / n) / 0.87962566103423978``,
  rounded once to the sample's dtype when it multiplies.
* **Operation boundaries.** Keras draws the standard law and then applies
  ``sample * stddev`` and ``+ mean`` as separate eager operations. One fused XLA
  kernel may contract them into a fused multiply-add and land 1 ulp away, so the
  normal laws here draw the standard law in jinit's cached kernel and then apply
  the same two operations (two small extra dispatches). The uniform laws and
  ``Orthogonal`` are one dispatch; ``Constant`` and ``Identity`` apply Keras'
  ``value * ones`` and ``gain * eye`` as a second one (so -0.0 stays -0.0).

Parity holds for float32 (and float64 under ``jax_enable_x64``) with JAX's default
PRNG settings: the ``threefry2x32`` implementation and ``jax_threefry_partitionable``
(on by default), under which a draw does not depend on its output sharding. For
bfloat16/float16 Keras draws in the narrow dtype itself; jinit draws in float32
and rounds once (its core's rule), so those values differ from Keras (and are the
better rounded ones).

Seeds, as in Keras 3: an int seed gives the same values on every call; ``seed=None``
draws an int seed when the initializer is created, so it too returns the same
values on every call (Keras 3 does so silently; jinit warns with
:class:`ReusedSeedWarning` when an unseeded instance is called a second time). To
get distinct layers, create one instance per layer, or pass a seed generator
(:class:`SeedGenerator` or ``keras.random.SeedGenerator``), which advances on every
call.

Sharded draws: every class takes ``layout=`` (Keras' name, keras PR #22680) or
``out_sharding=``, so under a ``keras.distribution`` (``ModelParallel`` with a
``LayoutMap``, JAX backend) Keras passes each variable's layout and the values
are drawn into its shards, equal to the unsharded draw bit for bit.

Every object is also a functional jinit initializer: ``init(key, shape, dtype)``
with a PRNG key as first argument (Flax ``kernel_init``) uses that key instead of
the seed; a raw key ``uint32[s, 0]`` gives the values of ``seed=s``.

Layout: :mod:`._seeds` (seeds, SeedGenerator), :mod:`._base` (the call),
:mod:`._laws` (RandomNormal, TruncatedNormal, RandomUniform), :mod:`._presets`
(VarianceScaling, Glorot/He/LeCun), :mod:`._structured` (Orthogonal, constants,
Identity, STFT) and :mod:`._names` (Keras' names, get/serialize/deserialize,
and the registration with ``keras.saving``).

Example:
  >>> import jinit.keras as jk
  >>> w = jk.GlorotUniform(seed=1)((64, 32))          # Keras' convention
  >>> w.shape
  (64, 32)
  >>> init = jk.get("he_normal")                       # names and configs
  >>> jk.deserialize(jk.serialize(init)).get_config()["input_axes"] is None
  True
"""

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "RandomInitializer",
    "ReusedSeedWarning",
    "STFT",
    "SeedGenerator",
    "Tensor",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "deserialize",
    "get",
    "register_with_keras",
    "serialize",
]

from ._base import Initializer as Initializer
from ._base import RandomInitializer as RandomInitializer
from ._laws import RandomNormal as RandomNormal
from ._laws import RandomUniform as RandomUniform
from ._laws import TruncatedNormal as TruncatedNormal
from ._names import KERAS_PACKAGE as KERAS_PACKAGE
from ._names import NAMES as NAMES
from ._names import deserialize as deserialize
from ._names import get as get
from ._names import register_with_keras as register_with_keras
from ._names import serialize as serialize
from ._presets import GlorotNormal as GlorotNormal
from ._presets import GlorotUniform as GlorotUniform
from ._presets import HeNormal as HeNormal
from ._presets import HeUniform as HeUniform
from ._presets import LecunNormal as LecunNormal
from ._presets import LecunUniform as LecunUniform
from ._presets import VarianceScaling as VarianceScaling
from ._seeds import ReusedSeedWarning as ReusedSeedWarning
from ._seeds import SeedGenerator as SeedGenerator
from ._structured import STFT as STFT
from ._structured import Constant as Constant
from ._structured import Identity as Identity
from ._structured import Ones as Ones
from ._structured import Orthogonal as Orthogonal
from ._structured import Tensor as Tensor
from ._structured import Zeros as Zeros

# Keras' module-level aliases (keras.initializers.glorot_uniform is the class).
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
STFTInitializer = STFT
constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = one = Ones
orthogonal = Orthogonal
random_normal = normal = RandomNormal
random_uniform = uniform = RandomUniform
stft = STFT
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = zero = Zeros

# One public home for every class (reprs, pickles, saved module names).
for _cls in (
    *set(NAMES.values()),
    Initializer,
    RandomInitializer,
    SeedGenerator,
    Tensor,
):
    _cls.__module__ = __name__
for _cls in (ReusedSeedWarning,):
    _cls.__module__ = __name__
del _cls

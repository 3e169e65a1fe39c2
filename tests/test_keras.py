"""jinit.keras against the real Keras 3 (JAX backend): values, seeds, configs, errors.

Parity is bit-equality of the float32 bit patterns (so -0.0 and +0.0 differ) with
``keras.initializers`` itself, installed here; nothing is compared with numbers
saved from jinit's own output.
"""

import json
import math
import random
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
import jinit.keras as jk
from tests.helpers import ulp_distance

keras = pytest.importorskip("keras")
KI = keras.initializers

SEEDS = (0, 1234, 2**31 + 7, 2**32 - 1)
SHAPES = {1: (33,), 2: (64, 32), 3: (5, 8, 16), 4: (3, 3, 8, 16)}

# One row per configuration: (class name, kwargs, ranks Keras accepts).
RANDOM_CASES = [
    ("RandomNormal", {}, (1, 2, 3, 4)),
    ("RandomNormal", {"mean": 0.3, "stddev": 1.7}, (1, 2, 3, 4)),
    ("TruncatedNormal", {}, (1, 2, 3, 4)),
    ("TruncatedNormal", {"mean": -1.0, "stddev": 0.2}, (1, 2, 3, 4)),
    ("RandomUniform", {}, (1, 2, 3, 4)),
    ("RandomUniform", {"minval": -3.0, "maxval": 2.5}, (1, 2, 3, 4)),
    ("GlorotUniform", {}, (1, 2, 3, 4)),
    ("GlorotNormal", {}, (1, 2, 3, 4)),
    ("HeUniform", {}, (1, 2, 3, 4)),
    ("HeNormal", {}, (1, 2, 3, 4)),
    ("LecunUniform", {}, (1, 2, 3, 4)),
    ("LecunNormal", {}, (1, 2, 3, 4)),
    ("VarianceScaling", {}, (1, 2, 3, 4)),
    (
        "VarianceScaling",
        {"scale": 0.3, "mode": "fan_out", "distribution": "untruncated_normal"},
        (1, 2, 3, 4),
    ),
    (
        "VarianceScaling",
        {"scale": 2.0, "mode": "fan_avg", "distribution": "normal"},
        (2, 4),
    ),
    (
        "VarianceScaling",
        {
            "scale": 1.5,
            "mode": "fan_avg",
            "distribution": "uniform",
            "input_axes": [0, 2],
            "output_axes": [-1],
        },
        (4,),
    ),
    ("HeNormal", {"input_axes": [-2], "output_axes": [0, 1, 3]}, (4,)),
    ("Orthogonal", {}, (2, 3, 4)),
    ("Orthogonal", {"gain": 0.7}, (2, 3, 4)),
]


def _case_id(case):
    name, kwargs, _ = case
    return name + (
        "-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else ""
    )


def bits(x):
    x = np.asarray(x)
    return x.view(
        {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    )


def assert_same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape)
    np.testing.assert_array_equal(bits(a), bits(b))


# ----------------------------------------------------------------------------
# Parity with Keras, bit for bit.


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", RANDOM_CASES, ids=_case_id)
def test_random_parity(case, seed):
    name, kwargs, ranks = case
    for rank in ranks:
        shape = SHAPES[rank]
        ours = getattr(jk, name)(seed=seed, **kwargs)(shape)
        theirs = getattr(KI, name)(seed=seed, **kwargs)(shape)
        assert_same_bits(ours, theirs)


def test_mean_and_stddev_roundings_are_keras():
    # Keras rounds `sample * stddev` and then `+ mean`; a fused multiply-add would
    # land 1 ulp away in about half of these cases. Also -0.0 * ... + 0.0 = +0.0.
    shape = (128, 64)
    for stddev, mean in [(1.7, 0.3), (0.01, -1.0), (0.0, 0.0), (-0.5, 0.0)]:
        for name in ("RandomNormal", "TruncatedNormal"):
            ours = getattr(jk, name)(mean, stddev, seed=3)(shape)
            theirs = getattr(KI, name)(mean, stddev, seed=3)(shape)
            assert_same_bits(ours, theirs)


def test_float64_parity(x64):
    for name in ("RandomNormal", "TruncatedNormal", "GlorotUniform", "Orthogonal"):
        ours = getattr(jk, name)(seed=5)((64, 32), dtype="float64")
        theirs = getattr(KI, name)(seed=5)((64, 32), dtype="float64")
        assert ours.dtype == np.float64
        assert_same_bits(ours, theirs)


def test_parity_under_jit():
    # Inside an enclosing jit both run the same operations, fused alike.
    for name in ("RandomNormal", "HeNormal", "GlorotUniform"):
        ours = jax.jit(lambda n=name: getattr(jk, n)(seed=9)((64, 32)))()
        theirs = jax.jit(lambda n=name: getattr(KI, n)(seed=9)((64, 32)))()
        assert_same_bits(ours, theirs)


def test_bfloat16_is_the_float32_values_rounded():
    # Keras draws bfloat16 natively; jinit draws in float32 and rounds once.
    for name in ("RandomNormal", "HeNormal", "RandomUniform", "Orthogonal"):
        ours = getattr(jk, name)(seed=2)((64, 32), dtype=jnp.bfloat16)
        ref = np.asarray(getattr(KI, name)(seed=2)((64, 32))).astype(jnp.bfloat16)
        assert ours.dtype == jnp.bfloat16
        assert ulp_distance(ours, ref) <= 1


@pytest.mark.parametrize(
    "name, kwargs, shapes",
    [
        ("Zeros", {}, [(7,), (4, 5), (2, 3, 4)]),
        ("Ones", {}, [(7,), (4, 5), (2, 3, 4)]),
        ("Constant", {"value": 0.3}, [(7,), (4, 5), (2, 3, 4)]),
        ("Constant", {"value": -0.0}, [(4, 5)]),
        ("Identity", {}, [(4, 4), (3, 5), (6, 2)]),
        ("Identity", {"gain": -0.5}, [(4, 4), (3, 5)]),
        ("STFT", {}, [(16, 1, 9), (32, 1, 17)]),
        (
            "STFT",
            {"side": "imag", "window": "hamming", "scaling": "spectrum"},
            [(16, 1, 9)],
        ),
        ("STFT", {"window": "hann", "periodic": True}, [(16, 1, 9)]),
        ("STFT", {"window": None, "scaling": None}, [(16, 1, 9)]),
        ("STFT", {"window": list(np.linspace(0.1, 1.0, 8))}, [(8, 1, 5)]),
    ],
)
@pytest.mark.standard_promotion  # Keras' STFT multiplies int32 by float32
def test_deterministic_parity(name, kwargs, shapes):
    for shape in shapes:
        ours = getattr(jk, name)(**kwargs)(shape)
        theirs = getattr(KI, name)(**kwargs)(shape)
        assert_same_bits(ours, theirs)


@pytest.mark.parametrize("dtype", ["int32", "bool", "float16"])
def test_constant_dtypes(dtype):
    for name, kwargs in [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 1})]:
        ours = getattr(jk, name)(**kwargs)((3, 4), dtype=dtype)
        theirs = getattr(KI, name)(**kwargs)((3, 4), dtype=dtype)
        assert_same_bits(ours, theirs)


# ----------------------------------------------------------------------------
# Calling conventions: Keras', jinit's/Flax's, and inside Keras and Flax layers.


def test_keras_calling_conventions():
    init = jk.HeNormal(seed=4)
    ref = KI.HeNormal(seed=4)((6, 5))
    assert_same_bits(init((6, 5)), ref)
    assert_same_bits(init([6, 5], dtype="float32"), ref)
    assert_same_bits(init((6, 5), jnp.float32), ref)
    assert_same_bits(init(shape=(6, 5), dtype=np.float32), ref)
    assert init((6, 5)).dtype == np.float32


def test_functional_call_with_a_key():
    init = jk.HeNormal()
    raw = jnp.array([4, 0], jnp.uint32)  # Keras' key for seed=4
    ref = KI.HeNormal(seed=4)((6, 5))
    assert_same_bits(init(raw, (6, 5)), ref)
    assert_same_bits(init(jax.random.wrap_key_data(raw), (6, 5), jnp.float32), ref)
    assert isinstance(init, jinit.Initializer)
    # A key replaces the seed: jax.random.key(4) is the raw key [0, 4].
    assert not np.array_equal(init(jax.random.key(4), (6, 5)), ref)


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "Orthogonal"])
def test_keras_dense_layer_kernel(name):
    ours = keras.layers.Dense(16, kernel_initializer=getattr(jk, name)(seed=11))
    theirs = keras.layers.Dense(16, kernel_initializer=getattr(KI, name)(seed=11))
    ours.build((None, 8))
    theirs.build((None, 8))
    assert_same_bits(ours.kernel.value, theirs.kernel.value)


@pytest.mark.standard_promotion  # Flax's own module code
def test_flax_linen_and_nnx():
    linen = pytest.importorskip("flax.linen")
    nnx = pytest.importorskip("flax.nnx")
    keys = []
    init = jk.GlorotUniform()

    def recording(key, shape, dtype):
        keys.append(key)
        return init(key, shape, dtype)

    params = linen.Dense(4, kernel_init=recording).init(
        jax.random.key(0), jnp.ones((1, 3))
    )
    assert_same_bits(params["params"]["kernel"], init(keys[0], (3, 4)))
    layer = nnx.Linear(3, 4, kernel_init=jk.HeNormal(), rngs=nnx.Rngs(0))
    assert layer.kernel[...].shape == (3, 4)
    assert np.all(np.abs(layer.kernel[...]) <= 2 * np.sqrt(2 / 3) / 0.8796)


# ----------------------------------------------------------------------------
# Seeds: ints repeat, unseeded repeats (and warns), generators advance.


def test_int_seed_repeats_without_warning():
    init = jk.GlorotNormal(seed=7)
    assert_same_bits(init((8, 8)), init((8, 8)))  # filterwarnings=error: no warning


def test_unseeded_draws_keras_seed_and_warns_on_second_call():
    random.seed(123)
    ours = jk.GlorotUniform()
    random.seed(123)
    theirs = KI.GlorotUniform()
    first = ours((8, 8))  # no warning on the first call
    assert_same_bits(first, theirs((8, 8)))
    with pytest.warns(jk.ReusedSeedWarning, match="one instance per weight"):
        second = ours((8, 8))
    assert_same_bits(first, second)
    # A key given explicitly does not use the seed, hence no warning.
    ours(jnp.array([1, 0], jnp.uint32), (8, 8))
    # Two unseeded instances differ (each drew its own seed).
    assert not np.array_equal(jk.GlorotUniform()((8, 8)), jk.GlorotUniform()((8, 8)))


@pytest.mark.parametrize("name", ["RandomNormal", "RandomUniform", "HeNormal"])
def test_seed_generators_advance_like_keras(name):
    ours = getattr(jk, name)(seed=jk.SeedGenerator(5))
    ours_keras_gen = getattr(jk, name)(seed=keras.random.SeedGenerator(5))
    theirs = getattr(KI, name)(seed=keras.random.SeedGenerator(5))
    draws = []
    for _ in range(3):
        ref = theirs((8, 8))
        assert_same_bits(ours((8, 8)), ref)
        assert_same_bits(ours_keras_gen((8, 8)), ref)
        draws.append(np.asarray(ref))
    assert not np.array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[1], draws[2])


def test_seed_generator_keys():
    gen = jk.SeedGenerator(2**32 - 1)
    np.testing.assert_array_equal(gen.next(), [2**32 - 1, 0])
    np.testing.assert_array_equal(gen.next(), [2**32 - 1, 1])
    assert gen.get_config() == {"seed": 2**32 - 1, "name": "seed_generator"}


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, r"`seed` must be an int in \[0, 2\*\*32\)"),
        (2**32, ValueError, r"`seed` must be an int in \[0, 2\*\*32\)"),
        (1.5, TypeError, "`seed` must be None, an int"),
        ("42", TypeError, "`seed` must be None, an int"),
        (True, TypeError, "`seed` must be None, an int"),
        ({"class_name": "Foo"}, ValueError, "`seed` must be a SeedGenerator config"),
    ],
)
def test_bad_seeds(seed, error, match):
    with pytest.raises(error, match=match):
        jk.HeNormal(seed=seed)
    with pytest.raises(error, match=match):
        jk.RandomNormal(seed=seed)


# ----------------------------------------------------------------------------
# Names, get, serialize, deserialize, clone.


def test_every_keras_name_is_known():
    from keras.src.initializers import ALL_OBJECTS_DICT

    keras_names = set(ALL_OBJECTS_DICT) - {"Initializer", "initializer"}
    assert keras_names <= set(jk.NAMES)
    for name in keras_names:
        assert type(jk.get(name)).__name__ == ALL_OBJECTS_DICT[name].__name__
        assert jk.NAMES[name].__name__ == ALL_OBJECTS_DICT[name].__name__
    for name in [n for n in dir(KI) if not n.startswith("_")]:
        if name not in ("Initializer", "get", "serialize", "deserialize"):
            assert getattr(jk, name).__name__ == getattr(KI, name).__name__, name


def _config_cases():
    seeds = (3, None)
    for name, kwargs, _ in RANDOM_CASES:
        for seed in seeds:
            yield name, {**kwargs, "seed": seed}
    yield "Orthogonal", {"gain": 2.0, "seed": 1}
    yield "Constant", {"value": 2.5}
    yield "Zeros", {}
    yield "STFT", {"side": "imag", "window": "hamming", "scaling": None}


@pytest.mark.parametrize("name, kwargs", list(_config_cases()))
def test_serialize_matches_keras(name, kwargs):
    ours = jk.serialize(getattr(jk, name)(**kwargs))
    theirs = KI.serialize(getattr(KI, name)(**kwargs))
    assert ours == theirs
    assert json.loads(json.dumps(ours)) == ours


def test_serialize_seed_generator_matches_keras():
    ours = jk.serialize(jk.VarianceScaling(seed=jk.SeedGenerator(5, name="g")))
    gen = keras.random.SeedGenerator(5, name="g")
    theirs = KI.serialize(KI.VarianceScaling(seed=gen))
    assert ours == theirs
    # Both rebuild a generator starting at [5, 0]: the same draws.
    assert_same_bits(jk.deserialize(theirs)((4, 4)), KI.deserialize(ours)((4, 4)))


@pytest.mark.parametrize("name", ["HeNormal", "RandomNormal", "Orthogonal"])
def test_keras_configs_read_back_into_the_same_values(name):
    theirs = getattr(KI, name)(seed=21)
    config = json.loads(json.dumps(KI.serialize(theirs)))
    ours = jk.deserialize(config)
    assert type(ours).__name__ == name
    assert_same_bits(ours((16, 8)), theirs((16, 8)))
    # And Keras reads jinit's configs back into its own class.
    assert_same_bits(KI.deserialize(jk.serialize(ours))((16, 8)), theirs((16, 8)))


def test_saved_model_kernel_initializer_config():
    theirs = KI.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=8)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, kernel_initializer=theirs)]
    )
    config = json.loads(json.dumps(model.get_config()))
    entry = config["layers"][-1]["config"]["kernel_initializer"]
    assert_same_bits(jk.deserialize(entry)((8, 16)), model.layers[-1].kernel.value)


def test_legacy_and_alias_configs():
    legacy = {
        "class_name": "VarianceScaling",
        "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal", "seed": 1},
    }
    ours = jk.deserialize(legacy)
    assert ours.distribution == "truncated_normal"
    assert_same_bits(ours((8, 4)), KI.deserialize(legacy)((8, 4)))
    assert type(jk.deserialize({"class_name": "uniform", "config": {}})) is (
        jk.RandomUniform
    )
    assert type(jk.deserialize("IdentityInitializer")) is jk.Identity
    assert jk.deserialize("one")((2,)).tolist() == [1.0, 1.0]


def test_constant_reads_keras_numpy_value():
    config = {
        "class_name": "Constant",
        "config": {
            "value": {
                "class_name": "__numpy__",
                "config": {"value": 1.5, "dtype": "float32"},
            }
        },
    }
    assert jk.deserialize(config)((2, 2)).tolist() == [[1.5, 1.5], [1.5, 1.5]]


def test_identity_keeps_gain():
    init = jk.Identity(gain=0.5)
    assert init.get_config() == {"gain": 0.5}
    assert KI.Identity(gain=0.5).get_config() == {}  # Keras drops it
    assert_same_bits(
        jk.deserialize(jk.serialize(init))((3, 3)), 0.5 * np.eye(3, dtype=np.float32)
    )
    # Keras rebuilds the gain from jinit's config.
    assert_same_bits(KI.deserialize(jk.serialize(init))((3, 3)), init((3, 3)))


def test_clone_and_from_config():
    init = jk.HeUniform(seed=3, input_axes=[0], output_axes=[1])
    clone = init.clone()
    assert clone is not init and clone.get_config() == init.get_config()
    assert_same_bits(clone((5, 4)), init((5, 4)))
    assert jk.RandomNormal.from_config({"stddev": 2.0}).stddev == 2.0
    with pytest.raises(ValueError, match="`config` must be a dict of RandomNormal's"):
        jk.RandomNormal.from_config({"stdev": 2.0})


def test_get():
    assert jk.get(None) is None
    init = jk.HeNormal(seed=1)
    assert jk.get(init) is init
    assert isinstance(jk.get(jk.Orthogonal), jk.Orthogonal)
    fn = jinit.he_normal()
    assert jk.get(fn) is fn
    # A Keras object becomes the jinit.keras one with the same values.
    keras_init = KI.LecunNormal(seed=6)
    assert_same_bits(jk.get(keras_init)((9, 3)), keras_init((9, 3)))
    keras_unseeded = KI.RandomUniform()
    assert_same_bits(jk.get(keras_unseeded)((9, 3)), keras_unseeded((9, 3)))
    assert jk.get(KI.Identity(gain=3.0)).gain == 3.0


# ----------------------------------------------------------------------------
# Bad input: clear errors naming the argument, before anything is traced.


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: jk.get("glorot_unifrom"), ValueError, "Did you mean 'glorot_uniform'"),
        (lambda: jk.get(42), ValueError, "`identifier` must be"),
        (lambda: jk.deserialize(42), TypeError, "`config` must be a dict"),
        (lambda: jk.VarianceScaling(mode="fan_geo_avg"), ValueError, "`mode` must be"),
        (
            lambda: jk.VarianceScaling(distribution="gausian"),
            ValueError,
            "`distribution` must be one of",
        ),
        (
            lambda: jk.VarianceScaling(scale=0.0),
            ValueError,
            "`scale` must be a positive number",
        ),
        (
            lambda: jk.VarianceScaling(scale=-1),
            ValueError,
            "`scale` must be a positive number",
        ),
        (lambda: jk.RandomNormal(stddev="1"), TypeError, "`stddev` must be a real"),
        (
            lambda: jk.Orthogonal(gain=float("nan")),
            ValueError,
            "`gain` must be a finite number",
        ),
        (lambda: jk.STFT(side="left"), ValueError, "`side` must be one of"),
        (lambda: jk.STFT(scaling="l2"), ValueError, "`scaling` must be one of"),
        (lambda: jk.STFT(window="hannn"), ValueError, "`window` must be a window name"),
        (lambda: jk.Identity()((2, 3, 4)), ValueError, "`shape` must be 2-D"),
        (lambda: jk.Orthogonal()((5,)), ValueError, "`shape` must be at least 2-D"),
        (lambda: jk.STFT()((16, 9)), ValueError, "`shape` must be 3-D"),
        (lambda: jk.STFT(window=[1.0, 2.0])((3, 1, 2)), ValueError, "`window` must be"),
        (lambda: jk.HeNormal(seed=1)(5), TypeError, "`shape` must be a tuple"),
        (lambda: jk.HeNormal(seed=1)((4, -1)), ValueError, "`shape` must be"),
        (lambda: jk.HeNormal(seed=1)((4, 4), "int32"), TypeError, "`dtype` must be"),
        (lambda: jk.HeNormal(seed=1)((4, 4), "complex64"), TypeError, "`dtype` must"),
        (
            lambda: jk.HeNormal(input_axes=[0], output_axes=[5])((4, 4)),
            ValueError,
            "`output_axes` must be an axis in",
        ),
        (
            lambda: jk.HeNormal()(jnp.zeros(3), (4, 4)),
            TypeError,
            "`key` must be a PRNG key",
        ),
        (lambda: jk.serialize(jinit.he_normal()), TypeError, "`initializer` must"),
        # Keras casts 3 to True; jinit refuses a lossy constant.
        (
            lambda: jk.Constant(3)((2,), "bool"),
            ValueError,
            "`value` must be exactly representable",
        ),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_input_does_not_advance_a_generator():
    gen = jk.SeedGenerator(3)
    init = jk.HeNormal(seed=gen)
    with pytest.raises(TypeError):
        init((4, 4), "int32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_bits(init((4, 4)), KI.HeNormal(seed=3)((4, 4)))


# Keras' own serialization: keras.saving round trips rebuild jinit's classes.
SERIALIZATION_CASES = [
    ("Orthogonal", {"seed": 1}),
    ("Orthogonal", {"gain": 0.5, "seed": jk.SeedGenerator(3)}),
    ("RandomNormal", {"mean": 0.3, "stddev": 1.7, "seed": 5}),
    ("TruncatedNormal", {"seed": 6}),
    ("RandomUniform", {"minval": -1.0, "maxval": 2.0, "seed": 7}),
    ("VarianceScaling", {"scale": 0.3, "mode": "fan_out", "seed": 8}),
    ("GlorotUniform", {"seed": 9, "input_axes": [0], "output_axes": [1]}),
    ("HeNormal", {"seed": 10}),
    ("LecunUniform", {"seed": 11}),
    ("Zeros", {}),
    ("Ones", {}),
    ("Constant", {"value": -0.5}),
    ("Identity", {"gain": 2.0}),
    ("STFT", {"side": "imag", "window": None, "scaling": None}),
]


@pytest.mark.parametrize("name, kwargs", SERIALIZATION_CASES, ids=str)
def test_keras_serialization_round_trip_rebuilds_jinits_class(name, kwargs):
    """keras.saving.serialize/deserialize_keras_object, and Keras' own test helper."""
    from keras.src import testing

    init = getattr(jk, name)(**kwargs)
    config = keras.saving.serialize_keras_object(init)
    assert config["registered_name"] == f"jinit>{name}"
    revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(revived) is type(init)
    assert revived.get_config() == init.get_config()
    shape = (16, 1, 9) if name == "STFT" else (16, 8)
    if not isinstance(kwargs.get("seed"), jk.SeedGenerator):
        np.testing.assert_array_equal(
            np.asarray(revived(shape)), np.asarray(init(shape))
        )
    helper = testing.TestCase("run_class_serialization_test")
    assert type(helper.run_class_serialization_test(init)) is type(init)


def test_registration_waits_for_keras_to_be_imported():
    """Importing jinit.keras never imports Keras; importing Keras later registers."""
    import subprocess
    import sys

    code = (
        "import sys, jinit.keras as jk; assert 'keras' not in sys.modules; "
        "import keras; "
        "o = keras.saving.deserialize_keras_object({'module': 'jinit.keras', "
        "'class_name': 'HeNormal', 'config': {'seed': 3}, "
        "'registered_name': 'jinit>HeNormal'}); "
        "assert type(o) is jk.HeNormal and o.seed == 3, o"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=900)


@pytest.mark.parametrize(
    "name", sorted({cls.__name__ for cls in jk.NAMES.values()}), ids=str
)
def test_a_partition_spec_reaches_every_initializer(name):
    """Every class honours ``out_sharding`` (STFT dropped a PartitionSpec)."""
    from jax.sharding import PartitionSpec as P

    shape = (16, 1, 9) if name == "STFT" else (16, 8)
    init = getattr(jk, name)(**({"seed": 1} if "seed" in _params(name) else {}))
    mesh = jax.make_mesh((8,), ("x",))
    with jax.set_mesh(mesh):
        out = init(shape, out_sharding=P("x"))
    assert out.sharding.spec[0] == "x", out.sharding
    np.testing.assert_array_equal(np.asarray(out), np.asarray(init(shape)))


def _params(name):
    import inspect

    return inspect.signature(getattr(jk, name)).parameters


@pytest.mark.standard_promotion
def test_get_of_an_array_is_kerass():
    """keras.initializers.get(array): the array, cast, for its own shape only."""
    array = np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(5, 3)
    for dtype in ["float32", "float16"]:
        assert_same_bits(jk.get(array)((5, 3), dtype), KI.get(array)((5, 3), dtype))
    assert_same_bits(jk.get(jnp.asarray(array))((5, 3)), KI.get(array)((5, 3)))
    with pytest.raises(ValueError, match="`shape` must be the array's shape"):
        jk.get(array)((3, 5))


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("RandomNormal", {"mean": 0.3, "stddev": 1.7}, (512, 512)),
        ("TruncatedNormal", {"mean": -1.0, "stddev": 0.2}, (512, 512)),
        ("RandomUniform", {"minval": -3.0, "maxval": 2.5}, (512, 512)),
        (
            "VarianceScaling",
            {"mode": "fan_out", "distribution": "untruncated_normal"},
            (256, 1024),
        ),
        ("GlorotUniform", {}, (3, 3, 64, 256)),
        ("HeNormal", {}, (512, 512)),
        ("Orthogonal", {"gain": 2.0}, (512, 256)),
    ],
    ids=str,
)
@pytest.mark.standard_promotion
def test_law_matches_a_large_sample_drawn_by_keras(name, kwargs, shape):
    law = getattr(jk, name)(**kwargs).law(shape)
    x = np.asarray(getattr(KI, name)(**kwargs, seed=17)(shape), np.float64).ravel()
    dev = (x - law.mean) ** 2
    n = x.size
    assert abs(x.mean() - law.mean) <= 6 * law.std / math.sqrt(n)
    assert abs(dev.mean() - law.std**2) <= 6 * dev.std() / math.sqrt(n)
    assert law.support[0] <= x.min() and x.max() <= law.support[1]


def test_law_is_none_where_values_share_no_law():
    assert jk.Identity().law((3, 3)) is None
    assert jk.STFT().law((16, 1, 9)) is None
    assert jk.Zeros().law((2,)).std == 0.0 and jk.Ones().law((2,)).mean == 1.0

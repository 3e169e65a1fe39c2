"""The one sampler family and the one jit-compiled kernel every initializer runs in.

Every initializer is a frozen, hashable dataclass. Calling it checks the input in
Python, then dispatches once to :func:`run`, a ``jax.jit`` whose static arguments
are the initializer itself, the shape, the dtype and the output sharding, and
whose only traced argument is the key. An eager call is therefore one cached
dispatch, and the same key gives the same bits eagerly, under ``jit``, under
``vmap`` over keys and under any ``out_sharding`` (with ``jax_threefry_partitionable``,
JAX's default, the threefry bits do not depend on how the output is sharded).

Narrow floats (bfloat16, float16, float8_*, float4_*) are drawn and scaled in
float32 and rounded once into the requested dtype, saturating at the dtype's
largest finite value so that no draw becomes Inf or NaN.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _checks

#: sqrt(2) * erf_inv(u) maps U(erf(a/sqrt2), erf(b/sqrt2)) onto N(0, 1) truncated to (a, b).
_SQRT2 = math.sqrt(2.0)

#: Std of N(0, 1) truncated to (-2, 2): sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))), where
#: phi and Phi are the standard normal density and distribution function.
TRUNC_STD = 0.87962566103423978

#: Std of a complex normal of unit variance (E|z|^2 = 1) whose modulus is truncated
#: at 2. |z|^2 is Exp(1); truncated to [0, 4] its mean is (1 - 5 e^-4) / (1 - e^-4).
#: (JAX uses 0.95311164380491208, which makes the variance 1.86% too large.)
COMPLEX_TRUNC_STD = math.sqrt((1.0 - 5.0 * math.exp(-4.0)) / (1.0 - math.exp(-4.0)))


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a draw is computed in: float64 and complex stay, narrow floats -> f32."""
    if jnp.issubdtype(dtype, jnp.complexfloating) or dtype == np.float64:
        return dtype
    return np.dtype(np.float32)


def real_dtype(dtype: np.dtype) -> np.dtype:
    """The real dtype of the computation: complex64 -> float32, narrow -> float32."""
    dtype = compute_dtype(dtype)
    return np.dtype(np.zeros((), dtype).real.dtype)


def is_complex(dtype: np.dtype) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.complexfloating))


# ----------------------------------------------------------------------------
# The laws. Each draws in a real or complex compute dtype (f32, f64, c64, c128).


def uniform(key, shape, dtype, minval, maxval):
    """U[minval, maxval): ``jax.random.uniform`` itself (same bits as JAX)."""
    return jax.random.uniform(key, shape, dtype, minval, maxval)


def normal(key, shape, dtype):
    """N(0, 1), or the complex normal with E|z|^2 = 1: ``jax.random.normal`` itself."""
    return jax.random.normal(key, shape, dtype)


def truncated_normal(key, shape, dtype, lower, upper):
    """N(0, 1) truncated to the open interval (lower, upper), by inverse CDF.

    ``lower`` and ``upper`` are static Python floats; which of two inverse CDFs
    draws is decided from them in Python (:func:`_jax_resolves`), so there is
    no runtime branch and every value depends on its own uniform alone:

    * JAX's: ``u ~ U(erf(lower/sqrt2), erf(upper/sqrt2))`` and
      ``sqrt2 * erf_inv(u)``, the operations and key use of
      ``jax.random.truncated_normal``, so the values are JAX's, with one repair:
      ``u`` is kept inside (-1, 1), so that bounds beyond about 5.4 (e.g.
      +-1000 sigma) give no ``erf_inv(-1) = -inf`` clipped onto the bound.
      Used wherever it resolves the interval (every interval that contains 0,
      and one-sided ones near it, such as (-2, 2), (0.5, 2) or (2, 3)).
    * The lower-tail one (:func:`_tail_truncated_normal`), for intervals in the
      far tail such as (5, 6) or (8, 9), where ``erf`` is within a few ulp of
      +-1 on the whole interval and JAX's draw takes a handful of values (or
      one: the bound). See jax-ml/jax#10951.

    Values lie strictly inside (lower, upper) wherever the dtype has a value
    there.
    """
    lo = np.asarray(lower, dtype)
    hi = np.asarray(upper, dtype)
    if _jax_resolves(float(lower), float(upper), np.dtype(dtype)):
        sqrt2 = np.asarray(_SQRT2, dtype)
        a = lax.erf(lo / sqrt2)
        b = lax.erf(hi / sqrt2)
        u = jax.random.uniform(key, shape, dtype, minval=a, maxval=b)
        u = lax.max(u, np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype)))
        out = sqrt2 * lax.erf_inv(u)
    else:
        out = _tail_truncated_normal(key, shape, dtype, float(lower), float(upper))
    return jnp.clip(
        out,
        np.nextafter(lo, np.asarray(np.inf, dtype)),
        np.nextafter(hi, np.asarray(-np.inf, dtype)),
    )


_LOG_2PI = math.log(2 * math.pi)


def log_ndtr(x: float) -> float:
    """log Phi(x) in float64 for a Python float ``x <= 0``, accurate in the far tail.

    ``math.erfc`` down to x = -25; below, the asymptotic series
    ``Phi(x) = phi(x) / |x| * sum_k (-1)^k (2k - 1)!! / x^(2k)``, 11 terms (the
    relative error of the sum is below 1e-28 there).
    """
    if x > -25.0:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    x2, total, term = x * x, 1.0, 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) / x2
        total += term
    return -x2 / 2 - math.log(-x) - 0.5 * _LOG_2PI + math.log(total)


def _levels(width: float, top: float, dtype: np.dtype) -> float:
    """How many values of ``dtype`` an interval of ``width`` ending near ``top`` holds,
    at most as many as a uniform draw has (2**mantissa bits)."""
    spacing = float(np.spacing(np.asarray(abs(top), dtype)))
    return min(width / spacing, 2.0 ** jnp.finfo(dtype).nmant)


@functools.lru_cache(maxsize=1024)
def _jax_resolves(lower: float, upper: float, dtype: np.dtype) -> bool:
    """Whether JAX's erf inverse CDF resolves (lower, upper) in ``dtype``.

    Its uniform lies in (erf(lower/sqrt2), erf(upper/sqrt2)), rounded to the
    dtype; the lower-tail draw's in (Phi(lo), Phi(hi)) of the flipped interval
    (or is exact, in log space). Each resolves the interval into as many levels
    as the dtype has values there (at most a uniform's 2**mantissa bits); JAX's
    is kept unless the other resolves at least 16 times more finely. Every
    interval containing 0 keeps JAX's (the same count of levels).
    """
    a, b = math.erf(lower / _SQRT2), math.erf(upper / _SQRT2)
    ours = _levels(b - a, max(abs(a), abs(b)), dtype)
    lo, hi = (-upper, -lower) if lower + upper > 0 else (lower, upper)
    log_a, log_b = log_ndtr(lo), log_ndtr(min(hi, 0.0))
    if hi > 0 or log_a < math.log(float(jnp.finfo(dtype).tiny)):
        tail = 2.0 ** jnp.finfo(dtype).nmant  # straddling, or exact in log space
    else:
        tail = _levels(math.exp(log_b) - math.exp(log_a), math.exp(log_b), dtype)
    return 16 * ours >= tail


def _tail_truncated_normal(key, shape, dtype, lower: float, upper: float):
    """N(0, 1) truncated to (lower, upper), inverted on the lower-tail side.

    The interval is flipped, if need be, to ``(lo, hi)`` with ``lo + hi <= 0``
    (``hi < 0`` here), where Phi is small and has full relative precision. With
    ``u ~ U[0, 1)``, the value is ``Phi^-1(Phi(lo) + u (Phi(hi) - Phi(lo)))``:
    ``ndtri`` of that probability while Phi(lo) is a normal float of the dtype,
    else the same probability in log space, ``log Phi(hi) + log1p(-(1 - u) c)``
    with ``c = 1 - Phi(lo) / Phi(hi)``, inverted by Newton steps on
    ``log_ndtr``. The constants are computed in Python in float64 from the
    static bounds. One uniform per value: an elementwise law.
    """
    flip = lower + upper > 0
    lo, hi = (-upper, -lower) if flip else (lower, upper)
    log_a, log_b = log_ndtr(lo), log_ndtr(hi)
    u = jax.random.uniform(key, shape, dtype)
    if log_b < -0.25 * float(jnp.finfo(dtype).max):
        z = jnp.full(shape, hi, dtype)  # the law is within an ulp of hi
    elif log_a >= math.log(float(jnp.finfo(dtype).tiny)):
        p_a, p_b = math.exp(log_a), math.exp(log_b)
        p = np.asarray(p_a, dtype) + u * np.asarray(p_b - p_a, dtype)
        z = jax.scipy.special.ndtri(p)
    else:
        c = np.asarray(-math.expm1(log_a - log_b), dtype)
        one = np.asarray(1, dtype)
        log_p = np.asarray(log_b, dtype) + jnp.log1p(-(one - u) * c)
        z = _ndtri_log(log_p, dtype)
    return -z if flip else z


def _ndtri_log(log_p, dtype):
    """Phi^-1(exp(log_p)) for ``log_p < log(1/2)``, without forming exp(log_p).

    Starts from ``ndtri(exp(log_p))`` where that is a normal float, else from
    the asymptote ``-sqrt(t - log t - log 2 pi)``, ``t = -2 log_p``, and takes
    four Newton steps on ``log_ndtr(z) = log_p`` (quadratic convergence).
    """
    log_tiny = np.asarray(math.log(float(jnp.finfo(dtype).tiny)) + 1, dtype)
    half_log_2pi = np.asarray(0.5 * _LOG_2PI, dtype)
    t = np.asarray(-2, dtype) * log_p
    asymptote = -jnp.sqrt(
        jnp.maximum(t - jnp.log(t) - 2 * half_log_2pi, np.asarray(0, dtype))
    )
    near = jax.scipy.special.ndtri(jnp.exp(jnp.maximum(log_p, log_tiny)))
    z = jnp.where(log_p > log_tiny, near, asymptote)
    for _ in range(4):
        log_cdf = jax.scipy.special.log_ndtr(z, series_order=8)
        slope = jnp.exp(-z * z / 2 - half_log_2pi - log_cdf)  # phi / Phi
        z = z - (log_cdf - log_p) / slope
    return z


def complex_uniform(key, shape, dtype):
    """Uniform on the disk of radius sqrt(2) (E|z|^2 = 1), JAX's construction.

    ``r = sqrt(2 u1)``, ``theta = 2 pi u2``: the modulus has density r on [0, sqrt2].
    """
    key_r, key_theta = jax.random.split(key)
    rdt = np.zeros((), dtype).real.dtype
    r = jnp.sqrt(2 * jax.random.uniform(key_r, shape, rdt)).astype(dtype)
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, rdt).astype(dtype)
    return r * jnp.exp(1j * theta)


def complex_truncated_normal(key, shape, dtype, upper):
    """Complex normal with E|z|^2 = 1 before its modulus is truncated at ``upper``.

    ``|z|^2`` is Exp(1); inverting its CDF on ``[0, upper^2]`` gives the modulus, and
    the phase is uniform (JAX's construction). The std after truncation is
    :data:`COMPLEX_TRUNC_STD` for ``upper = 2``.
    """
    key_r, key_theta = jax.random.split(key)
    rdt = np.zeros((), dtype).real.dtype
    t = (1 - jnp.exp(jnp.array(-(upper**2), dtype))) * jax.random.uniform(
        key_r, shape, rdt
    ).astype(dtype)
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, rdt).astype(dtype)
    return r * jnp.exp(1j * theta)


# ----------------------------------------------------------------------------
# Scaling and the single rounding into the requested dtype.


def scale_and_round(x, dtype, scale=None, shift=None, clip=None):
    """``x * scale + shift`` in the compute dtype, optionally clipped, rounded once.

    ``scale``/``shift`` are NumPy scalars already in the real compute dtype (or
    Python floats), cast to ``x``'s dtype; None skips the operation. ``clip`` is a
    ``(lo, hi)`` pair of bounds in the output's value space.
    """
    # A real scale multiplies a complex draw as (s + 0j), exactly as JAX does.
    if scale is not None:
        x = x * np.asarray(scale, x.dtype)
    if shift is not None:
        x = x + np.asarray(shift, x.dtype)
    if clip is not None:
        x = jnp.clip(x, np.asarray(clip[0], x.dtype), np.asarray(clip[1], x.dtype))
    return round_into(x, dtype)


def round_into(x, dtype):
    """Rounds ``x`` once into ``dtype``, saturating at its largest finite value."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if jnp.issubdtype(dtype, jnp.floating):
        big = float(jnp.finfo(dtype).max)
        if big < float(jnp.finfo(x.dtype).max):
            x = jnp.clip(x, -big, big)
    return x.astype(dtype)


def inside(bound: float, dtype: np.dtype, toward: float) -> float:
    """The value of ``dtype`` nearest to ``bound`` that is not beyond it.

    Used to keep absolute truncation bounds exact after rounding: for a lower
    bound ``toward=+inf``, for an upper bound ``toward=-inf``.
    """
    rounded = np.asarray(bound).astype(dtype)
    if (toward > bound and float(rounded) < bound) or (
        toward < bound and float(rounded) > bound
    ):
        rounded = np.nextafter(rounded, np.asarray(toward).astype(dtype))
    return float(rounded)


# ----------------------------------------------------------------------------
# The kernel.


def _exact(value):
    # float.hex tells -0.0 from 0.0 (equal as floats) and makes NaN equal to itself.
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, tuple):
        return tuple(_exact(v) for v in value)
    return value


class Static:
    """An initializer as a jit-static argument, compared by the bits of its fields.

    Frozen dataclasses compare fields with ``==``, under which ``-0.0 == 0.0``: a
    cache keyed by the initializer itself would hand ``constant(-0.0)`` the
    kernel compiled for ``constant(0.0)``. This key holds the type and the exact
    field values instead.
    """

    __slots__ = ("init", "_id")

    def __init__(self, init):
        self.init = init
        fields = tuple(getattr(init, f.name) for f in dataclasses.fields(init))
        self._id = (type(init), _exact(fields))

    def __hash__(self):
        return hash(self._id)

    def __eq__(self, other):
        return isinstance(other, Static) and self._id == other._id


def static(init) -> Static:
    """The (memoized) exact jit-static key of a jinit initializer."""
    try:
        return init.__dict__["_jinit_static"]
    except KeyError:
        key = Static(init)
        object.__setattr__(init, "_jinit_static", key)  # a memo, not a field
        return key


@functools.partial(jax.jit, static_argnums=(0, 2, 3, 4, 5))
def _kernel(static_init, key, shape, dtype, out_sharding, blocks=False):
    if blocks:
        out = draw_in_blocks(static_init.init, key, shape, dtype)
    else:
        out = static_init.init._generate(key, shape, dtype)
    if out_sharding is not None:
        out = lax.with_sharding_constraint(out, out_sharding)
    return out


def _explicit_axes(out_sharding) -> tuple:
    return tuple(getattr(getattr(out_sharding, "mesh", None), "explicit_axes", ()))


def run(init, key, shape: tuple[int, ...], dtype: np.dtype, out_sharding=None):
    """Runs ``init._generate(key, shape, dtype)`` in the cached jit kernel.

    A sharding over a mesh with explicit axes (JAX's sharding-in-types, and a
    ``PartitionSpec`` under ``jax.set_mesh``) is handled as
    ``jax.random`` handles it: the kernel runs with those axes made automatic and
    its output typed with the sharding (``jax.sharding.auto_axes``), under the
    sharding's mesh when no mesh is set (where ``jax.random`` raises).
    """
    if isinstance(out_sharding, jax.sharding.PartitionSpec):
        mesh = jax.sharding.get_abstract_mesh()
        if mesh.empty:
            raise ValueError(
                "`out_sharding` must be a Sharding, or a PartitionSpec under a mesh "
                f"(jax.set_mesh); got {out_sharding} with no mesh set."
            )
        out_sharding = jax.sharding.NamedSharding(mesh, out_sharding)
    # An eager call of a large elementwise draw is made in blocks on the CPU (same
    # bits, a block's scratch memory, and about twice as fast: the blocks stay in
    # cache). Not on accelerators, where one fused draw needs no loop (unmeasured
    # there), nor under a trace: the caller's program may shard the draw, and a
    # blocked loop would not split.
    blocks = (
        jax.default_backend() == "cpu"
        and not isinstance(key, jax.core.Tracer)
        and can_draw_in_blocks(
            init,
            shape,
            dtype,
            key,
            out_sharding,
        )
    )
    explicit = _explicit_axes(out_sharding)
    if explicit:
        draw = functools.partial(
            _kernel,
            static(init),
            shape=shape,
            dtype=dtype,
            out_sharding=None,
            blocks=blocks,
        )
        draw = jax.sharding.auto_axes(draw, out_sharding=out_sharding, axes=explicit)
        if jax.sharding.get_abstract_mesh().empty:
            # JAX needs the mesh in context for explicit axes; the sharding names it.
            with jax.set_mesh(out_sharding.mesh):
                return draw(key)
        return draw(key)
    return _kernel(static(init), key, shape, dtype, out_sharding, blocks)


# ----------------------------------------------------------------------------
# One draw, made in blocks.
#
# With ``jax_threefry_partitionable`` (JAX's default), word i of a threefry draw
# of any shape is threefry2x32(key, (hi(i), lo(i))), i the row-major index. A key
# of the implementation below carries a start index s and yields the words
# s, s + 1, ...: the block of the whole draw that starts at s. An elementwise
# law drawn with it in a block's shape gives that block of the whole draw, bit
# for bit, with the scratch memory of one block (XLA's threefry on CPU needs
# about three times its output in scratch).


def _block_bits(key_words, bit_width, shape):
    k1, k2, start = key_words[0], key_words[1], key_words[2]
    lo = lax.iota(np.uint32, math.prod(shape)).reshape(shape) + start
    hi = jnp.zeros(shape, np.uint32)  # indices stay below 2**31 (see draw_in_blocks)
    bits1, bits2 = jex_random.threefry2x32_p.bind(k1, k2, hi, lo)
    if bit_width == 64:
        return lax.shift_left(bits1.astype(np.uint64), np.uint64(32)) | bits2.astype(
            np.uint64
        )
    bits = bits1 ^ bits2
    return bits if bit_width == 32 else bits.astype(np.dtype(f"uint{bit_width}"))


def _threefry(key_words):
    return jax.random.wrap_key_data(key_words[:2], impl="threefry2x32")


def _block_split(key_words, shape):
    keys = jax.random.key_data(jax.random.split(_threefry(key_words), shape))
    start = jnp.broadcast_to(key_words[2], (*shape, 1))
    return jnp.concatenate([keys, start], axis=-1)


def _block_fold_in(key_words, data):
    key = jax.random.key_data(jax.random.fold_in(_threefry(key_words), data))
    return jnp.concatenate([key, key_words[2:]])


def _block_seed(seed):
    key = jax.random.key_data(jax.random.key(seed, impl="threefry2x32"))
    return jnp.concatenate([key, jnp.zeros((1,), np.uint32)])


_BLOCK_IMPL = jex_random.define_prng_impl(
    key_shape=(3,),
    seed=_block_seed,
    split=_block_split,
    random_bits=_block_bits,
    fold_in=_block_fold_in,
    name="jinit_threefry2x32_block",
)

#: The values per block of :func:`draw_in_blocks` (4 MiB of float32).
BLOCK = 1 << 20


def can_draw_in_blocks(init, shape, dtype, key, sharding) -> bool:
    """Whether :func:`draw_in_blocks` gives ``init``'s values for this draw.

    It does for an elementwise law (``init.elementwise``), a threefry ``key``
    (typed, or raw of JAX's default implementation) with
    ``jax_threefry_partitionable``, an output ``sharding`` that is None or fully
    replicated (a sharded draw already makes each device draw its part),
    and at least two blocks of values (fewer than 2**31 of them).
    """
    if not init.elementwise or not 2 * BLOCK <= math.prod(shape) < 2**31:
        return False
    if _checks.is_typed_key(key):
        impl = str(jax.random.key_impl(key))
    else:
        impl = jax.config.jax_default_prng_impl
    return (
        impl == "threefry2x32"
        and jax.config.jax_threefry_partitionable
        and (sharding is None or sharding.is_fully_replicated)
    )


def draw_in_blocks(init, key, shape, dtype, block: int | None = None):
    """``init._generate(key, shape, dtype)``, made ``block`` values at a time.

    The flattened output is filled in a ``fori_loop`` over blocks; each block is
    ``init._draw`` with a key whose words start at the block's index. The last
    block ends at the end and overlaps the one before it, whose values it
    writes again, identical: one loop body, compiled once. Same bits as the
    whole draw (see :func:`can_draw_in_blocks` for when), a block's scratch
    memory, and on CPU a faster draw, as each block stays in cache. ``block``
    defaults to :data:`BLOCK` and must not exceed the number of values.
    """
    block = block or BLOCK
    words = jax.random.key_data(key) if _checks.is_typed_key(key) else key
    n = math.prod(shape)

    def body(i, out):
        start = jnp.minimum(i * block, n - block)
        key_words = jnp.concatenate([words, start.astype(np.uint32)[None]])
        part = init._draw(
            jax.random.wrap_key_data(key_words, impl=_BLOCK_IMPL),
            shape,
            dtype,
            (block,),
        )
        return lax.dynamic_update_slice(out, _as_bits(part), (start,))

    out = lax.fori_loop(0, -(-n // block), body, _as_bits(jnp.zeros((n,), dtype)))
    return lax.bitcast_convert_type(out, dtype).reshape(shape)


def _as_bits(x):
    """A real float array as unsigned ints of its width (complex as they are).

    The blocks are written into a buffer of bits: XLA's CPU backend has no
    bfloat16 dynamic-update-slice and would convert the whole buffer to float32
    and back for every block (3x slower than the whole draw).
    """
    if is_complex(x.dtype) or jnp.finfo(x.dtype).bits < 8:
        return x
    return lax.bitcast_convert_type(x, np.dtype(f"uint{jnp.finfo(x.dtype).bits}"))

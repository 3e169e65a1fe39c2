"""Shared test helpers: ulp distances and statistical bounds derived from n.

Tolerances. For n i.i.d. samples of a law with std s and kurtosis k:
- the sample mean has std s/sqrt(n): |mean - mu| <= 5 s/sqrt(n) fails by chance
  with probability 6e-7;
- the sample variance has relative std sqrt((k - 1)/n): a relative error bound of
  5 sqrt((k - 1)/n) fails by chance with probability ~6e-7;
- the KS statistic: P(D_n > d) ~ 2 exp(-2 n d^2); we require p > 1e-3 from
  scipy.stats.kstest (a false alarm once in a thousand fixed keys, and each key
  is fixed, so a test either always passes or always fails).
With n = 100_000 and k = 3, the variance bound is 2.2%: a 1% error in the std
(2% in the variance) is near the edge; tests that must catch 1% use n >= 400_000
(bound 1.1% in variance, i.e. 0.56% in std).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats


def ulp_distance(a, b) -> int:
    """Largest distance in units in the last place between two float arrays."""
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (
        a.dtype,
        b.dtype,
        a.shape,
        b.shape,
    )
    if a.size == 0:
        return 0
    if np.iscomplexobj(a):
        return max(ulp_distance(a.real, b.real), ulp_distance(a.imag, b.imag))
    itype = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    ia = a.view(itype).astype(np.int64)
    ib = b.view(itype).astype(np.int64)
    if a.dtype.itemsize < 8:  # sign bit of the narrower int, widened by astype
        ia = np.where(ia < 0, ia & ((1 << (8 * a.dtype.itemsize)) - 1), ia)
        ib = np.where(ib < 0, ib & ((1 << (8 * a.dtype.itemsize)) - 1), ib)
    magnitude = np.int64((1 << (8 * a.dtype.itemsize - 1)) - 1)
    # Map the sign-magnitude bit patterns onto a monotonic integer line.
    neg_a = (ia.view(np.uint64) >> np.uint64(8 * a.dtype.itemsize - 1)) & np.uint64(1)
    neg_b = (ib.view(np.uint64) >> np.uint64(8 * a.dtype.itemsize - 1)) & np.uint64(1)
    ia = np.where(neg_a == 1, -(ia & magnitude), ia)
    ib = np.where(neg_b == 1, -(ib & magnitude), ib)
    return int(np.max(np.abs(ia - ib)))


def assert_moments(x, mean, std, kurtosis, *, sigmas=5.0):
    """Checks the sample mean and variance against the law's, bounds from n."""
    x = np.asarray(x, np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= sigmas * std / math.sqrt(n), (x.mean(), mean)
    rel = sigmas * math.sqrt((kurtosis - 1) / n)
    assert abs(x.var() / std**2 - 1) <= rel, (x.var(), std**2, rel)


def assert_ks(x, cdf, *, p_min=1e-3):
    """Kolmogorov-Smirnov against an exact law (scipy frozen distribution's cdf)."""
    result = scipy.stats.kstest(np.asarray(x, np.float64).ravel(), cdf)
    assert result.pvalue > p_min, result


#: XLA options for compiling a library's OWN init used as a reference sample
#: (Flax's, Equinox's, Haiku's ``init`` jitted over a zoo of modules). Compiling
#: with LLVM's optimizations off takes about 40% less CPU time; the random bits
#: are integer threefry (exact at any level) and the float transforms differ by at
#: most an ulp, so the sample's law is the same. Never used for jinit's own
#: draws or for bit-for-bit comparisons: those compile with the suite's flags
#: (conftest.FAST_COMPILE_FLAGS), which change no bits (tests/test_compile_flags.py).
REFERENCE_COMPILE = {"xla_backend_optimization_level": 0}

"""jinit: weight initializers for JAX, Flax and Keras users.

A drop-in for ``jax.nn.initializers`` (same names, same float32/float64 values)
that is right where JAX is not: narrow floats drawn in float32 and rounded once,
correct complex variance, ``out_sharding`` everywhere, identity/dirac, and clear
errors before anything is traced.
"""

from ._base import Init as Init
from ._caches import clear_caches as clear_caches
from ._constant import Constant as Constant
from ._constant import constant as constant
from ._constant import ones as ones
from ._constant import zeros as zeros
from ._distributions import Normal as Normal
from ._distributions import TruncatedNormal as TruncatedNormal
from ._distributions import Uniform as Uniform
from ._distributions import normal as normal
from ._distributions import truncated_normal as truncated_normal
from ._distributions import uniform as uniform
from ._fans import compute_fans as compute_fans
from ._fastprng import FAST_PRNG as FAST_PRNG
from ._logspace import InverseSoftplusLogUniform as InverseSoftplusLogUniform
from ._logspace import LogOfUniform as LogOfUniform
from ._logspace import LogUniform as LogUniform
from ._logspace import inverse_softplus_log_uniform as inverse_softplus_log_uniform
from ._logspace import log_of_uniform as log_of_uniform
from ._logspace import log_uniform as log_uniform
from ._normed import ColNormalized as ColNormalized
from ._normed import RowNormalized as RowNormalized
from ._normed import Sign as Sign
from ._normed import Spectral as Spectral
from ._normed import WithNorm as WithNorm
from ._normed import col_normalized as col_normalized
from ._normed import row_normalized as row_normalized
from ._normed import sign as sign
from ._normed import spectral as spectral
from ._normed import with_norm as with_norm
from ._prng import PRNGWarning as PRNGWarning
from ._roles import roles as roles
from ._signature import Abstract as Abstract
from ._signature import Signature as Signature
from ._structured import DeltaOrthogonal as DeltaOrthogonal
from ._structured import Dirac as Dirac
from ._structured import Identity as Identity
from ._structured import Orthogonal as Orthogonal
from ._structured import delta_orthogonal as delta_orthogonal
from ._structured import dirac as dirac
from ._structured import identity as identity
from ._structured import orthogonal as orthogonal
from ._tree import LayoutWarning as LayoutWarning
from ._tree import MeshInvariance as MeshInvariance
from ._tree import PerLeaf as PerLeaf
from ._tree import check_mesh_invariance as check_mesh_invariance
from ._tree import declared as declared
from ._tree import format_table as format_table
from ._tree import materialize as materialize
from ._tree import reinit as reinit
from ._tree import table as table
from ._types import Initializer as Initializer
from ._types import Rule as Rule
from ._variance import VarianceScaling as VarianceScaling
from ._variance import glorot_normal as glorot_normal
from ._variance import glorot_uniform as glorot_uniform
from ._variance import he_normal as he_normal
from ._variance import he_uniform as he_uniform
from ._variance import kaiming_normal as kaiming_normal
from ._variance import kaiming_uniform as kaiming_uniform
from ._variance import lecun_normal as lecun_normal
from ._variance import lecun_uniform as lecun_uniform
from ._variance import variance_scaling as variance_scaling
from ._variance import xavier_normal as xavier_normal
from ._variance import xavier_uniform as xavier_uniform

__version__ = "0.1.0"

__all__ = [
    "Abstract",
    "ColNormalized",
    "Constant",
    "DeltaOrthogonal",
    "Dirac",
    "FAST_PRNG",
    "Identity",
    "Init",
    "Initializer",
    "InverseSoftplusLogUniform",
    "LogOfUniform",
    "LogUniform",
    "LayoutWarning",
    "MeshInvariance",
    "Normal",
    "Orthogonal",
    "PRNGWarning",
    "PerLeaf",
    "RowNormalized",
    "Rule",
    "Sign",
    "Signature",
    "Spectral",
    "TruncatedNormal",
    "Uniform",
    "VarianceScaling",
    "check_mesh_invariance",
    "WithNorm",
    "clear_caches",
    "col_normalized",
    "compute_fans",
    "constant",
    "declared",
    "delta_orthogonal",
    "dirac",
    "format_table",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "inverse_softplus_log_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "log_of_uniform",
    "log_uniform",
    "materialize",
    "normal",
    "ones",
    "orthogonal",
    "reinit",
    "row_normalized",
    "sign",
    "spectral",
    "roles",
    "table",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "with_norm",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

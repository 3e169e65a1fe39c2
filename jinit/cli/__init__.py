"""``jinit report``: what an initializer does to a network, before training it.

    jinit report                                  # 50-layer MLP, relu and tanh
    jinit report --model cnn --depth 20 --width 64 --activation relu
    jinit report --init he_normal --init "normal(0.02)" --init HeUniform
    jinit report --model-path mypkg.nets:Net --input-shape 32,32,3
    jinit report --model-path mypkg.lm:LM --input-shape 128 --input-dtype int32

For every (activation, initializer) pair it measures the network's signal
propagation with :func:`jinit.diagnostics.measure` (one compilation per
activation; each initializer's kernels drawn as stacks of ``--seeds``
independent layers), prints a table with a verdict by the rules of
:func:`jinit.diagnostics.verdict`, and writes to ``--out``: ``weights.png``
(drawn weights with their law), ``depth_<act>.png`` (activation and gradient
RMS against depth) and ``summary.md``. Bad options: a one-line error, exit
code 2.
"""

from ._coord_check import coord_check_rows, coord_ratios
from ._main import main
from ._options import (
    ACTIVATIONS,
    AS_IS,
    COORD_FLAT,
    COORD_WIDTHS,
    DEFAULT_BATCH,
    DEFAULT_INITS,
    DEFAULT_SIZE,
    INPUT_DTYPES,
    MODELS,
    UsageError,
    is_initializer,
    parser,
    resolve_init,
)
from ._report import Model, build, draw_params, report

__all__ = [
    "ACTIVATIONS",
    "AS_IS",
    "COORD_FLAT",
    "COORD_WIDTHS",
    "DEFAULT_BATCH",
    "DEFAULT_INITS",
    "DEFAULT_SIZE",
    "INPUT_DTYPES",
    "MODELS",
    "Model",
    "UsageError",
    "build",
    "coord_check_rows",
    "coord_ratios",
    "draw_params",
    "is_initializer",
    "main",
    "parser",
    "report",
    "resolve_init",
]

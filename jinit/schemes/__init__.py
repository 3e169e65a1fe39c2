r"""Named schemes: the initializations large models are trained with, as rules.

Each builder returns an ordered ``dict`` of path regex -> rule for
:func:`jinit.materialize`, :func:`jinit.reinit` and :func:`jinit.flax.table`.
The rules are keyed by **role** (:data:`ROLES`: embedding, position embedding,
q/k/v, attention output, MLP in/out, norms, biases, readout, Fixup's ResNet
roles, ...), each role with a default path pattern (:data:`PATTERNS`) that
matches common Flax naming: linen ``MultiHeadDotProductAttention``/nnx
``MultiHeadAttention`` (``query``/``key``/``value``/``out``), Hugging Face's
Flax port names (``transformer/h/0/attn/c_attn/kernel``, ``mlp/c_proj``,
``wte``, ``wpe``, ``ln_f``), Llama/torchtitan, T5, BERT and ViT names. Override
any role's pattern with ``patterns={"mlp_out": r".*/down/kernel"}`` (None drops
it; a pattern you give is tried before the default ones).

**Every leaf is accounted for.** A leaf no role matches is an error of
``materialize`` (unless you pass ``default=``). A role a scheme scales (the
residual outputs, Fixup's branches) that matches no leaf while leaves of its
kind fell to the scheme's generic law (``kernel``: "any other kernel") is an
error naming those leaves and the ``patterns=`` to pass. On
:func:`jinit.flax.abstract` trees, a leaf whose modules contradict the role its
name gave (an ``out`` kernel inside an MLP class taken for attention's) is an
error too.

**Depth-indexed laws** (torchtitan, OLMo ``mitchell``) read the layer index from
the path (``layer=``, a regex whose first group is the index; default
:data:`LAYER`), or, for ``nn.scan``/``vmap``-stacked layers, from the position
along the stacked axis of a :func:`jinit.flax.abstract` leaf: the whole stacked
leaf is then drawn in one call, slice ``l`` from the law of layer ``l``
(:class:`LayerStack`).

>>> import jax, jinit, jinit.schemes
>>> rules = jinit.schemes.gpt2(n_layer=12)          # HF / nanoGPT GPT-2
>>> params = jinit.materialize(abstract, jax.random.key(0), rules)  # doctest: +SKIP

**Mixture-of-experts and state-space models** (:func:`deepseek_v3`,
:func:`qwen3_moe`, :func:`mixtral`, :func:`olmoe`, :func:`gpt_oss`,
:func:`qwen3_next`, :func:`mamba2`) have roles of their own, tried first:
``router`` (``mlp/gate``), ``router_bias``, ``score_correction_bias``, the 3-D
routed experts ``expert_in``/``expert_out`` (``mlp/experts/gate_up_proj``,
``down_proj``) and ``expert_bias``, ``attention_sink``, MLA's ``mla_down``/
``mla_up``, and a mixer's ``ssm_in``, ``ssm_conv``, ``ssm_conv_bias``,
``ssm_dt_bias``, ``ssm_a_log``, ``ssm_d``, ``ssm_norm``, ``ssm_out``. Other
schemes give them no law (those leaves fall to their generic role, as before).
Where the model's own recipe and transformers disagree, ``source="paper"``
(the default) or ``"transformers"``.

Every scheme documents, as a table, each role's law at its model's default size
and the source code it reproduces; ``tests/test_schemes.py`` and
``tests/test_schemes_hf.py`` compare the Hugging Face schemes with
``transformers``' own PyTorch models. :func:`from_hf_config` picks the scheme
and its sizes from a checkpoint's ``config.json``.
"""

from ._depth import LAYER, DepthScaled, LayerStack, StackLaw, layer_index, stack_law
from ._gemma3 import gemma3
from ._hf_config import from_hf_config
from ._moe import deepseek_v3, gpt_oss, mixtral, olmoe, qwen3_moe
from ._olmo import olmo, olmo2, olmo_core
from ._qwen3 import qwen3
from ._residual import (
    DeepNetCoefficients,
    ZerO,
    deepnet,
    deepnet_coefficients,
    fixup,
    rezero,
    skipinit,
    tfixup,
    zero,
    zero_matrix,
)
from ._roles import GENERIC, PATTERNS, ROLES, rules
from ._ssm import mamba2, qwen3_next
from ._transformers import (
    bert,
    gpt2,
    llama,
    megatron,
    roberta,
    t5,
    torchtitan_llama3,
    vit,
)

__all__ = [
    "GENERIC",
    "LAYER",
    "PATTERNS",
    "ROLES",
    "DeepNetCoefficients",
    "DepthScaled",
    "LayerStack",
    "StackLaw",
    "ZerO",
    "bert",
    "deepnet",
    "deepnet_coefficients",
    "deepseek_v3",
    "fixup",
    "from_hf_config",
    "gemma3",
    "gpt2",
    "gpt_oss",
    "layer_index",
    "llama",
    "mamba2",
    "megatron",
    "mixtral",
    "olmo",
    "olmo2",
    "olmo_core",
    "olmoe",
    "qwen3",
    "qwen3_moe",
    "qwen3_next",
    "rezero",
    "roberta",
    "rules",
    "skipinit",
    "stack_law",
    "t5",
    "tfixup",
    "torchtitan_llama3",
    "vit",
    "zero",
    "zero_matrix",
]

"""Mixture-of-experts widths and routers (jinit._experts, jinit._widths).

A tiny MoE block, Flax linen: a router ``mlp/gate`` (d, E), the experts'
up-projection declared in one call ``(E, d, f)`` (HF v5 and MaxText layouts)
and their down-projection ``nn.vmap``-ed Denses (``(E, f, d)``, the stack the
expert axis). The
number of experts E is a batch-like width axis: it is reported
(``LeafRole.expert_axes``, ``expert_mult``, ``width_axes``) and changes no μP
multiplier; the expert hidden size f is a fan axis of each expert. The router
is routed to Adam by its role, with and without ``base=``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

nn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")

import jinit  # noqa: E402
import jinit.flax as jf  # noqa: E402
from jinit import mup, optim  # noqa: E402

pytestmark = pytest.mark.standard_promotion  # optax's and Flax's internals

mdn = optax.contrib.MuonDimensionNumbers
K, DIN, DOUT = 2, 12, 10  # experts per token, input size, classes


class Moe(nn.Module):
    """Top-k routed experts (all computed, the top-k weighted: a tiny block)."""

    d: int
    f: int
    e: int
    mult: float = 1.0  # the router's logit multiplier (μP: 1 / m of d)
    vmapped: bool = True  # the down-projection vmapped, else one (E, f, d) call
    k: int = K  # experts per token

    @nn.compact
    def __call__(self, h):
        logits = nn.Dense(self.e, use_bias=False, name="gate")(h * self.mult)
        top, _ = jax.lax.top_k(logits, self.k)
        chosen = logits >= top[..., -1:]
        g = jax.nn.softmax(jnp.where(chosen, logits, -jnp.inf), axis=-1)
        init = nn.initializers.lecun_normal()
        wi = self.param("gate_up_proj", init, (self.e, self.d, self.f))
        y = nn.relu(jnp.einsum("bd,edf->bef", h, wi))
        if not self.vmapped:
            wo = self.param("down_proj", init, (self.e, self.f, self.d))
            return h + jnp.einsum("be,bef,efd->bd", g, y, wo)
        vmapped = nn.vmap(
            nn.Dense,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=1,
            out_axes=1,
            axis_size=self.e,
        )
        z = vmapped(self.d, use_bias=False, name="experts")(y)
        return h + jnp.einsum("be,bed->bd", g, z)


class Net(nn.Module):
    width: int  # d_model and expert hidden size; E = width // 8
    mult: float = 1.0
    vmapped: bool = True

    @nn.compact
    def __call__(self, x):
        w = self.width
        h = nn.Dense(w, name="embed_in")(x)
        h = Moe(w, w, w // 8, self.mult, self.vmapped, name="mlp")(h)
        return nn.Dense(DOUT, name="readout")(h * self.mult)


X = jnp.zeros((2, DIN))
_CACHE: dict = {}


def _abstract(width):
    if width not in _CACHE:
        _CACHE[width] = jf.abstract(Net(width), X)["params"]
    return _CACHE[width]


def test_expert_axes_and_multipliers_with_a_base():
    """d 16 -> 64, f 16 -> 64, E 2 -> 8: per-expert fans ×4, experts ×4."""
    r = jinit.roles(_abstract(64), base=_abstract(16))
    gate, wi = r["mlp/gate/kernel"], r["mlp/gate_up_proj"]
    vm = r["mlp/experts/kernel"]
    assert gate.role == "router" and gate.width_role == "readout"
    assert (gate.expert_axes, gate.fan_in_mult, gate.fan_out_mult) == ((1,), 4.0, 1.0)
    assert gate.expert_mult == 4.0 and gate.width_axes == (0, 1)
    assert wi.expert_axes == (0,) and wi.width_axes == (0, 1, 2)
    assert (wi.fan_in_mult, wi.fan_out_mult, wi.expert_mult) == (4, 4, 4)
    assert wi.width_role == "hidden" and wi.role == "other"  # named by its path
    assert vm.stacked_axes == (0,) and vm.expert_axes == (0,)
    assert vm.width_axes == (0, 1, 2) and vm.expert_mult == 4.0
    assert vm.role == "hidden" and vm.width_mult == 4.0
    assert r["readout/kernel"].role == "readout"


def test_widening_experts_alone_changes_no_multiplier():
    """E 2 -> 8 at d = f = 16: the experts and the router keep every μP rule."""

    class Wide(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(16, name="embed_in")(x)
            return nn.Dense(DOUT, name="readout")(Moe(16, 16, 8, name="mlp")(h))

    target = jf.abstract(Wide(), X)["params"]
    mp = mup.parametrize(_abstract(16), target, readout=r"readout/kernel")
    for path in ("mlp/gate/kernel", "mlp/gate_up_proj", "mlp/experts/kernel"):
        p, leaf = mp[path], mp.roles[path]
        assert leaf.expert_mult == 4.0 and p.role == "finite", path
        assert (p.init_mult, p.adam_lr, p.adam_eps, p.sgd_lr) == (1, 1, 1, 1)
    assert mp.roles["mlp/gate/kernel"].role == "router"


def test_expert_hidden_size_alone_is_a_fan_axis():
    """f 16 -> 64 at d = 16: the up-projection is an input weight, the down
    projection's fan-in alone is width (μP's readout rule), but an expert is
    never routed as the readout."""

    class Wide(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(16, name="embed_in")(x)
            return nn.Dense(DOUT, name="readout")(Moe(16, 64, 2, name="mlp")(h))

    target = jf.abstract(Wide(), X)["params"]
    r = jinit.roles(target, base=_abstract(16), readout=r"readout/kernel")
    assert r["mlp/gate_up_proj"].width_role == "input"
    vm = r["mlp/experts/kernel"]
    assert (vm.width_role, vm.role, vm.expert_mult) == ("readout", "hidden", 1.0)


def test_router_goes_to_adam_with_and_without_base():
    """The router's role routes it (MaxText, DeepSeek-V4: gating to Adam)."""
    target = _abstract(64)
    named = {r"mlp/gate_up_proj": mdn((1,), (2,))}
    one = optim.dimension_numbers(
        target, readout=r"readout/kernel", dimension_numbers=named
    )
    two = optim.dimension_numbers(target, base=_abstract(16), dimension_numbers=named)
    assert one == two
    assert one["mlp/gate/kernel"] is None
    assert one["mlp/experts/kernel"] == mdn((1,), (2,))  # vmapped: E a batch axis
    assert jinit.roles(target, readout=None)["mlp/gate/kernel"].role == "router"


def test_a_router_at_the_top_level():
    r = jinit.roles(jf.abstract(Moe(16, 16, 4), jnp.zeros((2, 16)))["params"])
    assert r["gate/kernel"].role == "router" and r["experts/kernel"].expert_axes == (0,)


def test_a_gate_projection_without_experts_is_no_router():
    class Mlp(nn.Module):
        @nn.compact
        def __call__(self, x):
            g = nn.Dense(8, use_bias=False, name="gate")(x)
            return nn.Dense(DOUT, name="down")(nn.silu(g))

    r = jinit.roles(jf.abstract(Mlp(), X)["params"], readout=r"down/kernel")
    assert r["gate/kernel"].role == "hidden" and r["gate/kernel"].expert_axes == ()


def _net(width, mp):
    return Net(width, mult=mp.output_multiplier, vmapped=False)


def _xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def test_coord_check_of_a_moe_widening_d_f_and_experts():
    """Widths 16 -> 64 (d, f ×4, E 2 -> 8, top-2; zero readout and router, as
    mup's check, the router's logits × 1/m as a readout's). Under μP no
    module's mean |activation| grows with width (ratios in [0.5, 1.3] for t =
    1..3; the router's logits are the lowest, 0.63: with more experts fewer
    tokens reach each one, under SP alike); under SP the router's and the
    readout's grow (> 2.5×)."""
    widths = (16, 64)
    x = jax.random.normal(jax.random.key(0), (32, DIN))
    y = jax.random.randint(jax.random.key(1), (32,), 0, DOUT)
    rules = {r".*bias": jinit.zeros, r".*": jinit.lecun_normal()}
    rows = mup.coord_check(
        _net,
        widths,
        x,
        y,
        _xent,
        rules,
        learning_rate=2e-2,
        override={r".*(readout|gate)/kernel": jinit.zeros},
    )
    l1 = {(r["variant"], r["module"], r["t"], r["width"]): r["l1"] for r in rows}
    ratio = {
        (v, m, t): l1[(v, m, t, widths[1])] / l1[(v, m, t, widths[0])]
        for (v, m, t, w) in l1
        if w == widths[0] and l1[(v, m, t, w)] > 0  # zero-init modules at t = 1
    }
    mu = {k: r for k, r in ratio.items() if k[0] == "mup"}
    assert {"mlp", "mlp/gate", "readout"} <= {m for _, m, _ in mu}, mu
    assert all(0.5 < r < 1.3 for r in mu.values()), mu
    sp = {m: r for (v, m, t), r in ratio.items() if v == "sp" and t == 3}
    assert sp["mlp/gate"] > 2.5 and sp["readout"] > 2.5, sp


class MoeBlock(nn.Module):
    e: int

    @nn.compact
    def __call__(self, h, _):
        return Moe(16, 16, self.e, name="mlp")(h), None


class ScanMoe(nn.Module):
    """``nn.scan``-stacked blocks, each a router and vmapped experts."""

    depth: int
    e: int

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(16, name="embed_in")(x)
        stack = nn.scan(
            MoeBlock,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        h, _ = stack(self.e, name="layers")(h, None)
        return nn.Dense(DOUT, name="readout")(h)


def test_completep_depth_leaves_the_stacked_experts_out():
    """Depth 2 -> 4 and experts 2 -> 8: the stacked (layer, expert) leaves give
    L / L_base = 2 as the others do (not 8); the expert axis is reported."""
    base = jf.abstract(ScanMoe(2, 2), X)["params"]
    target = jf.abstract(ScanMoe(4, 8), X)["params"]
    mp = mup.parametrize(base, target, variant="completep", alpha=1.0, readout=None)
    assert mp.depth_mult == 2.0
    vm = mp.roles["layers/mlp/experts/kernel"]
    assert vm.stacked_axes == (0, 1) and vm.expert_axes == (1,)
    assert vm.expert_mult == 4.0 and mp.roles["layers/mlp/gate/kernel"].role == "router"

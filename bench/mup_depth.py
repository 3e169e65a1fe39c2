"""Depth transfer: the best Adam learning rate across depths, μP against CompleteP.

The byte-level GPT of ``mup_transfer.py`` (pre-LN, ``nn.scan``-stacked blocks,
trained on the Python standard library's ``.py`` files) at one width, with
``depth`` blocks, each residual branch multiplied by ``mp.residual_multiplier``.
``jinit.mup.parametrize`` compares the model at the base depth with the one at
``depth`` (the stacked axes give ``m_L = L / L_base``): under ``"mup"`` nothing
depends on depth (at one width μP is SP); under ``"completep"`` (Dey et al. 2025)
the branches are ``x + m_L^(-alpha) f(x)``, the blocks' Adam LR is ``× m_L^(alpha -
1)`` and their eps ``× m_L^(-alpha)``. For each depth every learning rate of a grid
in factors of 2 trains from the same init on the same batches (``vmap`` over the
learning rates); the held-out loss is recorded. CompleteP's claim: the best LR
stays put across depth (and deeper is better near it); without the depth rules
it drifts.

    python bench/mup_depth.py                    # width 64, depths 2..16
    python bench/mup_depth.py --quick            # a small smoke run
    python bench/mup_depth.py --depths 2,4,8 --width 32 --steps 100 --out /tmp/d
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flax.linen as nn  # noqa: E402
import optax  # noqa: E402
from _common import environment, table  # noqa: E402
from mup_transfer import HEADS, VOCAB, batches, corpus, xent  # noqa: E402

import jinit  # noqa: E402
import jinit.flax  # noqa: E402
import jinit.mup  # noqa: E402


class Block(nn.Module):
    d: int
    residual_mult: float

    @nn.compact
    def __call__(self, x, _):
        mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
        scale = (self.d // HEADS) ** -0.5
        h = nn.MultiHeadDotProductAttention(
            HEADS, attention_fn=jinit.mup.attention_fn(scale)
        )(nn.LayerNorm()(x), mask=mask)
        x = x + self.residual_mult * h
        h = nn.Dense(4 * self.d)(nn.LayerNorm()(x))
        return x + self.residual_mult * nn.Dense(self.d)(nn.gelu(h)), None


class DeepGPT(nn.Module):
    d: int
    depth: int
    seq: int
    residual_mult: float = 1.0

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, self.d)(tokens)
        x = x + nn.Embed(self.seq, self.d, name="pos")(jnp.arange(tokens.shape[1]))
        blocks = nn.scan(
            Block,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = blocks(self.d, self.residual_mult)(x, None)
        return nn.Dense(VOCAB, name="readout")(nn.LayerNorm()(x))


VARIANTS = {"mup": {"variant": "mup"}, "completep": {"variant": "completep"}}


def run_depth(name, depth, args, train, val, lrs):
    """Final held-out loss of each learning rate at one depth."""
    shape_tokens = jnp.zeros((1, args.seq), jnp.int32)
    kwargs = dict(VARIANTS[name])
    if name == "completep":
        kwargs["alpha"] = args.alpha
    base = jinit.flax.abstract(
        DeepGPT(args.width, args.base_depth, args.seq), shape_tokens
    )
    target = jinit.flax.abstract(DeepGPT(args.width, depth, args.seq), shape_tokens)
    mp = jinit.mup.parametrize(base, target, **kwargs)
    net = DeepGPT(args.width, depth, args.seq, residual_mult=mp.residual_multiplier)
    params = jinit.materialize(
        target, jax.random.key(args.seed), mp.rules(jinit.flax.defaults("flax"))
    )

    def loss_fn(p, chunk):
        return xent(net.apply(p, chunk[:, :-1]), chunk[:, 1:])

    def one_step(p, state, chunk, lr):
        loss, grads = jax.value_and_grad(loss_fn)(p, chunk)
        updates, state = mp.adam(lr).update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    n = len(lrs)
    stack = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), params)
    state = jax.vmap(mp.adam(1.0).init)(stack)
    step = jax.jit(jax.vmap(one_step, in_axes=(0, 0, None, 0)))
    evaluate = jax.jit(jax.vmap(loss_fn, in_axes=(0, None)))
    lr_array = jnp.asarray(lrs, jnp.float32)
    start = time.perf_counter()
    for chunk in train:
        stack, state, _ = step(stack, state, jnp.asarray(chunk), lr_array)
    val_loss = np.mean([np.asarray(evaluate(stack, jnp.asarray(c))) for c in val], 0)
    seconds = time.perf_counter() - start
    losses = [float(v) if np.isfinite(v) else float("nan") for v in val_loss]
    return losses, seconds, mp.residual_multiplier


def plot(results, lrs, depths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.8))
    axes = np.atleast_1d(axes)
    for ax, (v, by_depth) in zip(axes, results.items(), strict=True):
        for L in depths:
            ax.plot(np.log2(lrs), by_depth[L], marker="o", label=f"depth {L}")
        ax.set_title(v)
        ax.set_xlabel("log2 learning rate")
        ax.set_ylabel("held-out loss (nats/byte)")
        finite = [x for L in depths for x in by_depth[L] if np.isfinite(x)]
        if finite:
            ax.set_ylim(min(finite) - 0.05, min(max(finite), min(finite) + 2.0))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--depths", default=None, help="comma-separated depths")
    parser.add_argument("--base-depth", type=int, default=None)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=1.0, help="CompleteP's alpha")
    parser.add_argument("--lrs", default=None, help="log2 LRs, e.g. -10,-4 (a range)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".")
    args = parser.parse_args(argv)
    if args.quick:
        depths, lo_hi, steps = [2, 4], (-8, -6), 10
        args.width = min(args.width, 32)
    else:
        depths, lo_hi, steps = [2, 4, 8, 16], (-10, -4), 200
    if args.depths:
        depths = [int(x) for x in args.depths.split(",")]
    if args.lrs:
        lo_hi = tuple(int(x) for x in args.lrs.split(","))
    args.steps = args.steps or steps
    args.base_depth = args.base_depth or depths[0]
    lrs = [2.0**k for k in range(lo_hi[0], lo_hi[1] + 1)]
    data = corpus(4 << 20)
    split = int(0.95 * len(data))
    train = batches(data[:split], args.steps, args.batch, args.seq, args.seed)
    val = batches(data[split:], 8, args.batch, args.seq, args.seed + 1)
    label = {"mup": "mup", "completep": f"completep (alpha {args.alpha:g})"}
    results: dict[str, dict[int, list[float]]] = {}
    records = []
    for name in VARIANTS:
        results[label[name]] = {}
        for L in depths:
            if name == "completep" and L == args.base_depth and "mup" in VARIANTS:
                # m_L = 1: CompleteP is muP (the same rules, init and batches).
                losses, seconds, mult = results[label["mup"]][L], 0.0, 1.0
            else:
                losses, seconds, mult = run_depth(name, L, args, train, val, lrs)
            results[label[name]][L] = losses
            best = int(np.nanargmin(losses))
            records.append(
                {
                    "variant": label[name],
                    "depth": L,
                    "residual_multiplier": mult,
                    "losses": losses,
                    "best_log2_lr": int(np.log2(lrs[best])),
                    "seconds": seconds,
                }
            )
            print(
                f"{label[name]:>22} depth {L:3d}: best log2 lr {np.log2(lrs[best]):+.0f}, "
                f"loss {losses[best]:.4f} ({seconds:.0f} s); losses "
                + " ".join(f"{x:.4f}" for x in losses),
                flush=True,
            )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    lines = [
        "## Depth transfer: held-out loss against log2 Adam LR (`bench/mup_depth.py`)",
        "",
        f"{env['date']}; {env['machine']}; backend {env['backend']}; {env['versions']}.",
        f"Byte-level GPT, width {args.width}, {HEADS} heads, seq {args.seq}, batch "
        f"{args.batch}, {args.steps} Adam steps, base depth {args.base_depth}, corpus: "
        f"the standard library's .py files (Python {sys.version.split()[0]}).",
        "",
    ]
    for variant, by_depth in results.items():
        headers = ["log2 lr"] + [f"depth {L}" for L in depths]
        rows = [
            [f"{np.log2(lr):+.0f}"] + [f"{by_depth[L][i]:.4f}" for L in depths]
            for i, lr in enumerate(lrs)
        ]
        rows.append(
            ["**best**"]
            + [f"{np.log2(lrs[int(np.nanargmin(by_depth[L]))]):+.0f}" for L in depths]
        )
        lines += [f"### {variant}", "", table(headers, rows), ""]
    (out / "mup_depth.md").write_text("\n".join(lines))
    (out / "mup_depth.json").write_text(
        json.dumps({"environment": env, "lrs": lrs, "records": records}, indent=1)
    )
    plot(results, lrs, depths, out / "mup_depth.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

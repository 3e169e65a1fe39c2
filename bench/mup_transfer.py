"""μTransfer: the best learning rate across widths, SP against μP (jinit.mup).

A small GPT-style byte-level language model (pre-LN, ``nn.scan``-stacked blocks,
4 heads whose head dim grows with the width) is trained on the Python standard
library's own ``.py`` files, read from the running interpreter (offline, the same
text on every machine with the same Python). For each variant and width, every
learning rate of a grid in factors of 2 is trained from the same init on the same
batches (``vmap`` over the learning rates: one compile per width), and the loss on
held-out text is recorded. Under μP the best learning rate should stay put across
widths (and wider be better near it); under SP it shifts.

``--optimizer muon`` trains with ``jinit.optim.muon`` of each width's
parametrization: the hidden matrices by Muon (``--muon-scale``, default
``unit_rms_norm``), the embeddings, readout and vectors by the variant's Adam at
``--adam-lr-ratio`` times the swept learning rate. ``--variants`` takes any
variant name of ``jinit.mup.parametrize`` (``sp,mup``; ``spectral`` where that
variant exists).

    python bench/mup_transfer.py                 # widths 64..512, 300 steps
    python bench/mup_transfer.py --quick         # a small smoke run
    python bench/mup_transfer.py --widths 64,128 --steps 200 --out /tmp/mup
    python bench/mup_transfer.py --coord-check --widths 32,64,128,256  # the figure
    python bench/mup_transfer.py --optimizer muon            # SP and μP with Muon
    python bench/mup_transfer.py --optimizer muon --quick --variants sp,mup,spectral
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

import jinit  # noqa: E402
import jinit.flax  # noqa: E402
import jinit.mup  # noqa: E402
import jinit.optim  # noqa: E402

VOCAB = 256  # bytes
HEADS = 4


def corpus(max_bytes: int) -> np.ndarray:
    """The standard library's .py files (sorted paths), as bytes."""
    root = pathlib.Path(os.__file__).parent
    chunks, size = [], 0
    for path in sorted(root.glob("*.py")):
        data = path.read_bytes()
        chunks.append(data)
        size += len(data)
        if size >= max_bytes:
            break
    return np.frombuffer(b"".join(chunks)[:max_bytes], dtype=np.uint8)


class Block(nn.Module):
    d: int
    attn_scale: float

    @nn.compact
    def __call__(self, x, _):
        mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
        h = nn.MultiHeadDotProductAttention(
            HEADS, attention_fn=jinit.mup.attention_fn(self.attn_scale)
        )(nn.LayerNorm()(x), mask=mask)
        x = x + h
        h = nn.Dense(4 * self.d)(nn.LayerNorm()(x))
        return x + nn.Dense(self.d)(nn.gelu(h)), None


class GPT(nn.Module):
    d: int
    depth: int
    seq: int
    logit_mult: float = 1.0
    attn_scale: float | None = None

    @nn.compact
    def __call__(self, tokens):
        scale = self.attn_scale or (self.d // HEADS) ** -0.5
        x = nn.Embed(VOCAB, self.d)(tokens)
        x = x + nn.Embed(self.seq, self.d, name="pos")(jnp.arange(tokens.shape[1]))
        blocks = nn.scan(
            Block,
            variable_axes={"params": 0, "intermediates": 0},
            split_rngs={"params": True},
            length=self.depth,
        )
        x, _ = blocks(self.d, scale)(x, None)
        x = nn.LayerNorm()(x) * self.logit_mult
        return nn.Dense(VOCAB, name="readout")(x)


def batches(data: np.ndarray, n: int, batch: int, seq: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(data) - seq - 1, size=(n, batch))
    idx = starts[..., None] + np.arange(seq + 1)
    return data[idx].astype(np.int32)


def xent(logits, tokens):
    return optax.softmax_cross_entropy_with_integer_labels(logits, tokens).mean()


def optimizer(mp, args):
    """The optimizer at learning rate 1 (the swept rate multiplies its updates)."""
    if args.optimizer == "adam":
        return mp.adam(1.0, weight_decay=0.0)
    return jinit.optim.muon(
        mp, 1.0, scale=args.muon_scale, adam_learning_rate=args.adam_lr_ratio
    )


def run_width(variant, width, base_width, args, train, val, lrs):
    """Final held-out loss of each learning rate at one width."""
    shape_tokens = jnp.zeros((1, args.seq), jnp.int32)

    def model(d, mp):
        head, base_head = d // HEADS, base_width // HEADS
        return GPT(
            d,
            args.depth,
            args.seq,
            logit_mult=mp.output_multiplier,
            attn_scale=mp.attention_scale(head, base_head_dim=base_head),
        )

    sp = jinit.mup.identity()
    base = jinit.flax.abstract(model(base_width, sp), shape_tokens)
    target = jinit.flax.abstract(model(width, sp), shape_tokens)
    # Muon routes the readout to Adam: named, as the base width cannot tell it.
    named = {"readout": r".*readout/kernel"} if args.optimizer == "muon" else {}
    mp = jinit.mup.parametrize(base, target, variant=variant, **named)
    net = model(width, mp)
    # u-μP and spectral μP draw every parameter by their own rule (no base rules).
    own = mp.variant.init == "unit"
    rules = mp.rules(None if own else jinit.flax.defaults("flax"))
    params = jinit.materialize(target, jax.random.key(args.seed), rules)

    def loss_fn(p, chunk):
        return xent(net.apply(p, chunk[:, :-1]), chunk[:, 1:])

    tx = optimizer(mp, args)

    def one_step(p, state, chunk, lr):
        # The learning rate is the chains' last factor (no weight decay): the
        # updates at rate 1, times lr, are those at lr; lr is traced (vmapped).
        loss, grads = jax.value_and_grad(loss_fn)(p, chunk)
        updates, state = tx.update(grads, state, p)
        updates = jax.tree.map(lambda u: (lr * u).astype(u.dtype), updates)
        return optax.apply_updates(p, updates), state, loss

    n = len(lrs)

    @jax.jit  # one compile for the setup (eager, each broadcast and init op compiles)
    def setup(params):
        stack = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), params)
        return stack, jax.vmap(tx.init)(stack)

    stack, state = setup(params)
    step = jax.jit(jax.vmap(one_step, in_axes=(0, 0, None, 0)))
    evaluate = jax.jit(jax.vmap(loss_fn, in_axes=(0, None)))
    lr_array = jnp.asarray(lrs, jnp.float32)
    start = time.perf_counter()
    for chunk in train:
        stack, state, loss = step(stack, state, jnp.asarray(chunk), lr_array)
    val_loss = np.mean([np.asarray(evaluate(stack, jnp.asarray(c))) for c in val], 0)
    seconds = time.perf_counter() - start
    return [float(v) if np.isfinite(v) else float("nan") for v in val_loss], seconds


def plot(results, lrs, widths, path, opt="adam"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(results)
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.8))
    axes = np.atleast_1d(axes)
    for ax, v in zip(axes, variants, strict=True):
        for w in widths:
            ax.plot(np.log2(lrs), results[v][w], marker="o", label=f"width {w}")
        names = {"sp": "SP", "mup": "μP (jinit.mup)", "spectral": "spectral μP"}
        ax.set_title(names.get(v, v) + (f", {opt}" if opt != "adam" else ""))
        ax.set_xlabel("log2 learning rate")
        ax.set_ylabel("held-out loss (nats/byte)")
        finite = [x for w in widths for x in results[v][w] if np.isfinite(x)]
        if finite:
            ax.set_ylim(min(finite) - 0.05, min(max(finite), min(finite) + 2.0))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def coord_check(args, widths, data, out):
    """microsoft/mup's coord check on this GPT: l1 per module, step and width."""
    chunk = jnp.asarray(batches(data, 1, args.batch, args.seq, args.seed)[0])
    base_width = args.base_width or widths[0]

    def make(width, mp):
        return GPT(
            width,
            args.depth,
            args.seq,
            logit_mult=mp.output_multiplier,
            attn_scale=mp.attention_scale(
                width // HEADS, base_head_dim=base_width // HEADS
            ),
        )

    rows = jinit.mup.coord_check(
        make,
        widths,
        chunk[:, :-1],
        chunk[:, 1:],
        xent,
        jinit.flax.defaults("flax"),
        base_width=base_width,
        learning_rate=2.0**-7,
        steps=4,
        key=jax.random.key(args.seed),
        # microsoft/mup's recommendation (its output otherwise starts at O(1/sqrt(m))).
        override={r".*/readout/(kernel|bias)": jinit.zeros},
    )
    jinit.mup.plot_coord_check(rows, str(out / "mup_coord_check.png"))
    lines = [
        "| variant | t | largest l1 ratio, widest / narrowest (module) |",
        "|---|---|---|",
    ]
    for variant in ("sp", "mup"):
        for t in range(1, 5):
            l1 = {
                (r["module"], r["width"]): r["l1"]
                for r in rows
                if r["variant"] == variant and r["t"] == t
            }
            ratios = {
                m: l1[(m, widths[-1])] / l1[(m, widths[0])]
                for m, w in l1
                if w == widths[0] and l1[(m, w)] > 0
            }
            worst = max(ratios, key=lambda m: abs(np.log(ratios[m])))
            lines.append(f"| {variant} | {t} | {ratios[worst]:.2f} ({worst}) |")
    (out / "mup_coord_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--widths", default=None, help="comma-separated widths")
    parser.add_argument("--base-width", type=int, default=None)
    parser.add_argument("--lrs", default=None, help="log2 LRs, e.g. -12,-4 (a range)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="sp,mup", help="e.g. sp,mup,spectral")
    parser.add_argument("--optimizer", choices=("adam", "muon"), default="adam")
    parser.add_argument(
        "--muon-scale", choices=jinit.optim.SCALES, default="unit_rms_norm"
    )
    parser.add_argument(
        "--adam-lr-ratio",
        type=float,
        default=2.0**-5,
        help="Muon only: the Adam leaves' LR over the swept (Muon) LR",
    )
    parser.add_argument("--out", default=".")
    parser.add_argument(
        "--coord-check", action="store_true", help="only the coord-check figure"
    )
    args = parser.parse_args(argv)
    muon = args.optimizer == "muon"
    if args.quick:
        widths, lo_hi, steps = [32, 64], (-7, -3) if muon else (-10, -6), 20
    else:
        widths, lo_hi, steps = (
            [64, 128, 256, 512],
            (-10, -2) if muon else (-13, -5),
            300,
        )
    if args.widths:
        widths = [int(w) for w in args.widths.split(",")]
    if args.lrs:
        lo_hi = tuple(int(x) for x in args.lrs.split(","))
    args.steps = args.steps or steps
    base_width = args.base_width or widths[0]
    lrs = [2.0**k for k in range(lo_hi[0], lo_hi[1] + 1)]
    data = corpus(4 << 20)
    if args.coord_check:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        coord_check(args, widths, data, out)
        return
    split = int(0.95 * len(data))
    train = batches(data[:split], args.steps, args.batch, args.seq, args.seed)
    val = batches(data[split:], 8, args.batch, args.seq, args.seed + 1)
    results: dict[str, dict[int, list[float]]] = {}
    records = []
    for variant in args.variants.split(","):
        results[variant] = {}
        for w in widths:
            losses, seconds = run_width(variant, w, base_width, args, train, val, lrs)
            results[variant][w] = losses
            best = int(np.nanargmin(losses))
            records.append(
                {
                    "variant": variant,
                    "width": w,
                    "losses": losses,
                    "best_log2_lr": int(np.log2(lrs[best])),
                    "seconds": seconds,
                }
            )
            print(
                f"{variant:>4} width {w:4d}: best log2 lr {np.log2(lrs[best]):+.0f}, "
                f"loss {losses[best]:.4f} ({seconds:.0f} s); losses "
                + " ".join(f"{x:.4f}" for x in losses),
                flush=True,
            )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    if muon:
        what = "Muon LR (`bench/mup_transfer.py --optimizer muon`)"
        steps_of = (
            f"Muon steps ({args.muon_scale}; Adam LR x {args.adam_lr_ratio:g} for "
            "embeddings, readout, vectors)"
        )
    else:
        what, steps_of = "Adam LR (`bench/mup_transfer.py`)", "Adam steps"
    lines = [
        f"## μTransfer: held-out loss against log2 {what}",
        "",
        f"{env['date']}; {env['machine']}; backend {env['backend']}; {env['versions']}.",
        f"Byte-level GPT, depth {args.depth}, {HEADS} heads, seq {args.seq}, batch "
        f"{args.batch}, {args.steps} {steps_of}, base width {base_width}, corpus: "
        f"the standard library's .py files (Python {sys.version.split()[0]}).",
        "",
    ]
    for variant in results:
        headers = ["log2 lr"] + [f"width {w}" for w in widths]
        rows = []
        for i, lr in enumerate(lrs):
            rows.append(
                [f"{np.log2(lr):+.0f}"]
                + [f"{results[variant][w][i]:.4f}" for w in widths]
            )
        best = [
            f"{np.log2(lrs[int(np.nanargmin(results[variant][w]))]):+.0f}"
            for w in widths
        ]
        rows.append(["**best**"] + best)
        lines += [f"### {variant}", "", table(headers, rows), ""]
    name = "mup_transfer_muon" if muon else "mup_transfer"
    (out / f"{name}.md").write_text("\n".join(lines))
    (out / f"{name}.json").write_text(
        json.dumps(
            {
                "environment": env,
                "optimizer": args.optimizer,
                "lrs": lrs,
                "records": records,
            },
            indent=1,
        )
    )
    plot(results, lrs, widths, out / f"{name}.png", args.optimizer)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""One process of the 2-process test in test_multihost.py (not a test module).

Usage: python multihost_worker.py PROCESS_ID PORT REFERENCE.npz

Joins a 2-process, 8-device CPU cluster on 127.0.0.1:PORT (4 CPU devices in
each process), materializes :func:`case`'s tree sharded over one global (2, 4)
mesh, and checks every addressable shard against the single-process reference
that the test computed with :func:`reference`. Prints "OK <shards checked>" and
exits 0, or prints the first mismatch and exits 1.

JAX is imported only inside the functions, so that the test can import this
module without touching its own JAX setup.
"""

import os
import sys

SEED = 3


def case():
    """The tree, rules and PartitionSpecs (by path) both sides use."""
    import jax
    from jax.sharding import PartitionSpec as P

    import jinit

    S = jax.ShapeDtypeStruct
    tree = {
        "embed": S((64, 32), "float32"),
        "layers": [{"w": S((32, 64), "float32"), "b": S((64,), "float32")}] * 3,
        "head": S((32, 16), "bfloat16"),
    }
    rules = {
        "embed": jinit.normal(1.0),
        r"layers/\d+/w": jinit.he_normal(),
        r"layers/\d+/b": jinit.uniform(0.1),
        "head": jinit.glorot_uniform(),
    }
    specs = {
        "embed": P("a", "b"),
        "head": P("b"),
        **{f"layers/{i}/w": P(None, ("a", "b")) for i in range(3)},
        **{f"layers/{i}/b": P("b") for i in range(3)},
    }
    return tree, rules, specs


def flat(tree):
    import jax

    from jinit import _tree

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_tree.path_string(p): x for p, x in leaves}


def bits(x):
    """The bit pattern of an array (npz cannot hold bfloat16)."""
    import numpy as np

    x = np.asarray(x)
    return x.view(f"u{x.dtype.itemsize}")


def reference():
    """The bit patterns computed in one process, with no sharding at all."""
    import jax

    import jinit

    tree, rules, _ = case()
    out = jinit.materialize(tree, jax.random.key(SEED), rules)
    return {p: bits(x) for p, x in flat(out).items()}


def main(process_id: int, port: str, reference_file: str) -> int:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    import numpy as np
    from jax.sharding import NamedSharding

    import jinit

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=process_id,
        initialization_timeout=600,
    )
    if jax.device_count() != 8 or jax.local_device_count() != 4:
        print(f"DEVICES {jax.device_count()} {jax.local_device_count()}", flush=True)
        return 1
    mesh = jax.make_mesh((2, 4), ("a", "b"))
    tree, rules, specs = case()
    out = jinit.materialize(
        tree,
        jax.random.key(SEED),
        rules,
        shardings=lambda path: NamedSharding(mesh, specs[path]),
    )
    want = np.load(reference_file)
    n = 0
    for path, leaf in flat(out).items():
        if leaf.is_fully_addressable or leaf.sharding.spec != specs[path]:
            print(f"NOT GLOBAL {path} {leaf.sharding}", flush=True)
            return 1
        for shard in leaf.addressable_shards:
            got = bits(shard.data)
            expected = want[path][shard.index]
            if got.shape != expected.shape or not np.array_equal(got, expected):
                print(f"MISMATCH {path} {shard.index}", flush=True)
                return 1
            n += 1
    print(f"OK {n}", flush=True)
    jax.distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))

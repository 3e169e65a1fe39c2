"""`jinit report` end to end in a temporary folder, and its bad options."""

import math
import os
import re
import subprocess
import sys
import textwrap

import pytest

from jinit import cli

pytestmark = pytest.mark.standard_promotion  # Flax internals promote dtypes

SMALL = ["--depth", "6", "--width", "16", "--seeds", "2", "--batch", "32"]


def test_report_end_to_end(tmp_path, capsys):
    import matplotlib.image

    out = tmp_path / "rep"
    # Width 128: a layer's second-moment gain has relative std sqrt(2 / 128), so
    # He's 5-layer RMS ratio is within x2 of 1 by over 5 standard errors.
    argv = ["report", *SMALL, "--width", "128", "--out", str(out)]
    argv += ["--activation", "relu", "--init", "he_normal", "--init", "normal(1.0)"]
    argv += ["--init", "normal(0.02)"]
    assert cli.main(argv) == 0
    for name in ("weights.png", "depth_relu.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
    summary = (out / "summary.md").read_text()
    # ReLU, depth 6: He keeps the scale; Var(W) = 1 grows the second moment
    # 64-fold per layer (n / 2), 0.02^2 shrinks it to 0.0256 of itself: beyond
    # x10 through depth both ways.
    assert (
        "- **relu**: healthy: he_normal; caution: none; "
        "unhealthy: normal(1.0), normal(0.02)." in summary
    )
    assert "![depth_relu.png](depth_relu.png)" in summary
    printed = capsys.readouterr().out
    rows = {
        line.split("│")[2].strip(): line
        for line in printed.splitlines()
        if "│ relu" in line
    }
    assert re.search(r"│ healthy\s+│", rows["he_normal"])
    assert "unhealthy: activations explode" in rows["normal(1.0)"]
    assert "unhealthy: activations vanish" in rows["normal(0.02)"]


def test_report_keras_name_and_no_plots(tmp_path):
    pytest.importorskip("jinit.keras")
    argv = ["report", *SMALL, "--out", str(tmp_path), "--no-plots"]
    argv += ["--init", "HeNormal", "--activation", "tanh", "--model", "resmlp"]
    assert cli.main(argv) == 0
    assert (tmp_path / "summary.md").exists()
    assert not (tmp_path / "weights.png").exists()


def test_resolve_init_names():
    import jinit

    assert cli.resolve_init("he_normal") == jinit.he_normal()
    assert cli.resolve_init("normal(0.02)") == jinit.normal(0.02)
    assert cli.resolve_init(" orthogonal(scale=2.0) ") == jinit.orthogonal(2.0)
    assert cli.resolve_init("zeros") is jinit.zeros


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["--model", "mpl"],
            "`--model` must be one of 'mlp', 'cnn', 'resmlp', 'rescnn', 'transformer'; got 'mpl'. Did you mean 'mlp'?",
        ),
        (["--depth", "0"], "`--depth` must be a positive int; got 0."),
        (["--depth", "two"], "invalid int value: 'two'"),
        (["--activation", "relux"], "`--activation` must be one of"),
        (["--init", "he_nromal"], "Did you mean 'he_normal'?"),
        (
            ["--init", "normal(stddev=)"],
            "`--init` must be a name(args) with Python literal arguments",
        ),
        (["--init", "normal(-1.0)"], "`stddev` must be a non-negative number"),
        (["--model-path", "nocolon"], "`--model-path` must be module:attr"),
        (
            ["--model-path", "os:path", "--input-shape", "4"],
            "naming a Flax linen Module",
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (
            ["--init", "dirac"],
            "`--init` must be an initializer that draws this model's kernels "
            "(kernels [(256, 256)]); got 'dirac'. ValueError: `shape` must be 3-D, 4-D or 5-D",
        ),
        (
            ["--init", "he_normal(in_axis=5)"],
            "ValueError: `in_axis` must be an axis in [-2, 2) for a 2-D shape; got 5.",
        ),
        (["--init", "materialize"], "`--init` must be 'model', a jinit or a Keras"),
        (["--init", "Relu"], "`--init` must be"),
        (["--input-shape", "4"], "`--input-shape` must be given with `--model-path`"),
        (["--input-dtype", "int32"], "`--input-dtype` must be given with"),
    ],
)
def test_bad_options_one_line_exit_2(argv, fragment, tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jinit: error: ")
    assert fragment in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_python_m_jinit_bad_option():
    proc = subprocess.run(
        [sys.executable, "-m", "jinit", "report", "--model", "rnn"],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("jinit: error: `--model` must be one of")


def test_materialise_suggests_an_initializer_not_materialize(tmp_path, capsys):
    # One predicate of what an initializer is: jinit.materialize is not one.
    assert cli.main(["report", "--out", str(tmp_path), "--init", "materialise"]) == 2
    err = capsys.readouterr().err
    assert "'materialize'" not in err and "`--init` must be" in err
    assert not cli.is_initializer(__import__("jinit").materialize)
    assert cli.is_initializer(__import__("jinit").he_normal)
    assert cli.is_initializer(__import__("jinit").zeros)


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("x")
    for out, fragment in [
        (file, "`--out` must be a folder; got"),
        (file / "sub", "is a file."),
    ]:
        assert cli.main(["report", "--out", str(out), *SMALL]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert cli.main(["report", "--out", str(locked / "r"), *SMALL]) == 2
        assert "`--out` must be a writable folder" in capsys.readouterr().err


def test_help_is_plain_text_with_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    for default in [
        "(default: mlp)",
        "(default: 4)",
        "mlp 128, resmlp 128, cnn 32",
        "(default: jinit-report)",
        "mlp 50",
        "mlp 256",
        "glorot_normal, glorot_uniform",
    ]:
        assert default in " ".join(text.split()), default


USER_MODELS = textwrap.dedent(
    """
    import flax.linen as nn
    import jax.numpy as jnp


    class LM(nn.Module):
        @nn.compact
        def __call__(self, tokens):
            h = nn.Embed(40, 16, name="embed")(tokens)
            for i in range(3):
                h = nn.Dense(16, bias_init=nn.initializers.ones, name=f"dense_{i}")(h)
                h = jnp.tanh(h)
            return h
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_lm.py").write_text(USER_MODELS)
    monkeypatch.chdir(tmp_path)
    yield "my_lm:LM"
    sys.modules.pop("my_lm", None)


def test_model_path_integer_tokens_and_as_is(user_module, tmp_path, capsys):
    out = tmp_path / "rep"
    base = ["report", "--model-path", user_module, "--input-shape", "8", "--seeds", "2"]
    base += ["--batch", "16", "--out", str(out), "--no-plots"]
    assert cli.main(base) == 2  # float input into an Embed: one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pass --input-dtype int32." in err
    assert not out.exists()
    argv = [*base, "--input-dtype", "int32", "--init", "model", "--init", "he_normal"]
    assert cli.main(argv) == 0
    summary = (out / "summary.md").read_text()
    assert "| model | model |" in summary and "| model | he_normal |" in summary


def test_model_path_redraws_kernels_only(user_module):
    # Roles from the model: with --init, the kernels are redrawn; the biases
    # (ones here), the embedding and everything else are the module's own.
    import jax
    import numpy as np

    import jinit

    parser = cli.parser()
    opts = parser.parse_args(
        [
            "report",
            "--model-path",
            user_module,
            "--input-shape",
            "8",
            "--input-dtype",
            "int32",
        ]
    )
    model = cli.build(opts)
    k_init = jax.random.split(jax.random.key(0), 2)
    params = cli.draw_params(model, {"model": None, "z": jinit.zeros}, k_init)
    own, redrawn = params["model"], params["z"]
    for i in range(3):
        np.testing.assert_array_equal(redrawn[f"dense_{i}"]["kernel"], 0.0)
        np.testing.assert_array_equal(redrawn[f"dense_{i}"]["bias"], 1.0)
        assert np.std(own[f"dense_{i}"]["kernel"]) > 0
    np.testing.assert_array_equal(
        redrawn["embed"]["embedding"], own["embed"]["embedding"]
    )


def test_plot_density_is_the_initializers_law():
    # jinit.plot draws each initializer's own law (its `law(shape, dtype)`):
    # he_normal on (256, 256) is N(0, 2/256) truncated to +-2 std before the
    # division by the truncated std 0.8796 (scipy's law, independently).
    import numpy as np
    import scipy.stats

    import jinit
    from jinit import plot

    std = math.sqrt(2 / 256) / 0.87962566103423978
    x = np.linspace(-3 * std, 3 * std, 101)
    exact = scipy.stats.truncnorm(-2, 2, scale=std).pdf(x)
    np.testing.assert_allclose(plot.density(jinit.he_normal(), (256, 256))(x), exact)
    assert plot.density(jinit.identity(), (4, 4)) is None  # no density
    assert plot.density(jinit.orthogonal(), (4,)) is None  # refused shape
    assert plot.density(lambda k, s, d=None: 0, (4, 4)) is None  # no law


def test_coord_check_mup_flat_sp_grows(tmp_path, capsys):
    # microsoft/mup's coord-check criterion, read back from the written table:
    # under muP every module's mean |output| at width 512 is within 1.2x of
    # width 64's at t = 1..3 (the zero readout gives exactly 0 at t = 1, at
    # both widths and in both variants); under SP (the negative control) some module grows > 4x (8x wider).
    out = tmp_path / "cc"
    argv = ["report", "--coord-check", "--widths", "512,64", "--batch", "64"]
    assert cli.main([*argv, "--no-plots", "--out", str(out)]) == 0  # figure: test_mup
    text = (out / "coord_check.md").read_text()
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith(("| sp |", "| mup |"))
    ]
    assert {(r[0], r[1]) for r in rows} >= {("mup", "dense_1"), ("mup", "readout")}
    growth = {}
    for variant, module, t, narrow, wide, _ in rows:
        a, b = float(narrow), float(wide)
        if t == "1" and module in ("readout", "model"):
            assert a == b == 0.0
            continue
        growth.setdefault(variant, []).append(b / a)
    assert all(1 / 1.2 < g < 1.2 for g in growth["mup"]), growth["mup"]
    assert max(growth["sp"]) > 4.0
    assert "- **mup**: flat" in text and "- **sp**: not flat: grows" in text


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--widths", "64"], "`--widths` must be at least two distinct"),
        (["--model", "cnn"], "`--model` must be mlp with `--coord-check`"),
        (["--steps", "0"], "`--steps` must be a positive int"),
    ],
)
def test_coord_check_bad_options(extra, fragment, tmp_path, capsys):
    argv = ["report", "--coord-check", "--out", str(tmp_path / "x"), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err

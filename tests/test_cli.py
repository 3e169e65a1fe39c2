"""`jinit report` end to end in a temporary folder, and its bad options."""

import subprocess
import sys

import pytest

from jinit import cli

pytestmark = pytest.mark.standard_promotion  # Flax internals promote dtypes

SMALL = ["--depth", "6", "--width", "16", "--seeds", "2", "--batch", "32"]


def test_report_end_to_end(tmp_path, capsys):
    import matplotlib.image

    out = tmp_path / "rep"
    argv = ["report", *SMALL, "--out", str(out), "--activation", "relu"]
    argv += ["--init", "he_normal", "--init", "normal(1.0)", "--init", "lecun_uniform"]
    assert cli.main(argv) == 0
    for name in ("weights.png", "depth_relu.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
    summary = (out / "summary.md").read_text()
    # ReLU, depth 6, width 16: He keeps the scale; Var(W) = 1 grows it 8-fold per
    # layer (x 8^2.5 = 181 in std); LeCun halves the variance (x 0.18 in std).
    assert "- **relu**: healthy: he_normal; unhealthy: normal(1.0)" in summary
    assert "![depth_relu.png](depth_relu.png)" in summary
    printed = capsys.readouterr().out
    assert "he_normal" in printed and "explodes" in printed and "healthy" in printed


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
            "`--model` must be one of mlp, cnn, resmlp, rescnn, transformer; got 'mpl'. Did you mean 'mlp'?",
        ),
        (["--depth", "0"], "`--depth` must be a positive int; got 0."),
        (["--depth", "two"], "invalid int value: 'two'"),
        (["--activation", "relux"], "`--activation` must be one of"),
        (["--init", "he_nromal"], "Did you mean 'he_normal'?"),
        (["--init", "normal(stddev=)"], "`--init` arguments must be Python literals"),
        (["--init", "normal(-1.0)"], "`stddev` must be a non-negative number"),
        (["--model-path", "nocolon"], "`--model-path` must be module:attr"),
        (
            ["--model-path", "os:path", "--input-shape", "4"],
            "must name a Flax linen Module",
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
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
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("jinit: error: `--model` must be one of")

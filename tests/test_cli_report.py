"""`jinit report` on your own models, what the report shows, and its option names."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jinit import cli

pytestmark = pytest.mark.standard_promotion  # Flax internals promote dtypes

NETS = textwrap.dedent(
    """
    import flax.linen as nn


    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(6, (3, 3), name="conv_0")(x))
            x = nn.relu(nn.Conv(6, (3, 3), strides=4, name="conv_1")(x))
            return nn.Dense(5, name="head")(x.reshape(x.shape[0], -1))


    class Deep(nn.Module):
        @nn.compact
        def __call__(self, x):
            for i in range(3):
                x = nn.tanh(nn.Dense(24, name=f"dense_{i}")(x))
            return x


    class BNNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(4, (3, 3), name="conv_0")(x)
            x = nn.BatchNorm(use_running_average=True, name="bn_0")(x)
            x = nn.Conv(4, (3, 3), name="conv_1")(nn.relu(x))
            return nn.Dense(3, name="head")(nn.relu(x).reshape(x.shape[0], -1))
    """
)


@pytest.fixture
def nets(tmp_path, monkeypatch):
    """A package ``mypkg.nets`` on PYTHONPATH (and sys.path), as the README has."""
    pkg = tmp_path / "src" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield tmp_path / "src"
    for name in ("mypkg.nets", "mypkg"):
        sys.modules.pop(name, None)


def test_readme_model_path_example_end_to_end(nets, tmp_path):
    # The README's `--model-path mypkg.nets:Net --input-shape 32,32,3`, a float
    # input into a Conv net: it failed on every float-input model (the probe
    # was closed over inside jax.eval_shape).
    out = tmp_path / "rep"
    argv = ["report", "--model-path", "mypkg.nets:Net", "--input-shape", "32,32,3"]
    argv += ["--seeds", "1", "--batch", "4", "--init", "model", "--init", "he_normal"]
    argv += ["--no-plots"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(nets), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "jinit", *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,  # a hang guard only
    )
    assert proc.returncode == 0, proc.stderr
    summary = (out / "summary.md").read_text()
    assert "| model | model |" in summary and "| model | he_normal |" in summary


def test_dense_model_path_float_input_shows_every_initializer(
    nets, tmp_path, monkeypatch
):
    # A Dense MLP with --input-shape 32: measured, and weights.png has a panel
    # for `model` (the module's own draw) beside the redrawn initializer.
    import matplotlib.figure

    from jinit import plot

    seen = {}
    histograms = plot.weight_histograms

    def spy(weights, inits, shape, path, **kw):
        seen["weights"] = dict(weights)
        histograms(weights, inits, shape, path, **kw)

    save = matplotlib.figure.Figure.savefig

    def keep(fig, *a, **kw):
        seen.setdefault("figures", []).append(fig)
        save(fig, *a, **kw)

    monkeypatch.setattr(plot, "weight_histograms", spy)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    out = tmp_path / "rep"
    argv = ["report", "--model-path", "mypkg.nets:Deep", "--input-shape", "32"]
    argv += ["--seeds", "2", "--batch", "16", "--init", "model", "--init", "he_normal"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert list(seen["weights"]) == ["model", "he_normal"]
    assert seen["weights"]["model"].shape == (24, 24)
    assert np.std(seen["weights"]["model"]) > 0
    _assert_titles_inside(seen["figures"])


def _assert_titles_inside(figures):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for fig in figures:
        renderer = FigureCanvasAgg(fig).get_renderer()
        box = fig.bbox
        texts = [fig._suptitle, *(ax.title for ax in fig.axes)]
        for text in texts:
            if text is None or not text.get_text():
                continue
            ext = text.get_window_extent(renderer)
            assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1, text.get_text()


def test_weights_png_title_fits_one_panel(tmp_path, monkeypatch):
    # One initializer (one 3.6-inch panel) and a stacked kernel's long title:
    # the title is wrapped inside the figure, not cut off at its edges.
    import matplotlib.figure

    import jinit
    from jinit import plot

    figures = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure,
        "savefig",
        lambda fig, *a, **kw: (figures.append(fig), save(fig, *a, **kw)),
    )
    w = np.random.default_rng(0).normal(0, 0.1, (4, 32, 32))
    title = (
        "Drawn weights of ScanBlocks_0/block/attention/query/kernel, shape "
        "(4, 32, 32) (red: the law's density)"
    )
    inits = {"RandomNormal(stddev=0.05)": jinit.normal(0.05)}
    plot.weight_histograms(
        {"RandomNormal(stddev=0.05)": w},
        inits,
        (32, 32),
        tmp_path / "w.png",
        title=title,
    )
    assert len(figures) == 1
    _assert_titles_inside(figures)


def test_batch_stats_model_is_measured(nets, tmp_path, capsys):
    # A BatchNorm's batch_stats are passed along (jinit.diagnostics runs the
    # other collections as mutable): every initializer gets its row, and
    # normal(0.02) under running-average BatchNorm (mean 0, var 1) vanishes.
    out = tmp_path / "rep"
    argv = ["report", "--model-path", "mypkg.nets:BNNet", "--input-shape", "8,8,3"]
    assert cli.main([*argv, "--seeds", "1", "--batch", "4", "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    for name in ("model", "he_normal", "orthogonal", "normal(0.02)"):
        assert f"| {name} |" in summary, name
    row = next(r for r in summary.splitlines() if "| normal(0.02) |" in r)
    assert "unhealthy" in row and "vanish" in row


def test_act_rms_column_follows_the_verdicts_layers():
    # Two kinds of layer: act_# (3 layers, flat) and layer_# (2 layers, x2.49).
    # The verdict judges layer_#; the column shows the same layers, not the
    # most numerous kind's "1 > 1".
    from jinit import diagnostics
    from jinit.cli import _output

    layers = ("act_0", "act_1", "act_2", "layer_0", "layer_1")
    rms = np.array([[1.0, 1.0, 1.0, 1.0, 2.49]])
    nan = np.full_like(rms, np.nan)
    params = ("dense_0/kernel", "dense_1/kernel", "dense_2/kernel", "out/kernel")
    stats = diagnostics.Propagation(
        layers=layers,
        mean=np.zeros_like(rms),
        std=rms,
        dead=nan,
        saturated=nan,
        gain=nan,
        params=params,
        roles=("kernel",) * 4,
        shapes=((4, 4),) * 4,
        grad_norm=np.array([[4.0, 4.0, 4.0, 4.0]]),
        param_rms=np.ones((1, 4)),
    )
    verdict = stats.verdict()
    assert "grow slowly: x2.49 from layer_0 to layer_1" in str(verdict)
    [row] = _output.rows(
        {("relu", "he_normal"): stats}, {("relu", "he_normal"): verdict}
    )
    assert row[2] == "1 > 2.49"
    assert row[3] == "1 > 1"  # dense_#: the only kernel kind of >= 2 layers


def test_coord_check_refuses_options_it_does_not_use(tmp_path, capsys):
    argv = ["report", "--coord-check", "--widths", "8,16", "--steps", "1"]
    argv += ["--no-plots", "--out", str(tmp_path / "cc"), "--init", "he_normal"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "`--init` must be left out with `--coord-check`" in err
    assert not (tmp_path / "cc").exists()


def test_activation_gets_did_you_mean(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path), "--activation", "rleu"]) == 2
    err = capsys.readouterr().err
    assert "`--activation` must be one of 'relu'," in err
    assert err.rstrip().endswith("got 'rleu'. Did you mean 'relu'?")


def test_names_and_sizes_have_one_source():
    from jinit import diagnostics, models

    assert cli.MODELS == tuple(models.MODELS)
    assert cli.ACTIVATIONS == tuple(diagnostics.ACTIVATIONS)
    # The families' size comes from cli.DEFAULT_SIZE (or the caller) only.
    assert set(cli.DEFAULT_SIZE) == set(models.MODELS)
    for cls, _ in models.MODELS.values():
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name in ("depth", "width"):
            assert fields[name].default is dataclasses.MISSING, (cls, name)


def test_coord_check_png_shows_every_module(tmp_path, monkeypatch):
    # `jinit report --coord-check`'s figure. The model's output equals its
    # readout's: the line drawn first (model) is wider, so the readout on top
    # leaves it in sight; the legend sits below the panels, not in an empty
    # column beside them. Rows as jinit.mup.coord_check returns them.
    import matplotlib.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from jinit import plot

    figures = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure,
        "savefig",
        lambda fig, *a, **kw: (figures.append(fig), save(fig, *a, **kw)),
    )
    l1 = {"model": 0.3, "dense_0": 1.0, "dense_1": 0.7, "readout": 0.3}
    rows = [
        {"variant": v, "module": m, "t": t, "width": w, "l1": x * (w / 64) ** (t - 1)}
        for v in ("sp", "mup")
        for t in (1, 2)
        for w in (64, 256)
        for m, x in l1.items()
    ]
    plot.coord_check(rows, str(tmp_path / "cc.png"))
    assert (tmp_path / "cc.png").exists()
    [fig] = figures
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(l1)
    renderer = FigureCanvasAgg(fig).get_renderer()
    box = legend.get_window_extent(renderer)
    assert box.y1 <= min(ax.get_window_extent(renderer).y0 for ax in fig.axes)
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        model, readout = lines["model"], lines["readout"]
        np.testing.assert_allclose(model.get_ydata(), readout.get_ydata())
        assert model.get_linewidth() > readout.get_linewidth()
        assert model.get_markersize() > readout.get_markersize()

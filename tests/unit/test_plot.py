"""Plots (Runs.plot, tbwrite plot) checked on the rendered image; sparklines and ``tbwrite ls``
checked on the exact terminal text."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tbwrite
from tbwrite._cli import main
from tbwrite._reading.plot import tb_smooth
from tbwrite._text import escape, scalar_cells, sparkline

ROOT = Path(__file__).resolve().parents[2]
# The plotting tests need the 'plot' extra (matplotlib, and Pillow to read the PNG back);
# the core environment runs the sparkline, smoothing and missing-extra tests alone.
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None or importlib.util.find_spec("PIL") is None,
    reason="matplotlib and Pillow (the plot extra) are not installed",
)
C0 = (0x1F, 0x77, 0xB4)  # matplotlib's first two default colours: run "a", run "b"
C1 = (0xFF, 0x7F, 0x0E)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots")
    with tbwrite.SummaryWriter(root / "a") as w:
        for step in range(50):
            w.add_scalar("loss", 1.0 - step / 50, step, walltime=1000.0 + 10 * step)
            w.add_scalar("acc", step / 50, step, walltime=1000.0 + 10 * step)
        w.add_scalar("only_a", 1.0, 0, walltime=1000.0)
        w.add_scalar("only_a", 2.0, 1, walltime=1010.0)
    with tbwrite.SummaryWriter(root / "b") as w:
        for step in range(50):
            w.add_scalar("loss", 10.0 ** (-step / 10), step, walltime=5000.0 + step)
            w.add_scalar("acc", 0.5, step, walltime=5000.0 + step)
    return root


@pytest.fixture(scope="module")
def runs(logdir):
    return tbwrite.read_scalars(logdir)


def read_png(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def colour_mask(img, rgb, tol=100):
    # Lines are antialiased: their pixels are the colour blended a little with white.
    return np.abs(img - np.array(rgb)).sum(axis=2) <= tol


def panel_box(fig, ax, img):
    """Pixel rows and columns of ``ax``'s plotting area in ``img`` (rows counted from the top)."""
    bb = ax.get_window_extent()
    h = img.shape[0]
    return slice(int(h - bb.y1) + 2, int(h - bb.y0) - 2), slice(int(bb.x0) + 2, int(bb.x1) - 2)


def pixel_of(ax, img, x, y):
    px, py = ax.transData.transform((x, y))
    return img.shape[0] - py, px


def near(img, rgb, row, col, radius=3):
    r, c = int(round(row)), int(round(col))
    window = img[r - radius : r + radius + 1, c - radius : c + radius + 1]
    return bool(colour_mask(window, rgb).any())


def legend_texts(fig):
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


# -- the figure ------------------------------------------------------------------------------


@needs_matplotlib
def test_per_tag_png(runs, tmp_path) -> None:
    out = tmp_path / "fig.png"
    fig = runs.plot(["loss", "acc", "only_a"], path=out, title="sweep", dpi=80)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "acc", "only_a"]
    assert fig._suptitle.get_text() == "sweep"
    img = read_png(out)
    w_in, h_in = fig.get_size_inches()
    assert img.shape[:2] == (round(h_in * 80), round(w_in * 80))
    loss, acc, only_a = fig.axes
    # The lines are in the image where the data say: run a's loss at (0, 1) and (49, 0.02),
    # run b's acc along y = 0.5, each in its run's colour.
    assert near(img, C0, *pixel_of(loss, img, 0, 1.0))
    assert near(img, C0, *pixel_of(loss, img, 49, 1.0 - 49 / 50))
    assert near(img, C1, *pixel_of(acc, img, 25, 0.5))
    assert not near(img, C1, *pixel_of(acc, img, 25, 0.9))
    # Run b has no only_a: that panel holds run a's colour and none of run b's.
    rows, cols = panel_box(fig, only_a, img)
    assert colour_mask(img[rows, cols], C0).sum() > 50
    assert colour_mask(img[rows, cols], C1).sum() == 0
    rows, cols = panel_box(fig, loss, img)
    assert colour_mask(img[rows, cols], C1).sum() > 50
    # One legend, by run, for the figure; none on a panel.
    assert legend_texts(fig) == ["a", "b"]
    assert [ax.get_legend() for ax in fig.axes] == [None, None, None]
    # The data drawn are the series, in order.
    a_loss = [line for line in loss.get_lines() if line.get_label() == "a"][0]
    np.testing.assert_array_equal(a_loss.get_xdata(), runs["a"]["loss"].steps)
    np.testing.assert_array_equal(a_loss.get_ydata(), runs["a"]["loss"].values)


@needs_matplotlib
def test_shared_panel_log_scale_and_patterns(runs, tmp_path) -> None:
    out = tmp_path / "shared.png"
    fig = runs.plot("l*", run=["b"], panels="shared", log_y=True, path=out)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "loss"
    assert legend_texts(fig) == ["b"]
    img = read_png(out)
    # 10 ** (-step / 10) is a straight line on a log axis: its middle point is drawn where
    # the log scale puts it (on a linear axis it would be near the bottom).
    assert near(img, C0, *pixel_of(ax, img, 25, 10.0**-2.5))
    fig2 = runs.plot(["loss", "acc"], panels="shared", path=tmp_path / "s2.png")
    assert legend_texts(fig2) == ["a: loss", "a: acc", "b: loss", "b: acc"]


@needs_matplotlib
@pytest.mark.parametrize("panels", ["per-tag", "shared"])
@pytest.mark.parametrize("n_steps", [2, 4, 7, 50])
def test_integer_steps_get_integer_ticks(tmp_path, panels, n_steps) -> None:
    # matplotlib's default locator puts ticks at 0.5, 1.5, ... for a few steps
    with tbwrite.SummaryWriter(tmp_path / "r") as w:
        for step in range(n_steps):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", step / n_steps, step)
    fig = tbwrite.read_scalars(tmp_path).plot(panels=panels, path=tmp_path / "f.png")
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2
        assert all(float(t).is_integer() for t in ticks), ticks


@needs_matplotlib
@pytest.mark.parametrize("panels", ["per-tag", "shared"])
def test_legend_covers_no_data(tmp_path, panels) -> None:
    # Lines that fill each panel from corner to corner, and in every corner: a legend inside
    # any panel would cover some of them.
    with tbwrite.SummaryWriter(tmp_path / "up") as w:
        for step in range(20):
            w.add_scalar("a", step, step)
            w.add_scalar("b", -step, step)
    with tbwrite.SummaryWriter(tmp_path / "down") as w:
        for step in range(20):
            w.add_scalar("a", 19 - step, step)
            w.add_scalar("b", step - 19, step)
    fig = tbwrite.read_scalars(tmp_path).plot(panels=panels, path=tmp_path / "f.png")
    (legend,) = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert [t.get_text() for t in legend.get_texts()] == (
        ["down", "up"] if panels == "per-tag" else ["down: a", "down: b", "up: a", "up: b"]
    )
    box = legend.get_window_extent()
    width, height = fig.get_size_inches() * fig.dpi
    # in the figure, and clear of every panel's plotting area
    assert 0 <= box.x0 < box.x1 <= width and 0 <= box.y0 < box.y1 <= height
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), (box, ax.get_window_extent())


def reference_smoothing(values, w):
    """TensorBoard's debiased EMA written as its closed form: point k (over the finite values
    v_1..v_k so far) is sum_j (1 - w) w^(k-j) v_j / (1 - w^k); non-finite values pass."""
    out, finite = [], []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        finite.append(v)
        k = len(finite)
        num = sum((1 - w) * w ** (k - j) * x for j, x in enumerate(finite, start=1))
        out.append(num / (1 - w**k))
    return out


def test_tb_smooth_matches_tensorboards_formula() -> None:
    np.testing.assert_allclose(tb_smooth([1.0, 2.0, 3.0], 0.5), [1.0, 5 / 3, 17 / 7])
    rng = np.random.default_rng(0)
    series = rng.normal(size=200).cumsum()
    series[[5, 50, 51]] = [math.nan, math.inf, -math.inf]
    for w in (0.0, 0.3, 0.6, 0.95):
        got = tb_smooth(series, w)
        np.testing.assert_allclose(got, reference_smoothing(series.tolist(), w), rtol=1e-12)
    got = tb_smooth(series, 0.6)
    assert math.isnan(got[5]) and got[50] == math.inf and got[51] == -math.inf
    # NaN and inf leave the average alone: the points after them are as if they were absent.
    np.testing.assert_allclose(
        np.delete(got, [5, 50, 51]), tb_smooth(np.delete(series, [5, 50, 51]), 0.6)
    )
    # A constant series is returned as it is; weights are clamped; a NaN weight is 0.
    np.testing.assert_array_equal(tb_smooth([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(tb_smooth([1.0, 3.0], math.nan), [1.0, 3.0])
    np.testing.assert_array_equal(tb_smooth([1.0, 3.0], -2), [1.0, 3.0])
    np.testing.assert_array_equal(tb_smooth([1.0, 3.0], 7), [0.0, 0.0])  # weight 1: no debias
    assert len(tb_smooth([], 0.6)) == 0


@needs_matplotlib
def test_plot_draws_smoothed_and_raw(runs, tmp_path) -> None:
    fig = runs.plot("loss", run="b", smoothing=0.6, path=tmp_path / "sm.png")
    raw, smooth = fig.axes[0].get_lines()
    values = runs["b"]["loss"].values.tolist()
    np.testing.assert_array_equal(raw.get_ydata(), values)
    assert raw.get_alpha() < 1 and smooth.get_label() == "b"
    np.testing.assert_allclose(smooth.get_ydata(), reference_smoothing(values, 0.6), rtol=1e-12)


@needs_matplotlib
def test_x_axes(runs, tmp_path) -> None:
    fig = runs.plot("acc", x="relative", path=tmp_path / "rel.png")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    # a: 49 steps 10 s apart = 490 s, so minutes: 0 .. 8.1667; b: 1 s apart.
    np.testing.assert_allclose(lines["a"].get_xdata(), np.arange(50) * 10 / 60)
    np.testing.assert_allclose(lines["b"].get_xdata(), np.arange(50) / 60)
    assert fig.axes[0].get_xlabel() == "relative time (min)"
    fig = runs.plot("acc", x="wall_time", path=tmp_path / "wall.png")
    xdata = fig.axes[0].get_lines()[0].get_xdata()
    assert xdata[0] == np.datetime64("1970-01-01T00:16:40")  # 1000 s after the epoch
    assert fig.axes[0].get_xlabel() == "wall time (UTC)"


@needs_matplotlib
def test_figure_without_a_path_comes_from_pyplot(runs) -> None:
    import matplotlib.pyplot as plt

    fig = runs.plot("acc")
    try:
        assert fig.number in plt.get_fignums()
    finally:
        plt.close(fig)


@needs_matplotlib
def test_bad_arguments(runs, logdir) -> None:
    with pytest.raises(ValueError, match="x must be one of step, wall_time, relative; got 'time'"):
        runs.plot(x="time")
    with pytest.raises(ValueError, match="panels must be one of"):
        runs.plot(panels="grid")
    for bad in (1.0, -0.1, math.nan, "0.6", True):
        with pytest.raises(ValueError, match="smoothing must be a number in"):
            runs.plot(smoothing=bad)
    with pytest.raises(ValueError, match="tags: nothing matches 'nope'; there are: 'acc'"):
        runs.plot(["loss", "nope"])
    with pytest.raises(ValueError, match="run: nothing matches 'c'"):
        runs.plot(run="c")
    with pytest.raises(TypeError, match="tags must be a str or a non-empty list of str"):
        runs.plot([])
    with pytest.raises(ValueError, match="figsize"):
        runs.plot(figsize=(0, 3))
    with pytest.raises(ValueError, match="dpi must be a positive number, got -1"):
        runs.plot(dpi=-1)
    with tbwrite.SummaryWriter(logdir / "h") as w:
        w.add_histogram("weights", [1.0, 2.0], 0)
    try:
        with pytest.raises(TypeError, match="tag 'weights' of run 'h' is not a scalar series"):
            tbwrite.read_histograms(logdir).plot()
    finally:
        for f in (logdir / "h").iterdir():
            f.unlink()
        (logdir / "h").rmdir()


def test_without_matplotlib_names_the_extra(runs, monkeypatch, capsys, logdir, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'tbwrite\[plot\]'"):
        runs.plot(path=tmp_path / "x.png")
    assert main(["plot", str(logdir), "-o", str(tmp_path / "x.png")]) == 1
    assert "tbwrite[plot]" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@needs_matplotlib
def test_matplotlib_is_imported_only_to_plot_and_a_file_needs_no_pyplot(logdir, tmp_path) -> None:
    code = (
        "import sys, tbwrite\n"
        f"runs = tbwrite.read_scalars({str(logdir)!r})\n"
        "assert 'matplotlib' not in sys.modules\n"
        f"runs.plot(path={str(tmp_path / 'f.png')!r})\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    assert (tmp_path / "f.png").stat().st_size > 1000


@needs_matplotlib
def test_cli_plot_writes_the_file_and_says_so(logdir, tmp_path, capsys) -> None:
    out = tmp_path / "cli.png"
    argv = ["plot", str(logdir), "--tag", "loss", "--tag", "acc", "-o", str(out)]
    code = main([*argv, "--smoothing", "0.6", "--log-y", "--dpi", "50"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    img = read_png(out)
    assert img.shape[:2] == (round(3.8 * 50), round(11.0 * 50))
    assert stdout == f"wrote {out} (550x190 px): 2 tags (loss, acc) of 2 runs, one panel per tag\n"
    assert colour_mask(img, C0).sum() > 50 and colour_mask(img, C1).sum() > 50
    code = main(["plot", str(logdir), "--run", "a", "--panels", "shared", "-o", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0 and "3 tags (acc, loss, only_a) of 1 run, one shared panel" in stdout
    code = main(["plot", str(logdir), "--tag", "nope", "-o", str(tmp_path / "no.png")])
    stdout, err = capsys.readouterr()
    assert code == 1 and "nothing matches 'nope'" in err and stdout == ""
    assert not (tmp_path / "no.png").exists()


@needs_matplotlib
def test_cli_plot_without_tag_draws_a_bounded_number_of_panels(tmp_path, capsys) -> None:
    from tbwrite._cli.plot_command import MAX_AUTO_TAGS

    # More tags than are drawn unnamed, one of them with fnmatch characters in its name.
    names = [f"t{i:03d}" for i in range(MAX_AUTO_TAGS + 7)]
    names[0] = "t*[0]"
    with tbwrite.SummaryWriter(tmp_path / "run") as w:
        for name in names:
            w.add_scalar(name, 1.0, 0)
            w.add_scalar(name, 2.0, 1)
    out = tmp_path / "many.png"
    code = main(["plot", str(tmp_path), "-o", str(out), "--dpi", "20"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    drawn = sorted(names)[:MAX_AUTO_TAGS]
    first, second = stdout.splitlines()
    assert f"{MAX_AUTO_TAGS} tags ({', '.join(drawn)}) of 1 run" in first
    assert second.startswith(
        f"left out 7 more tags ({', '.join(sorted(names)[MAX_AUTO_TAGS:][:5])}, ...)"
    )
    assert out.stat().st_size > 0


# -- sparklines and ls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"),  # monotone, one character per point
        ([7, 6, 5, 4, 3, 2, 1, 0], "█▇▆▅▄▃▂▁"),
        ([3.0, 3.0, 3.0], "▄▄▄"),  # constant: the middle level
        ([5.0], "▄"),  # a single point
        ([], ""),
        ([1.0, math.nan, 2.0], "▁·█"),
        ([math.nan, math.nan], "··"),
        ([0.0, math.inf, -math.inf, 1.0], "▁█▁█"),
        ([0, 10, 1, 9, 5], "▁█▁█▅"),  # 9 is in the top band of 0..10, 5 in the fifth
        (list(range(240)), "▁▁▁▂▂▂▃▃▃▄▄▄▅▅▅▆▆▆▇▇▇███"),  # 24 buckets of 10, by mean
        ([0.0] * 120 + [1.0] * 120, "▁" * 12 + "█" * 12),
        # 48 points, 24 buckets of two: an all-NaN bucket is "·"
        (
            [5.0] * 12 + [math.nan] * 12 + [5.0] * 12 + [9.0] * 12,
            "▁" * 6 + "·" * 6 + "▁" * 6 + "█" * 6,
        ),
    ],
)
def test_sparkline(values, expected) -> None:
    assert sparkline(values) == expected


def test_sparkline_buckets_and_ascii() -> None:
    # 30 points into 24 buckets: bucket i holds points [30i//24, 30(i+1)//24); a bucket's
    # value is the mean of its non-NaN points.
    values = [0.0] * 29 + [80.0]
    assert sparkline(values) == "▁" * 23 + "█"  # last bucket: points 28, 29 -> mean 40
    values = [0.0] * 28 + [math.nan, 8.0]
    assert sparkline(values) == "▁" * 23 + "█"  # NaN left out of the mean: 8
    assert sparkline(range(8), ascii=True) == ".:-=+*#@"
    assert sparkline([1, math.nan], ascii=True) == "=?"
    assert sparkline(range(100), width=4) == "▁▃▆█"
    with pytest.raises(ValueError, match="width must be a positive int, got 0"):
        sparkline([1.0], width=0)


def test_scalar_cells() -> None:
    assert scalar_cells([3.0, 1.0, 2.123456], "unicode") == ("2.123", "1..3", "█▁▅")
    assert scalar_cells([1.0, math.nan], "ascii") == ("nan", "1..1", "=?")
    assert scalar_cells([math.nan], None) == ("nan", "")


def test_escape() -> None:
    assert escape("loss/train") == "loss/train"
    assert escape("a\x1b[2Jb\rc\n\t\x07") == "a\\x1b[2Jb\\rc\\n\\t\\x07"
    assert escape("x\u202ey\u2028\x85é ü") == "x\\u202ey\\u2028\\x85é ü"


def test_ls_shows_sparkline_last_value_and_range(logdir, capsys) -> None:
    assert main(["ls", str(logdir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "tag", "kind", "points", "steps", "last", "range", "trend"]
    by_key = {tuple(line.split()[:2]): line.split() for line in lines[1:]}
    assert by_key["a", "acc"][2:] == [
        "scalars",
        "50",
        "0..49",
        "0.98",
        "0..0.98",
        sparkline(np.arange(50) / 50),
    ]
    assert by_key["a", "acc"][-1] == "▁▁▁▂▂▂▃▃▃▄▄▄▅▅▅▆▆▆▇▇▇███"
    assert by_key["b", "acc"][5:] == ["0.5", "0.5..0.5", "▄" * 24]
    assert by_key["a", "only_a"][5:] == ["2", "1..2", "▁█"]
    assert main(["ls", str(logdir), "--no-spark"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["last", "range"] and "▁" not in "".join(lines)


def test_ls_ascii_when_stdout_cannot_encode_blocks(logdir) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii"}
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite", "ls", str(logdir)],
        capture_output=True,
        env=env,
        check=True,
    ).stdout.decode("ascii")
    assert "...:::---===+++***###@@@" in out


def test_ls_escapes_control_characters(tmp_path, capsys) -> None:
    with tbwrite.SummaryWriter(tmp_path / "r\x1b[2Jx") as w:
        w.add_scalar("t\ra\x07g", 1.0, 0)
    assert main(["ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert out.splitlines()[1].split() == [
        "r\\x1b[2Jx",
        "t\\ra\\x07g",
        "scalars",
        "1",
        "0..0",
        "1",
        "1..1",
        "▄",
    ]

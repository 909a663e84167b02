"""End to end: files written by tbwrite, read back through a real TensorBoard server.

Every test runs under both loaders: the Rust data server (``--load_fast=true``)
and the Python EventMultiplexer (``--load_fast=false``).  See tbserver.py for
the server flags and the HTTP response shapes.
"""

import math
import os
import time
import warnings

import numpy as np
import pytest
from tbserver import to_float

from tbwrite import SummaryWriter

pytestmark = pytest.mark.server

LOADERS = [
    pytest.param(True, id="rust_loader"),
    pytest.param(False, id="python_loader"),
]

W0 = 1_700_000_000.25  # explicit wall times: exactly representable, compared with ==
N_SAMPLE = 1000
WAIT = 20.0  # seconds for any one thing to show up (reload intervals are at most 1 s)

# Values that check float32 rounding, tiny/huge magnitudes, signs and non-finites.
SCALAR_VALUES = [
    0.0,
    1e-30,
    -2.5,
    1e6,
    0.1,
    123456789.0,  # float32 -> 123456792.0
    -3.4e38,
    1.401298464324817e-45,  # smallest float32 denormal
    float("nan"),
    float("inf"),
    float("-inf"),
    7.0,
]

MARKDOWN = (
    "# Notes\n\n"
    "Some *emphasis*, **bold**, `code` and a [link](http://example.com/x).\n\n"
    "- item one\n"
    "- item two\n\n"
    "<script>alert(1)</script>\n\n"
    "Unicode: \u00fcn\u00efc\u00f6d\u00e9 \u2713\n"
)

RAW_HISTS = [
    # (kwargs for add_histogram_raw, expected [left, right, count] rows)
    (
        dict(
            min=-1.0,
            max=3.0,
            num=10,
            sum=12.0,
            sum_squares=30.0,
            bucket_limits=[0.0, 1.0, 2.0, 3.0],
            bucket_counts=[1, 2, 3, 4],
        ),
        [[-1.0, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]],
    ),
    (
        # TensorFlow style: last limit DBL_MAX; the last bucket ends at max.
        dict(
            min=-0.5,
            max=1.5,
            num=6,
            sum=4.0,
            sum_squares=5.0,
            bucket_limits=[0.0, 1.0, 1.7976931348623157e308],
            bucket_counts=[1, 2, 3],
        ),
        [[-0.5, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, 1.5, 3.0]],
    ),
]


def expected_json_scalar(v):
    """What TensorBoard's JSON carries for a value logged as float32."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(np.float32(v))


def wait_points(tb, fetch, n, what):
    """Poll ``fetch()`` until it returns at least ``n`` items; return them.
    On timeout the AssertionError shows the last (short) answer."""

    def enough():
        r = fetch()
        assert len(r) >= n, f"got {len(r)} of {n}: {r[:20]!r}"
        return r

    return tb.wait_for(enough, timeout=WAIT, what=what)


def text_tag(tb, run, tag):
    """The text tag TensorBoard lists for ``add_text(tag, ...)``: ``tag``
    itself, or ``tag + "/text_summary"`` (PyTorch's naming).  Exactly one must
    exist."""
    tags = tb.wait_for(
        lambda: tb.tags("text").get(run), timeout=WAIT, what=f"text tags of run {run!r}"
    )
    found = [t for t in tags if t in (tag, tag + "/text_summary")]
    assert len(found) == 1, f"text tags of {run!r}: {tags!r} (looking for {tag!r})"
    return found[0]


def check_histogram_rows(rows, sample, what):
    assert len(rows) >= 1, what
    for row in rows:
        assert len(row) == 3, (what, row)
        left, right, count = row
        assert all(isinstance(x, float) for x in row), (what, row)
        assert left <= right, (what, row)
        assert count >= 0 and count == int(count), (what, row)
    assert sum(r[2] for r in rows) == len(sample), (what, rows)
    assert rows[0][0] <= float(sample.min()), (what, rows[0], sample.min())
    assert rows[-1][1] >= float(sample.max()), (what, rows[-1], sample.max())
    for a, b in zip(rows, rows[1:]):
        assert math.isclose(a[1], b[0], rel_tol=1e-12, abs_tol=1e-12), (what, a, b)
    # Counts agree with the sample: every value lies in its bucket (values on an
    # inner edge may fall on either side, so compare cumulative counts loosely).
    cum = 0.0
    for left, right, count in rows[:-1]:
        cum += count
        assert np.sum(sample < right) <= cum <= np.sum(sample <= right), (what, left, right)


def write_logdir(root):
    """Write the e2e data set; return the expectations."""
    rng = np.random.default_rng(1234)
    samples = [rng.normal(loc=s, scale=1.0 + s, size=N_SAMPLE) for s in range(3)]
    exp = {"scalars": {}, "hist": {}, "raw": {}, "text": {}}
    t_before = time.time()

    # histogram_form="tensor": the [k, 3] form, which both loaders show exactly (the default,
    # PyTorch's legacy form, is measured in tests/test_e2e_torch_forms.py).
    train = SummaryWriter(
        log_dir=str(root / "train"),
        comment="",
        purge_step=None,
        max_queue=10,
        flush_secs=120,
        filename_suffix="",
        histogram_form="tensor",
    )
    assert os.path.normpath(train.get_logdir()) == os.path.normpath(str(root / "train"))
    for i, v in enumerate(SCALAR_VALUES):
        train.add_scalar("loss", v, global_step=i, walltime=W0 + i)
        train.add_scalar(
            "metrics/loss_new", v, global_step=i, walltime=W0 + i + 0.5, new_style=True
        )
    exp["scalars"][("train", "loss")] = [
        (W0 + i, i, expected_json_scalar(v)) for i, v in enumerate(SCALAR_VALUES)
    ]
    exp["scalars"][("train", "metrics/loss_new")] = [
        (W0 + i + 0.5, i, expected_json_scalar(v)) for i, v in enumerate(SCALAR_VALUES)
    ]

    for i in range(30):  # default wall time (time.time())
        train.add_scalar("lr", 0.1 * 0.9**i, global_step=i)
    exp["scalars"][("train", "lr")] = [
        (None, i, expected_json_scalar(0.1 * 0.9**i)) for i in range(30)
    ]

    with warnings.catch_warnings():  # float32 is stored, with a one-time warning
        warnings.simplefilter("ignore")
        for i in range(4):
            train.add_scalar(
                "dp", 0.25 * i + 1e-10, global_step=i, walltime=W0 + i, double_precision=True
            )
    exp["scalars"][("train", "dp")] = [
        (W0 + i, i, expected_json_scalar(0.25 * i + 1e-10)) for i in range(4)
    ]

    for i in range(5):
        train.add_scalars(
            "group/metrics",
            {"a": float(i), "b": -1.5 * i, "c": 1e-3 * i},
            global_step=i,
            walltime=W0 + 10 * i,
        )
    for key, f in (("a", lambda i: float(i)), ("b", lambda i: -1.5 * i), ("c", lambda i: 1e-3 * i)):
        exp["scalars"][("train/group_metrics_" + key, "group/metrics")] = [
            (W0 + 10 * i, i, expected_json_scalar(f(i))) for i in range(5)
        ]

    bin_options = {
        "hist/default": dict(),
        "hist/tensorflow": dict(bins="tensorflow"),
        "hist/int10": dict(bins=10),
        "hist/auto_max5": dict(bins="auto", max_bins=5),
        "hist/fd": dict(bins="fd"),
    }
    for tag, kw in bin_options.items():
        for s, sample in enumerate(samples):
            train.add_histogram(tag, sample, global_step=s, walltime=W0 + 100 + s, **kw)
        exp["hist"][("train", tag)] = (kw, samples)
    # Explicit edges covering every value.
    lo = min(float(x.min()) for x in samples) - 1.0
    hi = max(float(x.max()) for x in samples) + 1.0
    edges = np.linspace(lo, hi, 8)
    for s, sample in enumerate(samples):
        train.add_histogram("hist/edges", sample, global_step=s, walltime=W0 + 100 + s, bins=edges)
    exp["hist"][("train", "hist/edges")] = (dict(bins=edges), samples)

    for s, (kw, _rows) in enumerate(RAW_HISTS):
        train.add_histogram_raw("raw", global_step=s, walltime=W0 + 200 + s, **kw)
    exp["raw"][("train", "raw")] = [
        (W0 + 200 + s, s, rows) for s, (_, rows) in enumerate(RAW_HISTS)
    ]

    train.add_text("notes", MARKDOWN, global_step=0, walltime=W0 + 300)
    train.add_text("notes", "second *entry*", global_step=1, walltime=W0 + 301)
    exp["text"][("train", "notes")] = [(W0 + 300, 0), (W0 + 301, 1)]
    train.flush()
    train.close()

    ev = SummaryWriter(log_dir=str(root / "eval"))
    for i in range(3):
        ev.add_scalar("loss", 10.0 - i, global_step=i * 100, walltime=W0 + 1000 + i)
    exp["scalars"][("eval", "loss")] = [
        (W0 + 1000 + i, i * 100, expected_json_scalar(10.0 - i)) for i in range(3)
    ]
    ev.add_text("eval_notes", "plain words <b>not bold</b>", global_step=7, walltime=W0 + 2000)
    exp["text"][("eval", "eval_notes")] = [(W0 + 2000, 7)]
    ev.close()

    exp["runs"] = {
        "train",
        "eval",
        "train/group_metrics_a",
        "train/group_metrics_b",
        "train/group_metrics_c",
    }
    exp["time_range"] = (t_before, time.time())
    return exp


@pytest.mark.parametrize("load_fast", LOADERS)
def test_scalars_histograms_text_round_trip(tmp_path, tb_server, load_fast):
    logdir = tmp_path / "logs"
    exp = write_logdir(logdir)
    tb = tb_server(logdir, load_fast=load_fast)

    # The Rust loader runs as a child process of TensorBoard; the Python one does not.
    children = tb.child_processes()
    if load_fast:
        assert any("tensorboard_data_server" in c for c in children.values()), children
    else:
        assert children == {}, children

    # ---- runs
    tb.wait_for(
        lambda: exp["runs"] <= set(tb.runs()),
        timeout=WAIT,
        what="runs {!r}".format(sorted(exp["runs"])),
    )

    # ---- scalars
    t_lo, t_hi = exp["time_range"]
    for (run, tag), points in exp["scalars"].items():
        got = wait_points(
            tb,
            lambda run=run, tag=tag: tb.scalars(run, tag),
            len(points),
            f"{len(points)} scalars {run}/{tag}",
        )
        assert len(got) == len(points), (run, tag, got)
        for (wall, step, value), g in zip(points, got):
            assert len(g) == 3, g
            g_wall, g_step, g_value = g
            assert g_step == step, (run, tag, g, step)
            if wall is None:
                assert t_lo <= g_wall <= t_hi, (run, tag, g, exp["time_range"])
            else:
                assert g_wall == wall, (run, tag, g, wall)
            assert g_value == value, (run, tag, step, g_value, value)
            assert type(g_value) is type(value), (run, tag, g_value, value)
    # Decoded non-finites (both loaders send the strings "NaN"/"Infinity"/"-Infinity").
    loss = {s: to_float(v) for _, s, v in tb.scalars("train", "loss")}
    assert math.isnan(loss[8]) and loss[9] == math.inf and loss[10] == -math.inf

    scalar_tags = tb.tags("scalars")
    expected_scalar_tags = {}
    for run, tag in exp["scalars"]:
        expected_scalar_tags.setdefault(run, set()).add(tag)
    assert {r: set(t) for r, t in scalar_tags.items()} == expected_scalar_tags

    # ---- histograms
    hist_tags = tb.tags("histograms")
    assert set(hist_tags) == {"train"}, hist_tags
    assert set(hist_tags["train"]) == {t for _, t in exp["hist"]} | {"raw"}, hist_tags
    for (run, tag), (kw, samples) in exp["hist"].items():
        got = wait_points(
            tb,
            lambda run=run, tag=tag: tb.histograms(run, tag),
            len(samples),
            f"{len(samples)} histograms {run}/{tag}",
        )
        assert [(g[0], g[1]) for g in got] == [(W0 + 100 + s, s) for s in range(len(samples))], (
            tag,
            [g[:2] for g in got],
        )
        for s, (sample, g) in enumerate(zip(samples, got)):
            rows = g[2]
            what = f"{tag} step {s} {kw!r}"
            check_histogram_rows(rows, sample, what)
            bins = kw.get("bins")
            if isinstance(bins, int):
                assert len(rows) == bins, (what, len(rows))
            if kw.get("max_bins") is not None:
                assert len(rows) <= kw["max_bins"], (what, len(rows))
            if isinstance(bins, np.ndarray):
                assert [r[0] for r in rows] + [rows[-1][1]] == pytest.approx(
                    list(bins), rel=1e-12
                ), what
            if isinstance(bins, str) and bins == "fd":
                counts, np_edges = np.histogram(sample, bins="fd")
                assert len(rows) == len(counts), (what, len(rows), len(counts))

    got = wait_points(tb, lambda: tb.histograms("train", "raw"), len(RAW_HISTS), "raw histograms")
    assert [[g[0], g[1], g[2]] for g in got] == [
        [wall, step, rows] for wall, step, rows in exp["raw"][("train", "raw")]
    ], got

    # ---- text
    text_tags = tb.tags("text")
    assert set(text_tags) == {"train", "eval"}, text_tags
    tag = text_tag(tb, "train", "notes")
    got = wait_points(tb, lambda: tb.text("train", tag), 2, "text train/notes")
    assert [(g["wall_time"], g["step"]) for g in got] == exp["text"][("train", "notes")]
    html = got[0]["text"]
    for fragment in (
        "<h1>Notes</h1>",
        "<em>emphasis</em>",
        "<strong>bold</strong>",
        "<code>code</code>",
        "http://example.com/x",
        ">link</a>",
        "<li>item one</li>",
        "<li>item two</li>",
        "\u00fcn\u00efc\u00f6d\u00e9 \u2713",
    ):
        assert fragment in html, (fragment, html)
    assert "<script>" not in html, html  # sanitized by TensorBoard
    assert "<em>entry</em>" in got[1]["text"], got[1]
    raw = tb.text("train", tag, markdown=False)
    assert "# Notes" in raw[0]["text"] and "*emphasis*" in raw[0]["text"], raw[0]

    etag = text_tag(tb, "eval", "eval_notes")
    got = wait_points(tb, lambda: tb.text("eval", etag), 1, "text eval/eval_notes")
    assert [(g["wall_time"], g["step"]) for g in got] == exp["text"][("eval", "eval_notes")]
    assert "plain words" in got[0]["text"] and "not bold" in got[0]["text"], got[0]

    # ---- exactly the expected runs, each once
    runs = tb.runs()
    assert sorted(runs) == sorted(exp["runs"]), runs

    # ---- clean shutdown: TensorBoard and the Rust data server are gone
    pids = [tb.proc.pid] + list(children)
    assert tb.stop() == {}
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), pid


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("load_fast", LOADERS)
def test_live_reload_while_writer_open(tmp_path, tb_server, load_fast):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    tb = tb_server(logdir, load_fast=load_fast)
    assert tb.runs() == []

    w = SummaryWriter(
        log_dir=str(logdir / "live"), max_queue=1000, flush_secs=120, histogram_form="tensor"
    )
    try:
        for i in range(5):
            w.add_scalar("x", i * 0.5, global_step=i, walltime=W0 + i)
        w.flush()
        got = tb.wait_for(
            lambda: (
                "live" in tb.runs()
                and len(tb.scalars("live", "x")) == 5
                and tb.scalars("live", "x")
            ),
            timeout=WAIT,
            what="first 5 points of live/x",
        )
        assert got == [[W0 + i, i, i * 0.5] for i in range(5)], got

        # More points, a new tag, a histogram, text and a new sub-run, all on the
        # same open writer.
        for i in range(5, 12):
            w.add_scalar("x", i * 0.5, global_step=i, walltime=W0 + i)
        w.add_scalar("y", -1.0, global_step=11, walltime=W0 + 11, new_style=True)
        w.add_histogram(
            "h", np.arange(100, dtype=np.float64), global_step=11, walltime=W0 + 11, bins=4
        )
        w.add_text("log", "step *eleven*", global_step=11, walltime=W0 + 11)
        w.add_scalars("grp", {"k": 3.0}, global_step=11, walltime=W0 + 11)
        w.flush()

        got = wait_points(tb, lambda: tb.scalars("live", "x"), 12, "12 points of live/x")
        assert got == [[W0 + i, i, i * 0.5] for i in range(12)], got
        assert wait_points(tb, lambda: tb.scalars("live", "y"), 1, "live/y") == [
            [W0 + 11, 11, -1.0]
        ]
        h = wait_points(tb, lambda: tb.histograms("live", "h"), 1, "live/h")
        assert len(h) == 1 and h[0][:2] == [W0 + 11, 11], h
        assert len(h[0][2]) == 4 and sum(r[2] for r in h[0][2]) == 100, h
        assert h[0][2][0][0] == 0.0 and h[0][2][-1][1] == 99.0, h
        ttag = text_tag(tb, "live", "log")
        t = wait_points(tb, lambda: tb.text("live", ttag), 1, "live text")
        assert t[0]["step"] == 11 and "<em>eleven</em>" in t[0]["text"], t
        tb.wait_for(lambda: "live/grp_k" in tb.runs(), timeout=WAIT, what="run live/grp_k")
        assert wait_points(tb, lambda: tb.scalars("live/grp_k", "grp"), 1, "grp") == [
            [W0 + 11, 11, 3.0]
        ]

        # And once more after that, still on the same file.
        w.add_scalar("x", 100.0, global_step=100, walltime=W0 + 100)
        w.flush()
        got = wait_points(tb, lambda: tb.scalars("live", "x"), 13, "13 points of live/x")
        assert got[-1] == [W0 + 100, 100, 100.0], got
    finally:
        w.close()
    assert sorted(tb.runs()) == ["live", "live/grp_k"]


@pytest.mark.parametrize("load_fast", LOADERS)
def test_purge_step_hides_the_crashed_tail(tmp_path, tb_server, load_fast):
    # A run that crashed after step 9 is resumed from a checkpoint at step 5: TensorBoard
    # must show steps 0-4 of the first attempt and then the resumed run, in both loaders.
    with SummaryWriter(str(tmp_path)) as w:
        for i in range(10):
            w.add_scalar("x", float(i), i)
    # No pause needed: names sort in creation order within a process, also within a second.
    with SummaryWriter(str(tmp_path), purge_step=5) as w:
        for i in range(5, 8):
            w.add_scalar("x", 100.0 + i, i)
    tb = tb_server(str(tmp_path), load_fast=load_fast)
    want = [(i, float(i)) for i in range(5)] + [(i, 100.0 + i) for i in range(5, 8)]

    def points():
        got = [(p[1], p[2]) for p in tb.scalars(".", "x")]
        return got if got == want else None

    tb.wait_for(points, timeout=30, what=f"purged series {want}")

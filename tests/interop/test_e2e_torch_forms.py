"""PyTorch's forms through a real TensorBoard server, under both loaders.

SummaryWriter writes histograms, images and audio as PyTorch does (legacy HistogramProto,
Summary.Image, Summary.Audio). This measures what each loader shows for them:

- Histograms: the Python loader drops the empty buckets at both ends and bounds the rest
  with min and max (rounded to float32); the Rust loader keeps PyTorch's leading empty
  bucket as a zero-count bucket from min to the first edge, which runs backwards (its left
  edge is above its right one) whenever min lies inside the first non-empty bucket. The
  counts are the same. ``histogram_form="tensor"`` is shown exactly by both
  (tests/test_e2e_tensorboard.py).
- Images and audio: both loaders serve the very bytes written (tests/test_e2e_kinds.py for
  the pixels and samples); here, where torch is installed, tbwrite's and PyTorch's logs of
  the same calls are served alike.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_kinds import decode_png

from tbwrite import SummaryWriter

pytestmark = pytest.mark.server

WAIT = 30.0
RNG = np.random.default_rng(5)
SAMPLES = {
    "normal": RNG.normal(size=500),
    "shifted": RNG.uniform(2, 5, 300),
    "const": np.full(7, 3.0),
}


def torch_buckets(values, bins):
    """PyTorch's buckets of ``values``: (counts, edges) trimmed to the non-empty span."""
    counts, edges = np.histogram(values, bins=bins)
    nz = np.flatnonzero(counts)
    return counts[nz[0] : nz[-1] + 1], edges[nz[0] : nz[-1] + 2]


def f32(x):
    return float(np.float32(x))


@pytest.mark.parametrize("load_fast", [True, False], ids=["rust_loader", "python_loader"])
def test_legacy_histograms_in_both_loaders(tmp_path, tb_server, load_fast) -> None:
    with SummaryWriter(tmp_path / "run") as w:
        for name, values in SAMPLES.items():
            w.add_histogram(name, values, 0, bins=12)
    tb = tb_server(tmp_path, load_fast=load_fast)
    tb.wait_for(lambda: len(tb.tags("histograms").get("run", {})) == len(SAMPLES), timeout=WAIT)
    for name, values in SAMPLES.items():
        ((_, _, rows),) = tb.histograms("run", name)
        counts, edges = torch_buckets(values, 12)
        lo, hi = float(values.min()), float(values.max())
        inner = list(edges[1:-1])
        lefts, rights = [lo, *inner], [*inner, hi]
        if load_fast:
            # Rust: exact float64 edges, plus PyTorch's empty leading bucket from min to
            # the first edge.
            expected = [[lo, float(edges[0]), 0.0]]
            expected += [[a, b, float(c)] for a, b, c in zip(lefts, rights, counts)]
        else:
            # Python: the empty ends dropped, edges rounded to float32.
            expected = [[f32(a), f32(b), float(c)] for a, b, c in zip(lefts, rights, counts)]
        assert rows == expected, (name, rows)
        assert sum(r[2] for r in rows) == len(values)


@pytest.mark.parametrize("load_fast", [True, False], ids=["rust_loader", "python_loader"])
def test_served_like_pytorchs_own_logs(tmp_path, tb_server, load_fast) -> None:
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    img = RNG.random((3, 5, 6))
    snd = RNG.uniform(-1, 1, 400)
    hist = RNG.normal(size=300)

    def call(w):
        for s in (0, 3):
            w.add_image("img", img, s)
            w.add_images("grid", np.stack([img] * 3), s)
            w.add_audio("snd", snd, s, sample_rate=8000)
            w.add_histogram("h", hist * (s + 1), s)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch_tb.SummaryWriter(str(tmp_path / "torch")) as w:
            call(w)
    with SummaryWriter(tmp_path / "tb") as w:
        call(w)
    tb = tb_server(tmp_path, load_fast=load_fast, samples_per_plugin={"images": 100, "audio": 100})
    tb.wait_for(
        lambda: all(
            set(tb.get_json("/data/plugin/images/tags").get(r, {})) == {"img", "grid"}
            and len(tb.histograms(r, "h")) == 2
            for r in ("torch", "tb")
        ),
        timeout=WAIT,
    )
    for tag in ("img", "grid"):
        entries = {
            r: tb.get_json("/data/plugin/images/images", run=r, tag=tag) for r in ("torch", "tb")
        }
        assert [e["step"] for e in entries["tb"]] == [e["step"] for e in entries["torch"]]
        for et, eb in zip(entries["torch"], entries["tb"]):
            pt = tb.get(f"/data/plugin/images/individualImage?{et['query']}")
            pb = tb.get(f"/data/plugin/images/individualImage?{eb['query']}")
            assert np.array_equal(decode_png(pb), decode_png(pt)), tag
    audio = {r: tb.get_json("/data/plugin/audio/audio", run=r, tag="snd") for r in ("torch", "tb")}
    for et, eb in zip(audio["torch"], audio["tb"], strict=True):
        assert eb["step"] == et["step"]
        wt = tb.get(f"/data/plugin/audio/individualAudio?{et['query']}")
        wb = tb.get(f"/data/plugin/audio/individualAudio?{eb['query']}")
        assert wb == wt
        # tbwrite's first clip carries the audio plugin's metadata, so the Rust loader
        # serves audio/wav where PyTorch's log gets application/octet-stream.
        assert eb["contentType"] == "audio/wav"
    hist_rows = {r: [g[2] for g in tb.histograms(r, "h")] for r in ("torch", "tb")}
    assert hist_rows["tb"] == hist_rows["torch"]

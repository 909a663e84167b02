"""Differential tests: the same calls through tbwrite's and PyTorch's own SummaryWriter,
into two log dirs, decoded and compared value by value, method by method.

Where they differ on purpose the test says so and checks the difference is exactly that
(the table "Where tbwrite differs from PyTorch, on purpose" of docs/differences.md lists
them): ``add_text`` keeps its tag (PyTorch appends ``/text_summary``); ``add_hparams`` without
``run_name`` writes the session into the run itself, and bool hparams are BOOL (PyTorch:
numbers); PR curves are not capped at 127 thresholds. Runs only where torch is installed.
"""

from __future__ import annotations

import io
import math
import warnings
import wave

import numpy as np
import pytest
from PIL import Image, ImageSequence
from readback import accumulator, all_events

import tbwrite

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

RNG = np.random.default_rng(11)


def write_both(tmp_path, call, **tb_kwargs):
    """``call(writer)`` through PyTorch's writer into tmp/torch and tbwrite's into tmp/tb."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's own deprecation noise is not under test
        with TorchWriter(str(tmp_path / "torch")) as w:
            call(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tbwrite's clipping warnings: tested on their own
        with tbwrite.SummaryWriter(tmp_path / "tb", **tb_kwargs) as w:
            call(w)
    return values(tmp_path / "torch"), values(tmp_path / "tb")


def values(run_dir):
    """{tag: [(step, Summary.Value), ...]} of one run (not its sub-runs)."""
    out: dict = {}
    for e in all_events(run_dir):
        for v in e.summary.value:
            out.setdefault(v.tag, []).append((e.step, v))
    return out


def png(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    im.load()
    return np.asarray(im)


# -- scalars ------------------------------------------------------------------------------


def test_scalars(tmp_path) -> None:
    loss = (torch.nn.Linear(3, 1)(torch.ones(2, 3)) ** 2).mean()
    inputs = [0.1, 3, np.float32(0.7), np.float64(-2.5), torch.tensor(1.25), loss, float("nan")]

    def call(w):
        for i, v in enumerate(inputs):
            w.add_scalar("s", v, i)
            w.add_scalar("new", v, i, new_style=True)

    t, b = write_both(tmp_path, call)
    got = [v.simple_value for _, v in b["s"]]
    want = [v.simple_value for _, v in t["s"]]
    assert np.array_equal(got, want, equal_nan=True) and len(got) == len(inputs)
    assert [list(v.tensor.float_val) for _, v in b["new"]] != []
    for (_, x), (_, y) in zip(b["new"], t["new"]):
        assert np.array_equal(x.tensor.float_val, y.tensor.float_val, equal_nan=True)
    # Metadata: tbwrite writes it with a tag's first value only (readers keep the first).
    assert b["new"][0][1].metadata.plugin_data.plugin_name == "scalars"
    assert t["new"][0][1].metadata.plugin_data.plugin_name == "scalars"


def test_add_scalars_sub_runs(tmp_path) -> None:
    def call(w):
        w.add_scalars("loss", {"train": 1.5, "val": torch.tensor(2.5)}, 3)

    write_both(tmp_path, call)
    for key in ("train", "val"):
        t, b = values(tmp_path / "torch" / f"loss_{key}"), values(tmp_path / "tb" / f"loss_{key}")
        assert [(s, v.simple_value) for s, v in b["loss"]] == [
            (s, v.simple_value) for s, v in t["loss"]
        ]


# -- histograms -----------------------------------------------------------------------------


def _float32_adversaries() -> np.ndarray:
    """PyTorch's default edges as float32 and the float32s next to them, zeros, denormals,
    the extremes."""
    from tbwrite._summaries.torch_rules import default_bins

    edges = default_bins().astype(np.float32)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    f = np.finfo(np.float32)
    sub = f.smallest_subnormal
    special = np.array([0.0, -0.0, sub, -sub, f.tiny, -f.tiny, f.max, -f.max], np.float32)
    return np.concatenate([edges, np.nextafter(edges, up), np.nextafter(edges, down), special])


def _float32_bits(n: int) -> np.ndarray:
    bits = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return bits[np.isfinite(bits)]


DATA = {
    "normal": RNG.normal(size=1000),
    "uniform": RNG.uniform(2, 5, 300),
    "const": np.full(10, 3.0),
    "ints": RNG.integers(0, 10, 500),
    "wide": np.concatenate([RNG.normal(size=50) * 1e6, [0.0, -1e-13, 1e-9]]),
    "tensor_grad": torch.randn(40, 3, requires_grad=True),
    "tensor_f16": torch.randn(64).to(torch.float16),
}
BINS = [
    ("tensorflow", None),
    ("tensorflow", 5),
    ("tensorflow", 100),
    (30, None),
    (30, 5),
    (10, 3),
    (7, 7),
    ("auto", None),
    ("fd", 4),
    ("sturges", None),
    ("sqrt", 2),
    (np.linspace(-2, 6, 9), None),
    (np.linspace(-2, 6, 9), 3),
]


def histo_fields(h):
    return (h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit), list(h.bucket))


@pytest.mark.parametrize("bins,max_bins", BINS, ids=[f"{b!s:.12}-{m}" for b, m in BINS])
def test_histograms_equal_torchs_field_by_field(tmp_path, bins, max_bins) -> None:
    def call(w):
        for i, data in enumerate(DATA.values()):
            try:
                w.add_histogram(f"h{i}", data, 0, bins=bins, max_bins=max_bins)
            except ValueError:
                w.add_text(f"h{i}", "refused", 0)  # e.g. no value inside explicit edges

    t, b = write_both(tmp_path, call)
    for i, name in enumerate(DATA):
        (_, tv), (_, bv) = t[f"h{i}"][0], b[f"h{i}"][0]
        if tv.HasField("histo"):
            assert bv.HasField("histo"), name
            assert histo_fields(bv.histo) == histo_fields(tv.histo), name
            # bit for bit, -0.0 included
            assert bv.histo.SerializeToString() == tv.histo.SerializeToString(), name
        else:  # PyTorch failed too: an empty histogram
            assert not bv.HasField("histo"), name


# float32, which PyTorch widens to float64 and tbwrite counts and sums as it is; spanning
# float32's whole range, so only the bins whose count does not follow the range.
FLOAT32_DATA = {
    "edges": _float32_adversaries(),
    "bits": _float32_bits(20_000),
    "tensor_edges": torch.from_numpy(_float32_adversaries()),
    "tensor_normal": torch.randn(5000) * 1e-6,
}
FLOAT32_BINS = [("tensorflow", None), ("tensorflow", 7), (30, None), (np.linspace(-2, 6, 9), 3)]


@pytest.mark.parametrize(
    "bins,max_bins", FLOAT32_BINS, ids=[f"{b!s:.12}-{m}" for b, m in FLOAT32_BINS]
)
def test_float32_histograms_equal_torchs_bit_for_bit(tmp_path, bins, max_bins) -> None:
    def call(w):
        for name, data in FLOAT32_DATA.items():
            w.add_histogram(name, data, 0, bins=bins, max_bins=max_bins)

    t, b = write_both(tmp_path, call)
    for name in FLOAT32_DATA:
        tv, bv = t[name][0][1].histo, b[name][0][1].histo
        assert bv.SerializeToString() == tv.SerializeToString(), name


def test_large_float32_histogram_equals_torchs(tmp_path) -> None:
    # Beyond TABLE_CHUNK values tbwrite sums the squares piece by piece (no float64 copy):
    # equal to PyTorch's one dot product within rounding, every other field bit for bit.
    data = {"np": RNG.normal(size=1_000_003).astype(np.float32)}
    data["torch"] = torch.from_numpy(data["np"] * np.float32(1e-3))
    t, b = write_both(tmp_path, lambda w: [w.add_histogram(k, v, 0) for k, v in data.items()])
    for tag in data:
        tv, bv = t[tag][0][1].histo, b[tag][0][1].histo
        assert math.isclose(bv.sum_squares, tv.sum_squares, rel_tol=1e-12)
        bv.sum_squares = tv.sum_squares
        assert bv.SerializeToString() == tv.SerializeToString(), tag


def test_histogram_raw(tmp_path) -> None:
    kw = dict(
        min=-1.0,
        max=4.0,
        num=6,
        sum=7.0,
        sum_squares=21.0,
        bucket_limits=[0.0, 1.0, 2.0, 4.0],
        bucket_counts=[1, 2, 0, 3],
    )
    t, b = write_both(tmp_path, lambda w: w.add_histogram_raw("raw", global_step=2, **kw))
    assert histo_fields(b["raw"][0][1].histo) == histo_fields(t["raw"][0][1].histo)


def test_histogram_tensor_form_is_an_option(tmp_path) -> None:
    with tbwrite.SummaryWriter(tmp_path, histogram_form="tensor") as w:
        w.add_histogram("h", DATA["normal"], 0)
    ((_, v),) = values(tmp_path)["h"]
    assert not v.HasField("histo") and v.metadata.plugin_data.plugin_name == "histograms"
    assert [d.size for d in v.tensor.tensor_shape.dim] == [30, 3]


# -- images -------------------------------------------------------------------------------

IMAGE_CASES = {
    "float64_chw": (RNG.random((3, 6, 7)), "CHW"),
    "float32_edges": (np.array([[[0.0, 0.2, 0.5, 0.999, 1.0, 1 / 255, 254.5 / 255]]]), "CHW"),
    "out_of_range": (RNG.normal(0.5, 1, (3, 4, 5)), "CHW"),
    "nan_inf": (np.array([[np.nan, np.inf, -np.inf, 0.5]]), "HW"),
    "uint8_hwc": (RNG.integers(0, 256, (5, 6, 3), dtype=np.uint8), "HWC"),
    "grey_hw": (RNG.random((4, 5)), "HW"),
    "grey_chw": (RNG.random((1, 4, 5)), "CHW"),
    "rgba": (RNG.random((4, 3, 5)), "CHW"),
    "int64": (RNG.integers(0, 3, (3, 2, 2)), "CHW"),
    "bool": (RNG.random((2, 3)) > 0.5, "HW"),
    "tensor_grad": (torch.rand(3, 5, 4, requires_grad=True), "CHW"),
    "tensor_bf16": (torch.rand(3, 5, 4).to(torch.bfloat16), "CHW"),
    "wh": (RNG.random((5, 4)), "WH"),
}


def same_image(tv, bv, name) -> None:
    ti, bi = tv.image, bv.image
    assert (bi.height, bi.width, bi.colorspace) == (ti.height, ti.width, ti.colorspace), name
    assert np.array_equal(png(bi.encoded_image_string), png(ti.encoded_image_string)), name


def test_images_pixel_identical(tmp_path) -> None:
    def call(w):
        for name, (img, fmt) in IMAGE_CASES.items():
            w.add_image(name, img, 1, dataformats=fmt)

    t, b = write_both(tmp_path, call)
    for name in IMAGE_CASES:
        assert len(b[name]) == 1 and b[name][0][1].HasField("image"), name
        same_image(t[name][0][1], b[name][0][1], name)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 17])
@pytest.mark.parametrize("channels,fmt", [(3, "NCHW"), (1, "NCHW"), (3, "NHWC"), (None, "NHW")])
def test_add_images_grid(tmp_path, n, channels, fmt) -> None:
    shape = {"NCHW": (n, channels, 3, 4), "NHWC": (n, 3, 4, channels), "NHW": (n, 3, 4)}[fmt]
    batch = RNG.random(shape).astype(np.float32)
    if fmt == "NHW":  # PyTorch cannot (its layout code needs a C axis): compare with N1HW
        with pytest.raises(ValueError), TorchWriter(str(tmp_path / "torch")) as w:
            w.add_images("b", batch, 0, dataformats=fmt)
        t, b = write_both(tmp_path, lambda w: w.add_images("b", batch[:, None], 1))
        with tbwrite.SummaryWriter(tmp_path / "nhw") as w:
            w.add_images("b", batch, 1, dataformats="NHW")
        same_image(t["b"][-1][1], values(tmp_path / "nhw")["b"][0][1], fmt)
        return
    t, b = write_both(tmp_path, lambda w: w.add_images("b", batch, 0, dataformats=fmt))
    same_image(t["b"][0][1], b["b"][0][1], fmt)


BOXES = {
    "inside": [[2, 3, 7, 8]],
    "past_border": [[-3, -2, 20, 15]],
    "one_edge_out": [[-5, 2, 6, 30]],
    "fractional": [[2.4, 3.6, 7.5, 8.5], [-0.5, -0.7, 0.6, 0.9]],
    "unordered": [[9, 8, 1, 2]],
    "point": [[5, 5, 5, 5]],
    "many": RNG.uniform(-4, 16, (12, 4)).tolist(),
}


@pytest.mark.parametrize("case", list(BOXES))
@pytest.mark.parametrize("rescale", [1, 2, 0.5])
def test_image_with_boxes(tmp_path, case, rescale) -> None:
    img = RNG.random((3, 10, 12))
    boxes = np.array(BOXES[case], dtype=float)

    def call(w):
        w.add_image_with_boxes("x", img, boxes, 0, rescale=rescale)
        w.add_image_with_boxes("grey", img[:1], torch.tensor(boxes), 0, rescale=rescale)

    t, b = write_both(tmp_path, call)
    for tag in ("x", "grey"):
        ti, bi = t[tag][0][1].image, b[tag][0][1].image
        # PyTorch stores the size before rescaling in the Image message; tbwrite the size of
        # the PNG (deliberate). The pixels are the same.
        assert bi.colorspace == ti.colorspace
        got, want = png(bi.encoded_image_string), png(ti.encoded_image_string)
        assert (bi.height, bi.width) == got.shape[:2]
        assert np.array_equal(got, want), (case, tag)


def test_image_with_boxes_labels(tmp_path) -> None:
    img = RNG.random((3, 40, 60))
    boxes = np.array([[5, 20, 40, 35], [30, 5, 55, 30]], dtype=float)

    def call(w):
        w.add_image_with_boxes("x", img, boxes, 0, labels=["cat", "dog"])

    t, b = write_both(tmp_path, call)
    same_image(t["x"][0][1], b["x"][0][1], "labels")


def test_video_frames_as_torch_lays_them_out(tmp_path) -> None:
    # PyTorch encodes the GIF with moviepy (not installed here: it then writes no image).
    # What is compared is the frames: PyTorch's own layout function and scaling rule
    # applied to the input, against the frames of tbwrite's GIF.
    from torch.utils.tensorboard._utils import _prepare_video

    for n in (1, 2, 3, 5):
        vid = RNG.integers(0, 2, (n, 3, 3, 4, 5)).astype(np.float32)
        with tbwrite.SummaryWriter(tmp_path / f"n{n}") as w:
            w.add_video("v", torch.tensor(vid), 0, fps=4)
        ((_, v),) = values(tmp_path / f"n{n}")["v"]
        frames = [
            np.asarray(f.convert("RGB"))
            for f in ImageSequence.Iterator(Image.open(io.BytesIO(v.image.encoded_image_string)))
        ]
        want = (_prepare_video(vid).astype(np.float32) * 255).clip(0, 255).astype(np.uint8)
        assert len(frames) == want.shape[0]
        for got, exp in zip(frames, want):
            assert np.array_equal(got, exp), n
        assert (v.image.height, v.image.width, v.image.colorspace) == (
            want.shape[1],
            want.shape[2],
            3,
        )


def test_video_against_moviepy(tmp_path) -> None:
    pytest.importorskip("moviepy")
    vid = RNG.integers(0, 2, (2, 3, 3, 4, 5)).astype(np.float32)
    t, b = write_both(tmp_path, lambda w: w.add_video("v", vid, 0, fps=4))

    def frames(v):
        data = v.image.encoded_image_string
        return [
            np.asarray(f.convert("RGB"))
            for f in ImageSequence.Iterator(Image.open(io.BytesIO(data)))
        ]

    assert all(np.array_equal(x, y) for x, y in zip(frames(b["v"][0][1]), frames(t["v"][0][1])))


# -- audio --------------------------------------------------------------------------------

SOUNDS = {
    "float64": np.sin(np.linspace(0, 30, 1001)) * 0.9,
    "float32_tensor": torch.sin(torch.linspace(0, 30, 999)) * 0.7,
    "row": RNG.uniform(-1, 1, (1, 500)),
    "clipped": RNG.uniform(-2, 2, 300),
    "grad": torch.rand(200, requires_grad=True) * 2 - 1,
    "exact": np.array([0.0, 0.5, -0.5, 1.0, -1.0, 0.3, -0.3, 1e-5]),
    "ints": np.array([0, 1, -1, 0]),
}


def test_audio_sample_identical(tmp_path) -> None:
    def call(w):
        for name, snd in SOUNDS.items():
            w.add_audio(name, snd, 2, sample_rate=22050)

    t, b = write_both(tmp_path, call)
    for name in SOUNDS:
        ta, ba = t[name][0][1].audio, b[name][0][1].audio
        assert ba.encoded_audio_string == ta.encoded_audio_string, name  # the WAV, byte for byte
        for field in ("sample_rate", "num_channels", "length_frames", "content_type"):
            assert getattr(ba, field) == getattr(ta, field), (name, field)


def test_other_differences_on_purpose(tmp_path) -> None:
    labels, preds = RNG.integers(0, 2, 50), RNG.random(50)

    def call(w):
        w.add_scalar("dp", 0.1, 0, new_style=True, double_precision=True)
        w.add_pr_curve("pr", labels, preds, 0, num_thresholds=200)
        w.add_image_with_boxes("r", RNG.random((3, 4, 6)), np.array([[0, 0, 2, 2]]), 0, rescale=2)

    t, b = write_both(tmp_path, call)
    # double_precision: PyTorch a DT_DOUBLE tensor (dropped by the Rust loader), tbwrite float.
    assert t["dp"][0][1].tensor.dtype == 2 and b["dp"][0][1].tensor.dtype == 1
    # PR curves: PyTorch caps the thresholds at 127.
    assert tensor_array(t["pr"][0][1]).shape == (6, 127)
    assert tensor_array(b["pr"][0][1]).shape == (6, 200)
    # rescale: PyTorch records the size before rescaling, tbwrite the PNG's.
    ti, bi = t["r"][0][1].image, b["r"][0][1].image
    assert (ti.height, ti.width) == (4, 6) and (bi.height, bi.width) == (8, 12)
    assert png(ti.encoded_image_string).shape == png(bi.encoded_image_string).shape == (8, 12, 3)
    # PR curve inputs PyTorch miscounts silently are refused.
    with tbwrite.SummaryWriter(tmp_path / "pr") as w:
        with pytest.raises(ValueError, match="predictions must lie in"):
            w.add_pr_curve("p", [1, 0], [0.5, 1.5])
        with pytest.raises(ValueError, match="labels must be 0/1"):
            w.add_pr_curve("p", [1, 2], [0.5, 0.5])
    # labels of another length than the boxes: PyTorch drops them silently.
    with tbwrite.SummaryWriter(tmp_path / "labels") as w:
        with pytest.raises(ValueError, match="labels"):
            w.add_image_with_boxes("x", np.zeros((3, 4, 4)), [[0, 0, 1, 1]], labels=["a", "b"])


def test_half_precision_differs_on_purpose(tmp_path) -> None:
    big = torch.tensor([1e6, 2.0], dtype=torch.bfloat16)
    loud = torch.tensor([1.0, 0.5, -1.0], dtype=torch.float16)

    def call(w):
        w.add_histogram("bf16", big, 0)
        w.add_audio("f16", loud, 0, sample_rate=8000)

    t, b = write_both(tmp_path, call)
    # PyTorch converts bfloat16 to float16 first: 1e6 (999424 in bfloat16) becomes inf.
    assert t["bf16"][0][1].histo.max == math.inf
    assert b["bf16"][0][1].histo.max == 999424.0
    # PyTorch scales float16 samples in float16: 1.0 * 32767 rounds to 32768, which wraps
    # to -32768. tbwrite widens to float32 first.

    def pcm(v):
        with wave.open(io.BytesIO(v.audio.encoded_audio_string)) as f:
            return np.frombuffer(f.readframes(f.getnframes()), "<i2").tolist()

    assert pcm(t["f16"][0][1]) == [-32768, 16384, -32768]
    assert pcm(b["f16"][0][1]) == [32767, 16383, -32767]


def test_clipping_warns_once_naming_the_argument(tmp_path) -> None:
    from tbwrite._summaries import torch_rules as _torchcompat

    _torchcompat._warned.clear()
    with tbwrite.SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match=r"snd_tensor.*\[-1, 1\]"):
            w.add_audio("a", np.array([0.5, 1.5]), 0)
        with pytest.warns(UserWarning, match=r"img_tensor.*\[0, 1\]"):
            w.add_image("i", np.full((3, 2, 2), 2.0), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            w.add_audio("a", np.array([0.5, -3.0]), 1)  # once per argument: no second warning
            w.add_image("i", np.full((3, 2, 2), -1.0), 1)


# -- text, PR curves, meshes, custom scalars, embeddings, hparams ---------------------------


def test_text_tag_differs_on_purpose(tmp_path) -> None:
    t, b = write_both(tmp_path, lambda w: w.add_text("notes", "**hi** ü", 3))
    ((_, tv),) = t["notes/text_summary"]  # PyTorch appends /text_summary
    ((_, bv),) = b["notes"]  # tbwrite keeps the tag
    assert list(bv.tensor.string_val) == list(tv.tensor.string_val) == ["**hi** ü".encode()]
    assert bv.metadata.plugin_data.plugin_name == tv.metadata.plugin_data.plugin_name == "text"


def tensor_array(v):
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(v.tensor)


@pytest.mark.parametrize("n", [11, 127])
def test_pr_curves(tmp_path, n) -> None:
    labels = RNG.integers(0, 2, 300)
    preds = RNG.random(300)
    weights = RNG.random(300)
    counts = np.abs(RNG.normal(size=(4, n)))
    precision, recall = RNG.random(n), RNG.random(n)

    def call(w):
        w.add_pr_curve("pr", labels, preds, 0, num_thresholds=n)
        w.add_pr_curve("prw", torch.tensor(labels), torch.tensor(preds), 1, n, weights=weights)
        w.add_pr_curve_raw("raw", *counts, precision, recall, 2, n)

    t, b = write_both(tmp_path, call)
    for tag in ("pr", "prw", "raw"):
        ((_, tv),) = t[tag]
        ((_, bv),) = b[tag]
        assert np.array_equal(tensor_array(bv), tensor_array(tv)), tag
        assert bv.metadata.plugin_data.content == tv.metadata.plugin_data.content


def test_mesh(tmp_path) -> None:
    verts = RNG.normal(size=(1, 5, 3)).astype(np.float32)
    faces = np.array([[[0, 1, 2], [1, 2, 3], [2, 3, 4]]])
    colors = RNG.integers(0, 256, (1, 5, 3))
    cfg = {"camera": {"cls": "PerspectiveCamera", "fov": 75}}

    def call(w):
        w.add_mesh("m", torch.tensor(verts), colors=colors, faces=faces, config_dict=cfg)

    t, b = write_both(tmp_path, call)
    from tensorboard.plugins.mesh import plugin_data_pb2

    assert set(b) == set(t) == {"m_VERTEX", "m_FACE", "m_COLOR"}
    for tag in t:
        ((_, tv),) = t[tag]
        ((_, bv),) = b[tag]
        # PyTorch stores every part as float32; tbwrite faces as int32 and colors as uint8,
        # the dtypes TensorBoard's own mesh summary uses. The values are the same.
        assert np.array_equal(tensor_array(bv).astype(np.float64), tensor_array(tv)), tag
        assert tv.tensor.dtype == 1  # DT_FLOAT for every part
        assert bv.tensor.dtype == {"m_VERTEX": 1, "m_FACE": 3, "m_COLOR": 4}[tag]  # int32, uint8
        tmeta = plugin_data_pb2.MeshPluginData.FromString(tv.metadata.plugin_data.content)
        bmeta = plugin_data_pb2.MeshPluginData.FromString(bv.metadata.plugin_data.content)
        for field in ("name", "content_type", "json_config", "shape", "components"):
            assert getattr(bmeta, field) == getattr(tmeta, field), (tag, field)


def test_custom_scalars(tmp_path) -> None:
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout = {"a": {"l": ["Multiline", ["x/.*", "y"]], "m": ["Margin", ["v", "lo", "hi"]]}}
    t, b = write_both(tmp_path, lambda w: w.add_custom_scalars(layout))
    ((_, tv),) = t["custom_scalars__config__"]
    ((_, bv),) = b["custom_scalars__config__"]
    parse = layout_pb2.Layout.FromString
    assert parse(bv.tensor.string_val[0]) == parse(tv.tensor.string_val[0])


def test_embedding_files(tmp_path) -> None:
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    mat = torch.randn(6, 4, requires_grad=True)
    label_img = torch.rand(6, 3, 5, 4)

    def call(w):
        w.add_embedding(mat, metadata=list("abcdef"), label_img=label_img, global_step=3, tag="e")
        w.add_embedding(mat[:3], global_step=5, tag="a b/c\\d%e:f")
        w.add_embedding(
            mat[:, :2],
            metadata=[[i, i % 2] for i in range(6)],
            metadata_header=["i", "odd"],
            global_step=4,
            tag="f",
        )

    write_both(tmp_path, call)
    configs = []
    for side in ("torch", "tb"):
        text = (tmp_path / side / "projector_config.pbtxt").read_text()
        configs.append(text_format.Parse(text, ProjectorConfig()))
    for info in configs[1].embeddings:
        # tbwrite also records each tensor's shape (the projector then need not infer it).
        assert list(info.tensor_shape) in ([6, 4], [6, 2], [3, 4])
        del info.tensor_shape[:]
    assert configs[1] == configs[0]
    for info in configs[0].embeddings:  # the files sit where PyTorch puts them
        assert (tmp_path / "tb" / info.tensor_path).is_file(), info.tensor_path
    assert "00005/a b%2fc%5cd%25e:f/tensors.tsv" in [e.tensor_path for e in configs[0].embeddings]
    for sub in ("00003/e", "00004/f"):
        t, b = tmp_path / "torch" / sub, tmp_path / "tb" / sub

        def tsv(path):
            return np.array(
                [[float(x) for x in line.split("\t")] for line in path.read_text().splitlines()]
            )

        # PyTorch writes repr(float(x)) of each float32; tbwrite the shortest float32 repr.
        assert np.array_equal(
            tsv(b / "tensors.tsv").astype(np.float32), tsv(t / "tensors.tsv").astype(np.float32)
        )
        assert (b / "metadata.tsv").read_bytes() == (t / "metadata.tsv").read_bytes()
    # The sprite: the same grid (3 per row for 6 images); PyTorch pads it with black rows
    # to a square, tbwrite does not (the projector needs only the grid).
    got = png((tmp_path / "tb/00003/e/sprite.png").read_bytes())
    want = png((tmp_path / "torch/00003/e/sprite.png").read_bytes())
    assert got.shape == (2 * 5, 3 * 4, 3) and want.shape == (3 * 4, 3 * 4, 3)
    assert np.array_equal(got, want[: got.shape[0]]) and not want[got.shape[0] :].any()


def test_hparams_with_run_name_as_torch(tmp_path) -> None:
    hp = {"lr": torch.tensor([0.1]), "opt": "adam", "layers": 4, "f": np.float64(0.5)}

    def call(w):
        w.add_hparams(hp, {"acc": 0.9}, run_name="trial")

    write_both(tmp_path, call)
    rows = {side: tbwrite.read_hparams(tmp_path / side) for side in ("torch", "tb")}
    (trow,), (brow,) = rows["torch"], rows["tb"]
    assert brow.hparams == trow.hparams
    assert brow.metrics == trow.metrics == {"acc": pytest.approx(0.9)}
    assert brow.status == trow.status == "SUCCESS"


def test_hparams_differences_on_purpose(tmp_path) -> None:
    def call(w):
        w.add_hparams({"bn": True, "lr": 0.1}, {"acc": 0.5})

    write_both(tmp_path, call)
    (trow,) = tbwrite.read_hparams(tmp_path / "torch")
    (brow,) = tbwrite.read_hparams(tmp_path / "tb")
    assert trow.run != "." and brow.run == "."  # PyTorch: a time.time() sub-run; tbwrite: the run
    assert trow.hparams == {"bn": 1.0, "lr": 0.1}  # PyTorch: bool as a number
    assert brow.hparams == {"bn": True, "lr": 0.1}  # tbwrite: BOOL


# -- the readers of PyTorch's logs read tbwrite's ---------------------------------------------


def test_event_accumulator_reads_both_alike(tmp_path) -> None:
    img = RNG.random((3, 6, 7))
    snd = RNG.uniform(-1, 1, 400)
    hist = RNG.normal(size=500)

    def call(w):
        for s in (0, 4):
            w.add_image("img", img, s)
            w.add_images("batch", np.stack([img, img]), s)
            w.add_audio("snd", snd, s, sample_rate=8000)
            w.add_histogram("h", hist + s, s)
            w.add_histogram("h10", hist, s, bins=10, max_bins=4)

    write_both(tmp_path, call)
    ta, ba = accumulator(tmp_path / "torch"), accumulator(tmp_path / "tb")
    for kind in ("images", "audio", "histograms"):
        assert sorted(ba.Tags()[kind]) == sorted(ta.Tags()[kind]) != []
    for tag in ("img", "batch"):
        for x, y in zip(ba.Images(tag), ta.Images(tag), strict=True):
            assert (x.step, x.width, x.height) == (y.step, y.width, y.height)
            assert np.array_equal(png(x.encoded_image_string), png(y.encoded_image_string))
    for x, y in zip(ba.Audio("snd"), ta.Audio("snd"), strict=True):
        assert (x.step, x.content_type, x.sample_rate, x.length_frames, x.encoded_audio_string) == (
            y.step,
            y.content_type,
            y.sample_rate,
            y.length_frames,
            y.encoded_audio_string,
        )
    for tag in ("h", "h10"):
        for x, y in zip(ba.Histograms(tag), ta.Histograms(tag), strict=True):
            assert x.step == y.step and x.histogram_value == y.histogram_value


def test_tbparse_reads_both_alike(tmp_path) -> None:
    tbparse = pytest.importorskip("tbparse")
    hist = RNG.normal(size=500)

    def call(w):
        for s in (0, 4):
            w.add_histogram("h", hist * (s + 1), s)
            w.add_histogram("b", hist, s, bins="auto")

    write_both(tmp_path, call)
    t = tbparse.SummaryReader(str(tmp_path / "torch")).histograms
    b = tbparse.SummaryReader(str(tmp_path / "tb")).histograms
    assert len(b) == len(t) == 4
    for (_, x), (_, y) in zip(
        b.sort_values(["tag", "step"]).iterrows(), t.sort_values(["tag", "step"]).iterrows()
    ):
        assert (x["tag"], x["step"]) == (y["tag"], y["step"])
        assert np.array_equal(x["counts"], y["counts"]) and np.array_equal(x["limits"], y["limits"])


def test_tbparse_images_and_audio(tmp_path) -> None:
    # tbparse reads images and audio only through TensorFlow.
    pytest.importorskip("tensorflow")
    tbparse = pytest.importorskip("tbparse")

    def call(w):
        w.add_image("img", RNG.random((3, 4, 5)), 0)
        w.add_audio("snd", RNG.uniform(-1, 1, 100), 0, sample_rate=8000)

    write_both(tmp_path, call)
    for kind in ("images", "audio"):
        t = getattr(tbparse.SummaryReader(str(tmp_path / "torch")), kind)
        b = getattr(tbparse.SummaryReader(str(tmp_path / "tb")), kind)
        assert len(b) == len(t) == 1
        assert np.array_equal(np.asarray(b.iloc[0]["value"]), np.asarray(t.iloc[0]["value"]))

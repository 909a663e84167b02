"""Images, figures, video, audio, PR curves, meshes, embeddings and custom scalars: each read
back with TensorBoard's EventAccumulator or its own protos and decoded with independent
tools (Pillow, ``wave``), compared with values computed here; plus a validation table."""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
import warnings
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence
from readback import accumulator, all_events
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.mesh import plugin_data_pb2 as mesh_pb2
from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_pb2
from tensorboard.plugins.projector import projector_config_pb2
from tensorboard.util import tensor_util

from tbwrite import SummaryWriter
from tbwrite._summaries import media as _media

RNG = np.random.default_rng(20240601)


def decode_png(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    im.load()
    arr = np.asarray(im)
    return arr[:, :, np.newaxis] if arr.ndim == 2 else arr


def image_strings(run_dir, tag) -> list[tuple[int, list[bytes]]]:
    """(step, [width, height, encoded]) of each image: SummaryWriter writes Summary.Image as
    PyTorch does (EventAccumulator.Images()); the clu-style writer the images plugin's tensor."""
    acc = accumulator(run_dir)
    if tag in acc.Tags()["images"]:
        return [
            (i.step, [str(i.width).encode(), str(i.height).encode(), i.encoded_image_string])
            for i in acc.Images(tag)
        ]
    return [(t.step, list(t.tensor_proto.string_val)) for t in acc.Tensors(tag)]


def the_image(run_dir, tag) -> np.ndarray:
    ((_, strings),) = image_strings(run_dir, tag)
    width, height, png = strings
    pixels = decode_png(png)
    assert (int(width), int(height)) == (pixels.shape[1], pixels.shape[0])
    return pixels


def summary_values(run_dir) -> list:
    return [v for e in all_events(run_dir) if e.HasField("summary") for v in e.summary.value]


# -- PNG ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    c=st.sampled_from([1, 3, 4]),
    kind=st.sampled_from(["random", "flat", "gradient", "stripes"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_png_decodes_with_pillow_to_the_same_pixels(h, w, c, kind, seed) -> None:
    rng = np.random.default_rng(seed)
    if kind == "random":
        px = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    elif kind == "flat":
        px = np.full((h, w, c), rng.integers(0, 256), dtype=np.uint8)
    elif kind == "gradient":
        px = (
            (np.arange(h)[:, None, None] * 7 + np.arange(w)[None, :, None] * 3 + np.arange(c)) % 256
        ).astype(np.uint8)
    else:
        px = np.repeat(rng.integers(0, 256, (1, w, c), dtype=np.uint8), h, axis=0)
    data = _media.png_encode(px)
    assert data.startswith(_media.PNG_SIGNATURE)
    assert np.array_equal(decode_png(data), px)
    mode = Image.open(io.BytesIO(data)).mode
    assert mode == {1: "L", 3: "RGB", 4: "RGBA"}[c]


def test_png_filters_compress_smooth_images() -> None:
    x = np.linspace(0, 255, 256).astype(np.uint8)
    px = np.stack(
        np.broadcast_arrays(x[None, :], x[:, None], (x[None, :] // 2 + x[:, None] // 2)), -1
    )
    assert len(_media.png_encode(np.ascontiguousarray(px))) < px.nbytes // 20


# -- images ------------------------------------------------------------------------------


def test_add_image_dataformats_and_pixels(tmp_path) -> None:
    hwc = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    gray = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    rgba = RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    floats = RNG.random((3, 5, 7))
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", hwc.transpose(2, 0, 1), 1)
        w.add_image("hwc", hwc, 1, dataformats="HWC")
        w.add_image("hw", gray, 1, dataformats="HW")
        w.add_image("rgba", rgba, 1, dataformats="hwc")
        w.add_image("float", floats, 1)
        w.add_image("bool", gray > 128, 1, dataformats="HW")
        w.add_image("whc", hwc.transpose(1, 0, 2), 1, dataformats="WHC")
    assert np.array_equal(the_image(tmp_path, "chw"), hwc)
    assert np.array_equal(the_image(tmp_path, "hwc"), hwc)
    assert np.array_equal(the_image(tmp_path, "whc"), hwc)
    assert np.array_equal(the_image(tmp_path, "hw"), np.repeat(gray[:, :, None], 3, axis=2))
    assert np.array_equal(the_image(tmp_path, "rgba"), rgba)
    # As PyTorch: times 255 in float32, truncated (not rounded); grey written as RGB.
    expected = np.array(
        [
            [math.floor(np.float32(v) * np.float32(255)) for v in row]
            for row in floats.transpose(1, 2, 0).reshape(-1, 3)
        ]
    )
    assert np.array_equal(the_image(tmp_path, "float").reshape(-1, 3), expected)
    assert np.array_equal(the_image(tmp_path, "bool")[:, :, 0], np.where(gray > 128, 255, 0))


def test_images_are_summary_images_as_pytorch_writes(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_image("a", np.zeros((1, 2, 3)), step)
    values = summary_values(tmp_path)
    # Summary.Value.image with no plugin metadata: the form EventAccumulator.Images() reads
    # and both TensorBoard loaders convert for the images plugin.
    assert [v.HasField("image") and not v.HasField("metadata") for v in values] == [True] * 3
    assert [(v.image.height, v.image.width, v.image.colorspace) for v in values] == [(2, 3, 3)] * 3
    assert [s for s, _ in image_strings(tmp_path, "a")] == [0, 1, 2]


def test_add_images_tiles_a_grid_like_make_grid(tmp_path) -> None:
    n, h, w = 11, 4, 5
    batch = RNG.integers(1, 256, (n, 3, h, w), dtype=np.uint8)
    with SummaryWriter(tmp_path) as wr:
        wr.add_images("nchw", batch, 3)
        wr.add_images("nhwc", batch.transpose(0, 2, 3, 1), 3, dataformats="NHWC")
        wr.add_images("one", batch[:1], 3)
    for tag in ("nchw", "nhwc"):
        grid = the_image(tmp_path, tag)
        assert grid.shape == (2 * h, 8 * w, 3)  # PyTorch's grid: 8 per row, no padding
        mask = np.zeros(grid.shape[:2], bool)
        for i in range(n):
            r, c = divmod(i, 8)
            y, x = r * h, c * w
            assert np.array_equal(grid[y : y + h, x : x + w], batch[i].transpose(1, 2, 0)), i
            mask[y : y + h, x : x + w] = True
        assert (grid[~mask] == 0).all()  # the empty cells are black
    assert np.array_equal(the_image(tmp_path, "one"), batch[0].transpose(1, 2, 0))


def test_add_image_with_boxes(tmp_path) -> None:
    img = np.full((3, 20, 30), 0.5)
    with SummaryWriter(tmp_path) as w:
        w.add_image_with_boxes("b", img, np.array([[2, 3, 12, 15]]), 1)
        w.add_image_with_boxes("scaled", img, [[2, 3, 12, 15]], 1, rescale=2)
        w.add_image_with_boxes("lab", img, [[2, 3, 25, 18]], 1, labels=["cat"])
    px = the_image(tmp_path, "b")
    red, grey = [255, 0, 0], [127, 127, 127]  # 0.5 * 255 truncated, as PyTorch
    # 2-pixel edges on the side right of travel around the box (as PyTorch's Pillow draws):
    # left edge downwards at x=2..3, right edge upwards at x=11..12, top leftwards at
    # y=2..3, bottom rightwards at y=15..16.
    assert (px[3:16, 2:4] == red).all() and (px[3:16, 11:13] == red).all()
    assert (px[2:4, 2:13] == red).all() and (px[15:17, 2:13] == red).all()
    assert (px[4:15, 4:11] == grey).all()  # inside
    assert (px[0:2] == grey).all() and (px[:, 13:] == grey).all()  # outside
    assert (px[17:] == grey).all() and (px[:, :2] == grey).all()
    scaled = the_image(tmp_path, "scaled")
    assert scaled.shape == (40, 60, 3)
    lanczos = Image.fromarray(px).resize((60, 40), Image.Resampling.LANCZOS)
    assert np.array_equal(scaled, np.asarray(lanczos))
    labelled = the_image(tmp_path, "lab")
    strip = labelled[8:18, 4:24]
    assert (strip.astype(int).sum(axis=2) < 150).any()  # dark text on the red strip
    assert (strip == red).all(axis=2).any()


def test_box_labels_need_pillow_named_in_the_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'tbwrite[video]'")):
            w.add_image_with_boxes("b", np.zeros((3, 4, 4)), [[0, 0, 2, 2]], labels=["x"])
        with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'tbwrite[video]'")):
            w.add_image_with_boxes("b", np.zeros((3, 4, 4)), [[0, 0, 2, 2]], rescale=2)
        w.add_image_with_boxes("b", np.zeros((3, 4, 4)), [[0, 0, 2, 2]])  # boxes alone: no Pillow
    assert len(image_strings(tmp_path, "b")) == 1


def test_add_figure(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def solid(color):
        fig = plt.figure(figsize=(2, 1), dpi=50)
        fig.patch.set_facecolor(color)
        return fig

    fig = solid("red")
    keep = solid("blue")
    pair = [solid("lime"), solid("lime")]
    with SummaryWriter(tmp_path) as w:
        w.add_figure("one", fig, 1)
        w.add_figure("kept", keep, 1, close=False)
        w.add_figure("pair", pair, 1)
    one = the_image(tmp_path, "one")
    assert one.shape == (50, 100, 3)
    assert (one == [255, 0, 0]).all()
    assert (the_image(tmp_path, "kept") == [0, 0, 255]).all()
    grid = the_image(tmp_path, "pair")
    assert grid.shape == (50, 2 * 100, 3)  # tiled as add_images: no padding
    assert (grid == [0, 255, 0]).all()
    assert not plt.fignum_exists(fig.number)
    assert plt.fignum_exists(keep.number)
    plt.close("all")


def test_add_figure_rejects_non_figures_and_mixed_sizes(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="figure"):
            w.add_figure("f", np.zeros((3, 4, 4)))
        with pytest.raises(ValueError, match="one size"):
            w.add_figure("f", [plt.figure(figsize=(1, 1)), plt.figure(figsize=(2, 1))])
        with pytest.raises(ValueError, match="figure"):
            w.add_figure("f", [])
    plt.close("all")
    assert summary_values(tmp_path) == []


# -- video -------------------------------------------------------------------------------


def gif_frames(data: bytes) -> tuple[list[np.ndarray], Image.Image]:
    im = Image.open(io.BytesIO(data))
    return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)], im


def test_add_video_is_an_animated_gif_with_the_frames(tmp_path) -> None:
    n, t, h, w = 3, 5, 6, 7
    levels = np.array([0, 85, 170, 255], dtype=np.uint8)
    vid = levels[RNG.integers(0, 4, (n, t, 3, h, w))]
    with SummaryWriter(tmp_path) as wr:
        wr.add_video("v", vid, 2, fps=8)
        wr.add_video("float", vid / 255.0, 2)
    for tag in ("v", "float"):
        ((step, (width, height, gif)),) = image_strings(tmp_path, tag)
        assert step == 2 and gif[:6] == b"GIF89a"
        frames, im = gif_frames(gif)
        # 3 videos padded to 4 (as PyTorch): 1 row (2**floor(log2(3)/2)) of 4 columns.
        assert (int(width), int(height)) == (4 * w, h)
        assert len(frames) == t
        for k, frame in enumerate(frames):
            tiles = [vid[i, k].transpose(1, 2, 0) for i in range(n)] + [np.zeros((h, w, 3))]
            expected = np.concatenate(tiles, axis=1)
            assert np.array_equal(frame, expected), k
        assert im.info["loop"] == 0
    duration = gif_frames(image_strings(tmp_path, "v")[0][1][2])[1].info["duration"]
    assert abs(duration - 1000 / 8) <= 10  # GIF delays are in hundredths of a second


def test_video_grid_rows_and_greyscale(tmp_path) -> None:
    vid = RNG.integers(0, 2, (4, 2, 1, 3, 3), dtype=np.uint8) * 255
    with SummaryWriter(tmp_path) as wr:
        wr.add_video("g", vid, 1)
    ((_, (width, height, gif)),) = image_strings(tmp_path, "g")
    assert (int(width), int(height)) == (6, 6)  # 4 videos: 2 rows of 2
    frames, _ = gif_frames(gif)
    for k in range(2):
        top = np.concatenate([vid[0, k, 0], vid[1, k, 0]], axis=1)
        bottom = np.concatenate([vid[2, k, 0], vid[3, k, 0]], axis=1)
        assert np.array_equal(frames[k][:, :, 0], np.concatenate([top, bottom]))


def test_video_without_pillow_names_the_extra_and_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'tbwrite[video]'")):
            w.add_video("v", np.zeros((1, 2, 3, 4, 4)), 1)
        w.add_scalar("ok", 1.0)
    assert [v.tag for v in summary_values(tmp_path)] == ["ok"]


# -- audio -------------------------------------------------------------------------------


def test_add_audio_is_pcm16_wav(tmp_path) -> None:
    sr = 8000
    samples = np.sin(np.linspace(0, 200, 4000)) * 0.9
    samples[:3] = [1.0, -1.0, 0.0]
    with SummaryWriter(tmp_path) as w:
        w.add_audio("a", samples, 4, sample_rate=sr)
        w.add_audio("a", samples[None, :] * 0.5, 5, sample_rate=sr)
    events = accumulator(tmp_path).Audio("a")  # Summary.Audio, as PyTorch writes
    assert [e.step for e in events] == [4, 5]
    for e, scale in zip(events, (1.0, 0.5)):
        assert (e.content_type, e.sample_rate, e.length_frames) == ("audio/wav", sr, 4000)
        with wave.open(io.BytesIO(e.encoded_audio_string)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, sr)
            got = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        # times 32767, truncated toward zero (as PyTorch)
        assert np.array_equal(got, np.trunc(samples * scale * 32767))
    first, second = summary_values(tmp_path)
    assert first.HasField("audio") and second.HasField("audio")
    # The audio plugin's metadata on the first value: TensorBoard's Rust loader then serves
    # audio/wav (without it, application/octet-stream, as for PyTorch's logs).
    assert first.metadata.plugin_data.plugin_name == "audio"
    assert first.metadata.data_class == 3 and not second.HasField("metadata")


def test_out_of_range_inputs_are_clipped_as_pytorch(tmp_path) -> None:
    from tbwrite._summaries import torch_rules as _torchcompat

    _torchcompat._warned.clear()
    with SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match=r"img_tensor") as record:
            w.add_image("i", np.array([[1.5, -0.1, math.nan, 0.5]]), 0, dataformats="HW")
        assert record[0].filename == __file__  # points at the caller's line
        with pytest.warns(UserWarning, match=r"snd_tensor.*\[-1, 1\]"):
            w.add_audio("a", np.array([0.5, 1.5, -3.0]), 0)
        w.add_image("ints", np.array([[0, 1, 2]]), 0, dataformats="HW")  # warned once already
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no numpy overflow warning either
            w.add_image("huge", np.array([[1e300, -1e300]]), 0, dataformats="HW")
        w.add_image_with_boxes("b", IMG, [[3, 3, 0, 0]], 0)  # corners in any order
    assert the_image(tmp_path, "i")[0, :, 0].tolist() == [255, 0, 0, 127]
    assert the_image(tmp_path, "ints")[0, :, 0].tolist() == [0, 255, 255]  # ints x255 too
    assert the_image(tmp_path, "huge")[0, :, 0].tolist() == [255, 0]
    (audio,) = accumulator(tmp_path).Audio("a")
    with wave.open(io.BytesIO(audio.encoded_audio_string)) as wav:
        assert np.frombuffer(wav.readframes(3), "<i2").tolist() == [16383, 32767, -32767]


# -- PR curves ---------------------------------------------------------------------------


def brute_force_pr(labels, predictions, n, weights=None):
    """Counts at threshold i/(n-1): predicted positive when prediction >= threshold."""
    labels = np.asarray(labels, dtype=float).ravel()
    predictions = np.asarray(predictions, dtype=float).ravel()
    w = (
        np.ones_like(labels)
        if weights is None
        else np.broadcast_to(weights, labels.shape).astype(float)
    )
    rows = []
    for i in range(n):
        positive = predictions >= i / (n - 1)
        tp = sum(w[k] for k in range(len(labels)) if positive[k] and labels[k] == 1)
        fp = sum(w[k] for k in range(len(labels)) if positive[k] and labels[k] == 0)
        tn = sum(w[k] for k in range(len(labels)) if not positive[k] and labels[k] == 0)
        fn = sum(w[k] for k in range(len(labels)) if not positive[k] and labels[k] == 1)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        rows.append([tp, fp, tn, fn, precision, recall])
    return np.array(rows).T


def test_add_pr_curve_matches_brute_force(tmp_path) -> None:
    labels = RNG.integers(0, 2, 300).astype(bool)
    predictions = np.clip(RNG.random(300) * 0.8 + labels * 0.2, 0, 1)
    weights = RNG.random(300) * 3
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve("pr", labels, predictions, 1, num_thresholds=21)
        w.add_pr_curve("pr", labels, predictions, 2, num_thresholds=21, weights=weights)
        w.add_pr_curve("default", labels.astype(int), predictions, 1)
    events = accumulator(tmp_path).Tensors("pr")
    for e, wts in zip(events, (None, weights)):
        got = tensor_util.make_ndarray(e.tensor_proto)
        assert got.dtype == np.float32 and got.shape == (6, 21)
        assert np.allclose(got, brute_force_pr(labels, predictions, 21, wts), rtol=1e-5, atol=1e-4)
    default = tensor_util.make_ndarray(accumulator(tmp_path).Tensors("default")[0].tensor_proto)
    assert default.shape == (6, 127)
    md = summary_values(tmp_path)[0].metadata
    assert md.plugin_data.plugin_name == "pr_curves"
    assert pr_pb2.PrCurvePluginData.FromString(md.plugin_data.content).num_thresholds == 21


def test_add_pr_curve_raw(tmp_path) -> None:
    tp, fp, tn, fn = [10, 6, 2], [20, 5, 0], [0, 15, 20], [0, 4, 8]
    precision, recall = [1 / 3, 6 / 11, 1.0], [1.0, 0.6, 0.2]
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve_raw("raw", tp, fp, tn, fn, precision, recall, 7)
    ((event),) = accumulator(tmp_path).Tensors("raw")
    got = tensor_util.make_ndarray(event.tensor_proto)
    assert event.step == 7
    assert np.array_equal(got, np.array([tp, fp, tn, fn, precision, recall], dtype=np.float32))
    md = summary_values(tmp_path)[0].metadata
    assert pr_pb2.PrCurvePluginData.FromString(md.plugin_data.content).num_thresholds == 3


# -- meshes ------------------------------------------------------------------------------


def test_add_mesh_parts(tmp_path) -> None:
    vertices = RNG.normal(size=(2, 5, 3))
    colors = RNG.integers(0, 256, (2, 5, 3))
    faces = np.array([[[0, 1, 2], [2, 3, 4]]] * 2)
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}}
    with SummaryWriter(tmp_path) as w:
        w.add_mesh("m", vertices, colors=colors, faces=faces, config_dict=config, global_step=3)
        w.add_mesh("v", vertices[0], global_step=1)
        w.add_mesh("fc", vertices, colors=colors / 255.0, global_step=1)
    acc = accumulator(tmp_path)
    got = {
        tag: tensor_util.make_ndarray(acc.Tensors(tag)[0].tensor_proto)
        for tag in ("m_VERTEX", "m_FACE", "m_COLOR", "v_VERTEX", "fc_COLOR")
    }
    assert got["m_VERTEX"].dtype == np.float32 and np.array_equal(
        got["m_VERTEX"], vertices.astype(np.float32)
    )
    assert got["m_FACE"].dtype == np.int32 and np.array_equal(got["m_FACE"], faces)
    assert got["m_COLOR"].dtype == np.uint8 and np.array_equal(got["m_COLOR"], colors)
    assert np.array_equal(got["fc_COLOR"], colors)
    assert got["v_VERTEX"].shape == (1, 5, 3)
    assert "v_FACE" not in acc.Tags()["tensors"]
    metas = {
        v.tag: mesh_pb2.MeshPluginData.FromString(v.metadata.plugin_data.content)
        for v in summary_values(tmp_path)
        if v.HasField("metadata")
    }
    assert metas["m_FACE"].name == "m" and list(metas["m_FACE"].shape) == [2, 2, 3]
    assert metas["m_VERTEX"].components == (1 << 1) | (1 << 2) | (1 << 3)
    assert metas["v_VERTEX"].components == 1 << 1
    assert json.loads(metas["m_COLOR"].json_config) == config


# -- custom scalars ----------------------------------------------------------------------


def test_add_custom_scalars_layout(tmp_path) -> None:
    layout = {
        "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
        "USA": {
            "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
            "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
        },
    }
    with SummaryWriter(tmp_path) as w:
        w.add_custom_scalars(layout)
    ((value),) = summary_values(tmp_path)
    assert value.tag == "custom_scalars__config__"
    assert value.metadata.plugin_data.plugin_name == "custom_scalars"
    parsed = layout_pb2.Layout.FromString(value.tensor.string_val[0])
    assert [c.title for c in parsed.category] == ["Taiwan", "USA"]
    assert list(parsed.category[0].chart[0].multiline.tag) == ["twse/0050", "twse/2330"]
    series = parsed.category[1].chart[1].margin.series[0]
    assert (parsed.category[1].chart[1].title, series.value, series.lower, series.upper) == (
        "nasdaq",
        "nasdaq/aaa",
        "nasdaq/bbb",
        "nasdaq/ccc",
    )


# -- embeddings --------------------------------------------------------------------------


def read_config(run_dir) -> projector_config_pb2.ProjectorConfig:
    from google.protobuf import text_format

    config = projector_config_pb2.ProjectorConfig()
    with open(os.path.join(run_dir, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), config)
    return config


def read_tsv(path) -> np.ndarray:
    with open(path) as f:
        return np.array(
            [[float(x) for x in line.rstrip("\n").split("\t")] for line in f], dtype=np.float32
        )


def test_add_embedding_files_and_config(tmp_path) -> None:
    mat = RNG.normal(size=(6, 4)).astype(np.float32) * 1e3
    label_img = RNG.integers(0, 256, (6, 3, 4, 5), dtype=np.uint8)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=list("abcdef"), label_img=label_img)
        w.add_embedding(
            mat[:3] * 2,
            metadata=[["x", 1], ["y", 2], ["z", 3]],
            metadata_header=["name", "n"],
            global_step=12,
            tag="feat/2",
        )
    config = read_config(tmp_path)
    assert [(e.tensor_name, e.tensor_path) for e in config.embeddings] == [
        ("default:00000", "00000/default/tensors.tsv"),
        ("feat/2:00012", "00012/feat%2f2/tensors.tsv"),
    ]
    first, second = config.embeddings
    assert np.array_equal(read_tsv(tmp_path / first.tensor_path), mat)  # float32 exactly
    assert np.array_equal(read_tsv(tmp_path / second.tensor_path), mat[:3] * 2)
    assert (tmp_path / first.metadata_path).read_text() == "a\nb\nc\nd\ne\nf\n"
    assert (tmp_path / second.metadata_path).read_text() == "name\tn\nx\t1\ny\t2\nz\t3\n"
    assert list(first.sprite.single_image_dim) == [5, 4]
    sprite = decode_png((tmp_path / first.sprite.image_path).read_bytes())
    assert sprite.shape == (2 * 4, 3 * 5, 3)  # ceil(sqrt(6)) = 3 columns, no padding
    for i in range(6):
        r, c = divmod(i, 3)
        assert np.array_equal(
            sprite[r * 4 : r * 4 + 4, c * 5 : c * 5 + 5], label_img[i].transpose(1, 2, 0)
        )
    assert not second.sprite.image_path and not second.HasField("sprite")


def test_embedding_config_survives_a_new_writer_and_relogging_replaces(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(np.ones((2, 2)), global_step=1)
        w.add_embedding(np.ones((2, 2)), global_step=2)
    with SummaryWriter(tmp_path) as w:  # a restart: the earlier entries stay
        w.add_embedding(np.zeros((3, 2)), global_step=2)
        w.add_embedding(np.zeros((2, 2)), global_step=3)
    config = read_config(tmp_path)
    assert [e.tensor_name for e in config.embeddings] == [
        "default:00001",
        "default:00002",
        "default:00003",
    ]
    assert read_tsv(tmp_path / "00002/default/tensors.tsv").shape == (3, 2)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp") or ".tmp." in n] == []


def test_embedding_after_close_raises(tmp_path) -> None:
    from tbwrite import WriterClosedError

    w = SummaryWriter(tmp_path)
    w.close()
    with pytest.raises(WriterClosedError):
        w.add_embedding(np.ones((2, 2)))
    assert not (tmp_path / "projector_config.pbtxt").exists()


# -- validation --------------------------------------------------------------------------

IMG = np.zeros((3, 4, 4))
BAD_CALLS = [
    ("add_image", ("i", np.zeros((2, 4, 4))), {}, ValueError, "channels"),
    ("add_image", ("i", np.zeros((4, 4))), {}, ValueError, "dataformats 'CHW' needs 3"),
    ("add_image", ("i", IMG), {"dataformats": "CHX"}, ValueError, "dataformats"),
    ("add_image", ("i", IMG), {"dataformats": "CCH"}, ValueError, "dataformats"),
    ("add_image", ("i", IMG), {"dataformats": 3}, TypeError, "dataformats"),
    ("add_image", ("i", np.array([["a"]])), {}, TypeError, "img_tensor"),
    ("add_image", ("i", np.zeros((3, 0, 4))), {}, ValueError, "empty"),
    ("add_image", ("", IMG), {}, ValueError, "tag"),
    ("add_image", ("i", IMG, 1.5), {}, TypeError, "global_step"),
    ("add_image", ("i", IMG, 1), {"walltime": math.inf}, ValueError, "walltime"),
    ("add_images", ("i", IMG), {}, ValueError, "dataformats 'NCHW' needs 4"),
    ("add_images", ("i", np.zeros((2, 5, 4, 4))), {}, ValueError, "channels"),
    (
        "add_images",
        ("i", np.zeros((2, 3, 4, 4))),
        {"dataformats": "CHW"},
        ValueError,
        "dataformats",
    ),
    ("add_image_with_boxes", ("b", IMG, [[0, 0, 1]]), {}, ValueError, "box_tensor"),
    ("add_image_with_boxes", ("b", IMG, [[0, 0, math.nan, 1]]), {}, ValueError, "box_tensor"),
    (
        "add_image_with_boxes",
        ("b", IMG, [[0, 0, 1, 1]]),
        {"labels": ["a", "b"]},
        ValueError,
        "labels",
    ),
    ("add_image_with_boxes", ("b", IMG, [[0, 0, 1, 1]]), {"labels": [3]}, TypeError, "labels[0]"),
    ("add_image_with_boxes", ("b", IMG, [[0, 0, 1, 1]]), {"rescale": 0}, ValueError, "rescale"),
    ("add_image_with_boxes", ("b", IMG, [[0, 0, 1, 1]]), {"rescale": "2"}, TypeError, "rescale"),
    ("add_video", ("v", np.zeros((2, 3, 4, 4))), {}, ValueError, "(N, T, C, H, W)"),
    ("add_video", ("v", np.zeros((1, 2, 4, 4, 4))), {}, ValueError, "1 or 3 channels"),
    ("add_video", ("v", np.zeros((1, 2, 3, 4, 4))), {"fps": 0}, ValueError, "fps"),
    ("add_video", ("v", np.zeros((1, 2, 3, 4, 4))), {"fps": math.nan}, ValueError, "fps"),
    ("add_audio", ("a", np.zeros((2, 10))), {}, ValueError, "snd_tensor must be one channel"),
    ("add_audio", ("a", []), {}, ValueError, "snd_tensor"),
    ("add_audio", ("a", ["x"]), {}, TypeError, "snd_tensor"),
    ("add_audio", ("a", [0.1]), {"sample_rate": 0}, ValueError, "sample_rate"),
    ("add_audio", ("a", [0.1]), {"sample_rate": 100.5}, ValueError, "sample_rate"),
    ("add_audio", ("a", [0.1]), {"sample_rate": "8k"}, TypeError, "sample_rate"),
    ("add_pr_curve", ("p", [0, 1], [0.5]), {}, ValueError, "same shape"),
    ("add_pr_curve", ("p", [0, 2], [0.5, 0.5]), {}, ValueError, "labels must be 0/1"),
    ("add_pr_curve", ("p", [0, 1], [0.5, 1.5]), {}, ValueError, "predictions must lie in [0, 1]"),
    ("add_pr_curve", ("p", [0, 1], [0.5, math.nan]), {}, ValueError, "predictions"),
    ("add_pr_curve", ("p", [], []), {}, ValueError, "labels must not be empty"),
    (
        "add_pr_curve",
        ("p", [0, 1], [0.5, 0.5]),
        {"num_thresholds": 1},
        ValueError,
        "num_thresholds",
    ),
    (
        "add_pr_curve",
        ("p", [0, 1], [0.5, 0.5]),
        {"num_thresholds": 2.5},
        TypeError,
        "num_thresholds",
    ),
    ("add_pr_curve", ("p", [0, 1], [0.5, 0.5]), {"weights": [1, 2, 3]}, ValueError, "weights"),
    (
        "add_pr_curve",
        ("p", [0, 1], [0.5, 0.5]),
        {"weights": -1},
        ValueError,
        "weights must be >= 0",
    ),
    (
        "add_pr_curve_raw",
        ("p", [1, 2], [1, 2], [1, 2], [1, 2], [0.5, 0.5], [1, 0.5, 0]),
        {},
        ValueError,
        "recall must have the length",
    ),
    (
        "add_pr_curve_raw",
        ("p", [1, -2], [1, 2], [1, 2], [1, 2], [0.5, 0.5], [1, 0]),
        {},
        ValueError,
        "true_positive_counts must be >= 0",
    ),
    (
        "add_pr_curve_raw",
        ("p", [1, 2], [1, 2], [1, 2], [1, 2], [0.5, 2], [1, 0]),
        {},
        ValueError,
        "precision must lie in [0, 1]",
    ),
    (
        "add_pr_curve_raw",
        ("p", [[1, 2]], [1, 2], [1, 2], [1, 2], [0.5, 2], [1, 0]),
        {},
        ValueError,
        "true_positive_counts must be 1-D",
    ),
    ("add_mesh", ("m", np.zeros((1, 4, 2))), {}, ValueError, "vertices must have shape (B, n, 3)"),
    ("add_mesh", ("m", np.full((1, 4, 3), math.inf)), {}, ValueError, "vertices must be finite"),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"faces": [[[0, 1, 4]]]},
        ValueError,
        "faces must index the 4",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"faces": [[[0, 1, 2.0]]]},
        TypeError,
        "faces must hold integer",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"faces": np.zeros((2, 1, 3), int)},
        ValueError,
        "faces must hold as many",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"colors": np.zeros((1, 3, 3), np.uint8)},
        ValueError,
        "colors must have one row per vertex",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"colors": np.full((1, 4, 3), 300)},
        ValueError,
        "colors as integers",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"colors": np.full((1, 4, 3), 1.5)},
        ValueError,
        "colors as floats",
    ),
    (
        "add_mesh",
        ("m", np.zeros((1, 4, 3))),
        {"config_dict": {"a": object()}},
        ValueError,
        "config_dict",
    ),
    ("add_mesh", ("m", np.zeros((1, 4, 3))), {"config_dict": [1]}, TypeError, "config_dict"),
    ("add_custom_scalars", ({},), {}, TypeError, "layout"),
    ("add_custom_scalars", ({"c": {"t": ["Bar", ["a"]]}},), {}, ValueError, "layout['c']['t'][0]"),
    (
        "add_custom_scalars",
        ({"c": {"t": ["Margin", ["a", "b"]]}},),
        {},
        ValueError,
        "[value, lower, upper]",
    ),
    (
        "add_custom_scalars",
        ({"c": {"t": ["Multiline", "a"]}},),
        {},
        TypeError,
        "layout['c']['t'][1]",
    ),
    ("add_custom_scalars", ({"c": ["Multiline", ["a"]]},), {}, TypeError, "layout['c']"),
    ("add_embedding", (np.zeros(4),), {}, ValueError, "mat must be a 2-D array"),
    ("add_embedding", (np.full((2, 2), math.nan),), {}, ValueError, "mat must be finite"),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"metadata": ["a"]},
        ValueError,
        "metadata must have one entry per row",
    ),
    ("add_embedding", (np.zeros((2, 2)),), {"metadata": ["a", "b\tc"]}, ValueError, "metadata[1]"),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"metadata": [["a", 1], ["b", 2]]},
        ValueError,
        "metadata_header",
    ),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"metadata": [["a", 1], ["b"]], "metadata_header": ["x", "y"]},
        ValueError,
        "metadata[1] must be a row of 2",
    ),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"metadata": [["a"], ["b"]], "metadata_header": ["x"]},
        ValueError,
        "metadata_header must name 2 or more",
    ),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"metadata_header": ["x", "y"]},
        ValueError,
        "metadata_header",
    ),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"label_img": np.zeros((3, 3, 2, 2))},
        ValueError,
        "label_img must have one image",
    ),
    (
        "add_embedding",
        (np.zeros((2, 2)),),
        {"label_img": np.zeros((2, 2, 2))},
        ValueError,
        "label_img",
    ),
    ("add_embedding", (np.zeros((2, 2)),), {"tag": ".."}, ValueError, "tag"),
    ("add_embedding", (np.zeros((2, 2)),), {"global_step": 0.5}, TypeError, "global_step"),
]


def _records(run_dir) -> int:
    return len(all_events(run_dir))


@pytest.mark.parametrize(
    "method,args,kwargs,exc,fragment",
    BAD_CALLS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)],
)
def test_bad_input_rejected_and_writer_usable(
    tmp_path, method, args, kwargs, exc, fragment
) -> None:
    w = SummaryWriter(tmp_path, max_queue=1)
    before = _records(tmp_path)
    with pytest.raises(exc, match=re.escape(fragment)):
        getattr(w, method)(*args, **kwargs)
    w.flush()
    assert _records(tmp_path) == before, "a rejected call wrote something"
    assert [d for d in os.listdir(tmp_path) if not d.startswith("events")] == []
    w.add_image("ok", IMG, 1)
    w.close()
    assert [v.tag for v in summary_values(tmp_path)] == ["ok"]


def test_demo_logs_images_pr_curves_and_a_layout(tmp_path) -> None:
    from tbwrite._cli.demo import run_demo

    runs = run_demo(str(tmp_path), quiet=True)
    finished = [r for r in runs if "l2=" not in r]
    for run in finished:
        tags = accumulator(run).Tags()
        assert {"pr/validation", "custom_scalars__config__"} <= set(tags["tensors"])
        assert "weights/image" in tags["images"]
        images = image_strings(run, "weights/image")
        assert [s for s, _ in images] == [50, 100, 150, 200]
        assert decode_png(images[-1][1][2]).shape == (64, 64, 3)


def test_clu_images_follow_tensorflows_pixel_rule(tmp_path):
    # tf.image.convert_image_dtype(saturate=True): x 255.5, clipped, truncated.
    from tbwrite.integrations.clu import SummaryWriter as CluWriter

    img = np.array([[[0.0], [0.5], [0.9999], [1.0]]], dtype=np.float32)
    with CluWriter(tmp_path) as w:
        w.write_images(0, {"img": img})
    assert the_image(tmp_path, "img")[0, :, 0].tolist() == [0, 127, 255, 255]

"""End to end: images, video, audio, PR curves, meshes, custom scalars and embeddings written
by tbwrite, read back through a real TensorBoard server under both loaders (the Rust data
server, ``--load_fast=true``, and the Python EventMultiplexer, ``--load_fast=false``).

One log dir is written once per module; one server per loader serves it to every test.
The projector reads its files directly (not through the loaders) and is checked under both.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image, ImageSequence
from tbserver import TensorBoardServer
from test_kinds import brute_force_pr, decode_png

from tbwrite import SummaryWriter

pytestmark = pytest.mark.server

WAIT = 30.0
RNG = np.random.default_rng(7)
STEPS = (0, 5, 10)
IMAGES = {s: RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8) for s in STEPS}
BATCH = RNG.integers(0, 256, (3, 3, 4, 4), dtype=np.uint8)
VIDEO = np.array([0, 255], dtype=np.uint8)[RNG.integers(0, 2, (2, 3, 3, 4, 5))]
SOUNDS = {s: np.sin(np.linspace(0, 10 + s, 800)) * 0.8 for s in STEPS}
PR_LABELS = RNG.integers(0, 2, 200)
PR_PREDICTIONS = {s: np.clip(RNG.random(200) * 0.7 + PR_LABELS * (0.03 * s), 0, 1) for s in STEPS}
MESH_VERTICES = {s: RNG.normal(size=(1, 4, 3)) + s for s in STEPS}
MESH_FACES = np.array([[[0, 1, 2], [0, 2, 3], [1, 2, 3]]])
MESH_COLORS = RNG.integers(0, 256, (1, 4, 3))
LAYOUT = {
    "losses": {"both": ["Multiline", ["loss/.*"]], "band": ["Margin", ["m/v", "m/lo", "m/hi"]]}
}
EMB = {
    (0, "words"): RNG.normal(size=(5, 3)),
    (10, "words"): RNG.normal(size=(5, 3)),
    (10, "images"): RNG.normal(size=(4, 2)),
}
EMB_LABELS = RNG.integers(0, 256, (4, 3, 2, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    with SummaryWriter(root / "media") as w:
        for s in STEPS:
            w.add_image("img", IMAGES[s], s, dataformats="HWC")
            w.add_audio("sound", SOUNDS[s], s, sample_rate=16000)
            w.add_pr_curve("pr", PR_LABELS, PR_PREDICTIONS[s], s, num_thresholds=11)
            w.add_mesh(
                "mesh",
                MESH_VERTICES[s],
                colors=MESH_COLORS,
                faces=MESH_FACES,
                config_dict={"camera": {"cls": "PerspectiveCamera"}},
                global_step=s,
            )
            w.add_scalar("loss/train", 1.0 / (s + 1), s)
        w.add_images("batch", BATCH, 1)
        w.add_video("video", VIDEO, 1, fps=2)
        w.add_custom_scalars(LAYOUT)
        for (s, tag), mat in EMB.items():
            if tag == "words":
                w.add_embedding(mat, metadata=[f"w{i}" for i in range(5)], global_step=s, tag=tag)
            else:
                w.add_embedding(
                    mat,
                    metadata=[[i, i % 2] for i in range(4)],
                    metadata_header=["i", "odd"],
                    label_img=EMB_LABELS,
                    global_step=s,
                    tag=tag,
                )
    with SummaryWriter(root / "emb_only") as w:
        w.add_embedding(np.eye(3), global_step=1)
    return root


@pytest.fixture(scope="module", params=[True, False], ids=["rust_loader", "python_loader"])
def tb(request, logdir):
    server = TensorBoardServer(
        logdir,
        load_fast=request.param,
        samples_per_plugin={"images": 1000, "audio": 1000, "pr_curves": 1000},
    )
    server.start()
    try:
        server.wait_for(
            lambda: (
                set(server.get_json("/data/plugin/images/tags").get("media", {}))
                >= {"img", "batch", "video"}
            ),
            timeout=WAIT,
            what="image tags",
        )
        yield server
    finally:
        leftovers = server.stop()
        assert not leftovers, leftovers


def blob(tb, plugin, route, query):
    return tb.get(f"/data/plugin/{plugin}/{route}?{query}")


def test_images_decode_to_the_logged_pixels(tb) -> None:
    tags = tb.get_json("/data/plugin/images/tags")["media"]
    assert tags["img"]["samples"] == 1
    entries = tb.wait_for(
        lambda: (
            len(x := tb.get_json("/data/plugin/images/images", run="media", tag="img"))
            == len(STEPS)
            and x
        ),
        timeout=WAIT,
    )
    assert [e["step"] for e in entries] == list(STEPS)
    for e in entries:
        assert np.array_equal(
            decode_png(blob(tb, "images", "individualImage", e["query"])), IMAGES[e["step"]]
        )
    (batch,) = tb.get_json("/data/plugin/images/images", run="media", tag="batch")
    grid = decode_png(blob(tb, "images", "individualImage", batch["query"]))
    assert grid.shape == (4, 3 * 4, 3)  # PyTorch's grid: no padding
    for i in range(3):
        assert np.array_equal(grid[:, 4 * i : 4 * i + 4], BATCH[i].transpose(1, 2, 0))


def test_video_is_an_animated_gif(tb) -> None:
    (entry,) = tb.get_json("/data/plugin/images/images", run="media", tag="video")
    data = blob(tb, "images", "individualImage", entry["query"])
    frames = [
        np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(io.BytesIO(data)))
    ]
    assert len(frames) == 3
    for t, frame in enumerate(frames):
        expected = np.concatenate(
            [VIDEO[0, t].transpose(1, 2, 0), VIDEO[1, t].transpose(1, 2, 0)], axis=1
        )
        assert np.array_equal(frame, expected)


def test_audio_decodes_to_the_logged_samples(tb) -> None:
    assert "sound" in tb.get_json("/data/plugin/audio/tags")["media"]
    entries = tb.wait_for(
        lambda: (
            len(x := tb.get_json("/data/plugin/audio/audio", run="media", tag="sound"))
            == len(STEPS)
            and x
        ),
        timeout=WAIT,
    )
    for e in entries:
        assert e["contentType"] == "audio/wav"
        data = blob(tb, "audio", "individualAudio", e["query"])
        with wave.open(io.BytesIO(data)) as wav:
            assert (wav.getnchannels(), wav.getframerate()) == (1, 16000)
            got = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        assert np.array_equal(got, np.trunc(SOUNDS[e["step"]] * 32767))  # as PyTorch


def test_pr_curves_equal_an_independent_computation(tb) -> None:
    assert "pr" in tb.get_json("/data/plugin/pr_curves/tags")["media"]
    got = tb.get_json("/data/plugin/pr_curves/pr_curves", run="media", tag="pr")["media"]
    assert [e["step"] for e in got] == list(STEPS)
    for e in got:
        expected = brute_force_pr(PR_LABELS, PR_PREDICTIONS[e["step"]], 11)
        n = len(e["precision"])  # the plugin trims thresholds where TP + FP = 0
        assert n >= 1 and (expected[0, n:] + expected[1, n:] == 0).all()
        for row, key in enumerate(
            ["true_positives", "false_positives", "true_negatives", "false_negatives"]
        ):
            assert e[key] == expected[row, :n].astype(int).tolist()
        assert np.allclose(e["precision"], expected[4, :n], atol=1e-6)
        assert np.allclose(e["recall"], expected[5, :n], atol=1e-6)


def test_meshes_serve_the_logged_arrays(tb) -> None:
    assert tb.get_json("/data/plugin/mesh/tags")["media"] == {"mesh": {"samples": 1}}
    metas = tb.get_json("/data/plugin/mesh/meshes", run="media", tag="mesh")
    assert sorted((m["step"], m["content_type"]) for m in metas) == sorted(
        (s, c) for s in STEPS for c in (1, 2, 3)
    )
    assert {m["components"] for m in metas} == {14}
    assert {m["config"] for m in metas} == {'{"camera": {"cls": "PerspectiveCamera"}}'}
    for s in STEPS:

        def data(kind, dtype, s=s):
            raw = tb.get(
                "/data/plugin/mesh/data", run="media", tag="mesh", content_type=kind, step=s
            )
            return np.frombuffer(raw, dtype)

        assert np.array_equal(data("VERTEX", "<f4"), MESH_VERTICES[s].astype(np.float32).ravel())
        assert np.array_equal(data("FACE", "<i4"), MESH_FACES.ravel())
        assert np.array_equal(data("COLOR", "u1"), MESH_COLORS.ravel())


def test_custom_scalars_layout(tb) -> None:
    layout = tb.wait_for(lambda: tb.get_json("/data/plugin/custom_scalars/layout"), timeout=WAIT)
    assert layout["category"] == [
        {
            "title": "losses",
            "chart": [
                {"title": "both", "multiline": {"tag": ["loss/.*"]}},
                {
                    "title": "band",
                    "margin": {"series": [{"value": "m/v", "lower": "m/lo", "upper": "m/hi"}]},
                },
            ],
            "closed": False,
        }
    ]


def test_projector_runs_configs_tensors_metadata_sprites(tb) -> None:
    runs = tb.wait_for(
        lambda: (
            sorted(tb.get_json("/data/plugin/projector/runs")) == ["emb_only", "media"] and True
        ),
        timeout=WAIT,
        what="projector runs",
    )
    assert runs
    info = tb.get_json("/data/plugin/projector/info", run="media")
    names = [e["tensorName"] for e in info["embeddings"]]
    assert names == ["words:00000", "words:00010", "images:00010"]
    for (s, tag), mat in EMB.items():
        name = f"{tag}:{s:05d}"
        raw = tb.get("/data/plugin/projector/tensor", run="media", name=name)
        assert np.array_equal(np.frombuffer(raw, "<f4").reshape(mat.shape), mat.astype(np.float32))
    words = tb.get("/data/plugin/projector/metadata", run="media", name="words:00010").decode()
    assert words.splitlines() == [f"w{i}" for i in range(5)]
    images = tb.get("/data/plugin/projector/metadata", run="media", name="images:00010").decode()
    assert images.splitlines() == ["i\todd", "0\t0", "1\t1", "2\t0", "3\t1"]
    entry = info["embeddings"][2]
    assert entry["sprite"]["singleImageDim"] == [3, 2]
    sprite = decode_png(
        tb.get("/data/plugin/projector/sprite_image", run="media", name="images:00010")
    )
    assert sprite.shape == (2 * 2, 2 * 3, 3)
    for i in range(4):
        r, c = divmod(i, 2)
        assert np.array_equal(
            sprite[2 * r : 2 * r + 2, 3 * c : 3 * c + 3], EMB_LABELS[i].transpose(1, 2, 0)
        )
    eye = tb.get("/data/plugin/projector/tensor", run="emb_only", name="default:00001")
    assert np.array_equal(np.frombuffer(eye, "<f4").reshape(3, 3), np.eye(3))

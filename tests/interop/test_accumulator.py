"""tbwrite's EventAccumulator / EventMultiplexer against TensorBoard's classic ones: the same
tags, the same items of every kind (sampling and purges included) on the same files."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_accumulator as tb_ea
from tensorboard.backend.event_processing import event_multiplexer as tb_em

import tbwrite
from tbwrite import EventAccumulator, EventMultiplexer, frame
from tbwrite._proto import event_pb2, summary_pb2, tensor_pb2

KINDS = ("scalars", "histograms", "distributions", "images", "audio", "tensors")
_GETTER = {
    "scalars": "Scalars",
    "histograms": "Histograms",
    "distributions": "CompressedHistograms",
    "images": "Images",
    "audio": "Audio",
    "tensors": "Tensors",
}


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _norm(kind: str, e) -> tuple:
    """An item of either implementation as plain comparable values."""
    if kind == "scalars":
        v = e.value
        return (e.wall_time, e.step, "nan" if math.isnan(v) else v)
    if kind == "histograms":
        h = e.histogram_value
        return (
            e.wall_time,
            e.step,
            (h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit), list(h.bucket)),
        )
    if kind == "distributions":
        return (
            e.wall_time,
            e.step,
            [(float(b), float(v)) for b, v in e.compressed_histogram_values],
        )
    if kind == "images":
        return (e.wall_time, e.step, e.encoded_image_string, e.width, e.height)
    if kind == "audio":
        return (
            e.wall_time,
            e.step,
            e.encoded_audio_string,
            e.content_type,
            e.sample_rate,
            e.length_frames,
        )
    return (e.wall_time, e.step, e.tensor_proto.SerializeToString(deterministic=True))


def _canon_tensor(data: bytes) -> bytes:
    return tensor_pb2.TensorProto.FromString(data).SerializeToString(deterministic=True)


def assert_same(ours: EventAccumulator, theirs: tb_ea.EventAccumulator) -> int:
    """Every observable result equal; returns the number of items compared."""
    tags, tb_tags = ours.Tags(), theirs.Tags()
    assert tags == tb_tags
    n = 0
    for kind in KINDS:
        for tag in tags[kind]:
            a = [_norm(kind, e) for e in getattr(ours, _GETTER[kind])(tag)]
            b = [_norm(kind, e) for e in getattr(theirs, _GETTER[kind])(tag)]
            if kind == "tensors":
                # Both serialise their own message class: compare in one class.
                a = [(w, s, _canon_tensor(t)) for w, s, t in a]
                b = [(w, s, _canon_tensor(t)) for w, s, t in b]
            assert a == b, (kind, tag)
            n += len(a)
    for tag in theirs.summary_metadata:
        assert ours.SummaryMetadata(tag).SerializeToString(
            deterministic=True
        ) == summary_pb2.SummaryMetadata.FromString(
            theirs.SummaryMetadata(tag).SerializeToString()
        ).SerializeToString(deterministic=True)
    assert set(ours.summary_metadata) == set(theirs.summary_metadata)
    for plugin in theirs._plugin_to_tag_to_content:
        assert ours.PluginTagToContent(plugin) == theirs.PluginTagToContent(plugin)
    assert sorted(ours.ActivePlugins()) == sorted(theirs._plugin_to_tag_to_content)
    assert ours.file_version == theirs.file_version
    assert ours.GetSourceWriter() == theirs.GetSourceWriter()
    assert ours.most_recent_step == theirs.most_recent_step
    if theirs._first_event_timestamp is not None:
        assert ours.FirstEventTimestamp() == theirs.FirstEventTimestamp()
    return n


def both(path, **kwargs):
    ours = EventAccumulator(str(path), **kwargs).Reload()
    theirs = tb_ea.EventAccumulator(str(path), **kwargs).Reload()
    return ours, theirs


# -- files from real writers ------------------------------------------------------------------


def _write_everything(writer, steps=12, audio=True) -> None:
    rng = np.random.default_rng(0)
    for step in range(steps):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("acc/train", step / steps, step)
        writer.add_histogram("weights", rng.normal(size=200), step)
        if step % 3 == 0:
            writer.add_image("img", rng.random((3, 8, 6)), step)
            writer.add_text("note", f"step **{step}**", step)
            if audio:  # tensorboardX's needs the soundfile package
                writer.add_audio("sound", rng.uniform(-1, 1, 800), step, sample_rate=8000)
    writer.add_scalar("nan", float("nan"), 0)
    writer.add_scalars("group", {"a": 1.0, "b": 2.0}, 0)


@pytest.mark.parametrize("guidance", [None, 0, "small"])
@pytest.mark.parametrize("source", ["tbwrite", "torch", "tensorboardX"])
def test_every_kind_matches_tensorboard(tmp_path, source, guidance) -> None:
    if source == "tbwrite":
        cls = tbwrite.SummaryWriter
    elif source == "torch":
        cls = pytest.importorskip("torch.utils.tensorboard").SummaryWriter
    else:
        cls = pytest.importorskip("tensorboardX").SummaryWriter
    run = tmp_path / "run"
    w = cls(str(run))
    _write_everything(w, audio=source != "tensorboardX")
    w.close()
    sg = {
        None: None,
        0: tb_ea.STORE_EVERYTHING_SIZE_GUIDANCE,
        "small": {"scalars": 5, "histograms": 3, "distributions": 4, "images": 2, "tensors": 2},
    }[guidance]
    ours, theirs = both(run, size_guidance=sg)
    n = assert_same(ours, theirs)
    assert n >= 15
    tags = ours.Tags()
    assert "loss" in tags["scalars"]
    if guidance == 0:
        assert [e.step for e in ours.Scalars("loss")] == list(range(12))
        assert ours.Scalars("loss")[3].value == pytest.approx(0.25)
    if source != "tbwrite":
        # PyTorch and tensorboardX write legacy histograms and images.
        assert tags["histograms"] == ["weights"] and tags["distributions"] == ["weights"]
        assert tags["images"] == ["img"]


def test_tf_summary_files_match_tensorboard(tmp_path) -> None:
    tf = pytest.importorskip("tensorflow")
    w = tf.summary.create_file_writer(str(tmp_path / "run"))
    with w.as_default():
        for step in range(20):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            tf.summary.histogram("w", tf.random.normal([50]), step=step)
    w.close()
    ours, theirs = both(tmp_path / "run")
    assert assert_same(ours, theirs) > 20


def test_seed_snippets_run_unchanged(tmp_path) -> None:
    logdir = tmp_path / "logs"
    for run, scale in (("a", 1.0), ("b", 2.0)):
        with tbwrite.SummaryWriter(str(logdir / run)) as w:
            for step in range(50):
                w.add_scalar("loss", scale / (step + 1), step)
                w.add_scalar("accuracy", step / 50, step)
    ea = EventAccumulator(str(logdir / "a"))
    ea.Reload()
    assert ea.Tags()["scalars"] == ["loss", "accuracy"]
    assert [e.value for e in ea.Scalars("loss")][:2] == [1.0, 0.5]
    wall, step, value = ea.Scalars("accuracy")[10]  # namedtuples unpack
    assert (step, value) == (10, pytest.approx(0.2))

    em = EventMultiplexer()
    em.AddRunsFromDirectory(str(logdir)).Reload()
    assert sorted(em.Runs()) == ["a", "b"]
    assert em.Scalars("b", "loss")[0].value == 2.0
    tb = tb_em.EventMultiplexer().AddRunsFromDirectory(str(logdir)).Reload()
    assert em.Runs() == tb.Runs()
    assert em.RunPaths() == tb.RunPaths()
    for run in tb.Runs():
        assert assert_same(em.GetAccumulator(run), tb.GetAccumulator(run)) == 100


def test_multiplexer_names_nested_runs_like_tensorboard(tmp_path) -> None:
    for rel in ("x", "x/y", "z/deep/er", "."):
        with tbwrite.SummaryWriter(str(tmp_path / rel)) as w:
            w.add_scalar("v", 1.0, 0)
    ours = EventMultiplexer(max_reload_threads=4).AddRunsFromDirectory(str(tmp_path), "top")
    theirs = tb_em.EventMultiplexer().AddRunsFromDirectory(str(tmp_path), "top")
    ours.Reload()
    theirs.Reload()
    assert (
        sorted(ours.Runs())
        == sorted(theirs.Runs())
        == sorted(["top/.", "top/x", "top/x/y", "top/z/deep/er"])
    )
    assert ours.Runs() == theirs.Runs()
    assert ours.PluginRunToTagToContent("scalars") == theirs.PluginRunToTagToContent("scalars")
    with pytest.raises(KeyError):
        ours.Scalars("nope", "v")
    with pytest.raises(KeyError):
        ours.Scalars("top/x", "nope")
    # A run added after Reload is loaded at once, as TensorBoard does.
    ours.AddRun(str(tmp_path / "x"), "again")
    assert [e.value for e in ours.Scalars("again", "v")] == [1.0]


def test_returned_lists_are_the_callers_like_tensorboard(tmp_path) -> None:
    # Each call returns a list of its own: emptying one changes no later answer.
    with tbwrite.SummaryWriter(str(tmp_path)) as w:
        for step in range(5):
            w.add_scalar("v", float(step), step)
    ours, theirs = both(tmp_path)
    for acc in (ours, theirs):
        acc.Scalars("v").clear()
        assert [e.step for e in acc.Scalars("v")] == [0, 1, 2, 3, 4]
    assert ours.Scalars("v") == [(e.wall_time, e.step, e.value) for e in theirs.Scalars("v")]


@pytest.mark.parametrize("graph_first", [True, False])
def test_graphs_and_run_metadata_like_tensorboard(tmp_path, graph_first) -> None:
    # A GraphDef, a MetaGraphDef holding another graph, and tagged run metadata (one tag
    # twice: the last one is kept); without a GraphDef first, the metagraph's graph is the
    # run's graph, as TensorBoard takes it.
    from tensorboard.compat.proto import config_pb2, graph_pb2, meta_graph_pb2

    graph = graph_pb2.GraphDef()
    graph.node.add(name="x", op="Placeholder")
    meta = meta_graph_pb2.MetaGraphDef()
    meta.graph_def.node.add(name="y", op="Const")
    meta.meta_info_def.tags.append("serve")
    events = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")]
    if graph_first:
        events.append(event_pb2.Event(wall_time=2.0, graph_def=graph.SerializeToString()))
    events.append(event_pb2.Event(wall_time=3.0, meta_graph_def=meta.SerializeToString()))
    for step, tag in enumerate(("train", "eval", "train")):
        rm = config_pb2.RunMetadata()
        rm.step_stats.dev_stats.add(device=f"/cpu:{step}")
        ev = event_pb2.Event(wall_time=4.0 + step, step=step)
        ev.tagged_run_metadata.tag = tag
        ev.tagged_run_metadata.run_metadata = rm.SerializeToString()
        events.append(ev)
    (tmp_path / "events.out.tfevents.1.host").write_bytes(
        b"".join(frame(e.SerializeToString()) for e in events)
    )
    ours, theirs = both(tmp_path)
    for kind in ("graph", "meta_graph", "run_metadata"):
        assert ours.Tags()[kind] == theirs.Tags()[kind], kind
    assert ours.Graph() == theirs.Graph().SerializeToString()
    assert graph_pb2.GraphDef.FromString(ours.Graph()).node[0].name == ("x" if graph_first else "y")
    assert ours.MetaGraph() == theirs.MetaGraph().SerializeToString()
    for tag in ("train", "eval"):
        assert ours.RunMetadata(tag) == theirs.RunMetadata(tag).SerializeToString()
    assert (
        config_pb2.RunMetadata.FromString(ours.RunMetadata("train")).step_stats.dev_stats[0].device
        == "/cpu:2"
    )


def test_absent_things_raise_like_tensorboard(tmp_path) -> None:
    with tbwrite.SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("v", 1.0, 0)
    ours, theirs = both(tmp_path)
    for name, args, exc in (
        ("Graph", (), ValueError),
        ("MetaGraph", (), ValueError),
        ("RunMetadata", ("t",), ValueError),
        ("Scalars", ("missing",), KeyError),
        ("Tensors", ("missing",), KeyError),
        ("SummaryMetadata", ("missing",), KeyError),
        ("PluginTagToContent", ("no-plugin",), KeyError),
    ):
        with pytest.raises(exc):
            getattr(theirs, name)(*args)
        with pytest.raises(exc):
            getattr(ours, name)(*args)
    with pytest.raises(NotImplementedError, match="RetrieveHealthPills"):
        ours.RetrieveHealthPills("node")
    with pytest.raises(NotImplementedError, match="SomethingElse"):
        ours.SomethingElse()
    assert not hasattr(ours, "SomethingElse")  # also an AttributeError
    with pytest.raises(NotImplementedError, match="EventMultiplexer.RetrieveHealthPills"):
        EventMultiplexer().RetrieveHealthPills("run", "node")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No event timestamp"):
        EventAccumulator(str(empty)).FirstEventTimestamp()


def test_reload_continues_like_tensorboard(tmp_path) -> None:
    run = tmp_path / "run"
    ours = EventAccumulator(str(run), size_guidance={"scalars": 0})
    theirs = tb_ea.EventAccumulator(str(run), size_guidance={"scalars": 0})
    w = tbwrite.SummaryWriter(str(run))
    for step in range(10):
        w.add_scalar("v", step, step)
    w.flush()
    ours.Reload()
    theirs.Reload()
    assert len(ours.Scalars("v")) == 10
    for step in range(10, 25):
        w.add_scalar("v", step, step)
    w.close()
    # A second writer (a restart) in a newer file.
    with tbwrite.SummaryWriter(str(run), purge_step=20) as w2:
        w2.add_scalar("v", 99.0, 20)
    ours.Reload()
    theirs.Reload()
    assert assert_same(ours, theirs) > 0
    assert [e.step for e in ours.Scalars("v")] == [*range(20), 20]


def test_make_ndarray_and_tensor_proto(tmp_path) -> None:
    with tbwrite.SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("s", 2.5, 0, new_style=True)
        w.add_text("t", "hello", 0)
    ea = EventAccumulator(str(tmp_path)).Reload()
    (ev,) = ea.Tensors("s")
    assert isinstance(ev.tensor_proto, tensor_pb2.TensorProto)
    assert tbwrite.make_ndarray(ev.tensor_proto) == np.float32(2.5)
    text = ea.Tensors("t")[0].tensor_proto
    assert tbwrite.make_ndarray(text).tolist() == b"hello"
    from tensorboard.compat.proto.tensor_pb2 import TensorProto as TbTensorProto
    from tensorboard.util import tensor_util

    for t in (ev.tensor_proto, text):
        theirs = tensor_util.make_ndarray(TbTensorProto.FromString(t.SerializeToString()))
        np.testing.assert_array_equal(tbwrite.make_ndarray(t), theirs)
    assert ea.SummaryMetadata("s").plugin_data.plugin_name == "scalars"


# -- generated logdirs: the property test -------------------------------------------------------

TAGS = ("a", "b", "loss/x", "")


def _event(kind: str, tag: str, step: int, wall: float, rng: np.random.Generator) -> bytes:
    ev = event_pb2.Event(wall_time=wall, step=step)
    if kind == "start":
        ev.session_log.status = event_pb2.SessionLog.START
        return ev.SerializeToString()
    v = ev.summary.value.add(tag=tag)
    if kind == "scalar":
        v.simple_value = float(np.float32(rng.normal()))
    elif kind == "scalar_meta":
        v.simple_value = 1.5
        v.metadata.plugin_data.plugin_name = "scalars"
    elif kind == "histo":
        counts = rng.integers(0, 5, size=4).astype(float)
        v.histo.min, v.histo.max = -1.0, 2.0
        v.histo.num = float(counts.sum())
        v.histo.bucket_limit.extend([-0.5, 0.0, 1.0, 2.0])
        v.histo.bucket.extend(counts.tolist())
    elif kind == "image":
        v.image.width, v.image.height = 2, 3
        v.image.encoded_image_string = bytes([step % 256]) * 5
    elif kind == "audio":
        v.audio.sample_rate, v.audio.length_frames = 8000.0, 4
        v.audio.encoded_audio_string = b"RIFF" + bytes([step % 256])
        v.audio.content_type = "audio/wav"
    elif kind == "tensor":
        v.metadata.plugin_data.plugin_name = "custom"
        v.metadata.plugin_data.content = tag.encode()
        v.tensor.dtype = tensor_pb2.DT_FLOAT
        v.tensor.float_val.append(float(step))
    elif kind == "pair":
        v.simple_value = 2.0
        ev.summary.value.add(tag=tag + "2", simple_value=3.0)
    return ev.SerializeToString()


event_st = st.tuples(
    st.sampled_from(
        ["scalar"] * 6 + ["scalar_meta", "histo", "image", "audio", "tensor", "pair", "start"]
    ),
    st.sampled_from(TAGS),
    st.integers(0, 30),
)
file_st = st.tuples(
    st.sampled_from(["brain.Event:2", "brain.Event:1", None]),
    st.lists(event_st, min_size=0, max_size=120),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(file_st, min_size=1, max_size=3),
    guidance=st.sampled_from(["default", "zero", "tiny"]),
    purge=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_same_as_tensorboard(tmp_path_factory, files, guidance, purge, seed) -> None:
    run = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(seed)
    wall = 1.7e9
    for i, (version, events) in enumerate(files):
        records = []
        if version is not None:
            records.append(
                frame(event_pb2.Event(wall_time=wall, file_version=version).SerializeToString())
            )
        for kind, tag, step in events:
            wall += 1.0
            records.append(frame(_event(kind, tag, step, wall, rng)))
        (run / f"events.out.tfevents.{i:04d}.host").write_bytes(b"".join(records))
    sg = {
        "default": None,
        "zero": tb_ea.STORE_EVERYTHING_SIZE_GUIDANCE,
        "tiny": {
            "scalars": 3,
            "histograms": 2,
            "distributions": 2,
            "images": 1,
            "audio": 1,
            "tensors": 2,
        },
    }[guidance]
    ours, theirs = both(run, size_guidance=sg, purge_orphaned_data=purge)
    assert_same(ours, theirs)


def test_large_run_sampled_like_tensorboard(tmp_path) -> None:
    """Enough points that the reservoirs sample (scalars 10000 by default), with
    out-of-order steps purging and a restart in a second file."""
    run = tmp_path / "run"
    with tbwrite.SummaryWriter(str(run), max_queue=10_000) as w:
        for step in range(12_000):
            w.add_scalar("a", step * 0.5, step)
            if step % 2:
                w.add_scalar("b", -step, step)
    with tbwrite.SummaryWriter(str(run), purge_step=11_000, max_queue=10_000) as w:
        for step in range(11_000, 13_000):
            w.add_scalar("a", step * 2.0, step)
    for sg in (None, {"scalars": 0}, {"scalars": 100}):
        ours, theirs = both(run, size_guidance=sg)
        assert assert_same(ours, theirs) > 100
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    recs = []
    # No file_version: each step below the highest so far purges its tag from that step.
    for step in [*range(0, 12_000), *range(11_990, 12_100)]:
        ev = event_pb2.Event(wall_time=1.0 + step, step=step)
        ev.summary.value.add(tag="x", simple_value=float(step))
        recs.append(frame(ev.SerializeToString()))
    (legacy / "events.out.tfevents.1.h").write_bytes(b"".join(recs))
    for sg in (None, {"scalars": 0}):
        ours, theirs = both(legacy, size_guidance=sg)
        assert assert_same(ours, theirs) > 100
    assert [e.step for e in ours.Scalars("x")] == list(range(12_100))


def test_works_without_tensorboard(tmp_path) -> None:
    with tbwrite.SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(5):
            w.add_scalar("loss", float(step), step)
            w.add_histogram("h", np.arange(10.0), step)
    code = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorboard", "tensorflow", "torch"):
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        from tbwrite import EventAccumulator, EventMultiplexer

        ea = EventAccumulator({str(tmp_path / "r")!r})
        ea.Reload()
        print([e.value for e in ea.Scalars("loss")])
        em = EventMultiplexer().AddRunsFromDirectory({str(tmp_path)!r}).Reload()
        # PyTorch's legacy histogram form (the default): Histograms, as for torch's logs.
        print(sorted(em.Runs()), len(em.Histograms("r", "h")))
        assert not any(m.startswith(("tensorboard", "torch")) for m in sys.modules)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(tbwrite.__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    # TensorBoard's default size_guidance keeps 1 histogram per tag; so does ours.
    assert out.stdout.splitlines() == ["[0.0, 1.0, 2.0, 3.0, 4.0]", "['r'] 1"]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 6),
    scalars=st.booleans(),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["add"] * 8 + ["filter"]), st.sampled_from("pq"), st.integers(0, 50)
        ),
        max_size=300,
    ),
)
def test_reservoir_samples_like_tensorboard(size, scalars, ops) -> None:
    from tensorboard.backend.event_processing import reservoir as tb_reservoir

    from tbwrite._reading.event_types import ScalarEvent
    from tbwrite._reading.reservoir import Reservoir

    ours = Reservoir(size, scalars=scalars)
    theirs = tb_reservoir.Reservoir(size)
    for i, (op, key, step) in enumerate(ops):
        if op == "add":
            item = ScalarEvent(float(i), step, float(-i))
            ours.AddItem(key, item)
            theirs.AddItem(key, item)
        else:
            removed = ours.FilterBelow(step, key)
            assert removed == theirs.FilterItems(lambda x, s=step: x.step < s, key)
    assert ours.Keys() == theirs.Keys()
    for key in theirs.Keys():
        assert ours.Items(key) == theirs.Items(key)


def test_damage_and_unfinished_records_like_tensorboard(tmp_path) -> None:
    def record(step: int) -> bytes:
        ev = event_pb2.Event(wall_time=1.0 + step, step=step)
        ev.summary.value.add(tag="v", simple_value=float(step))
        return frame(ev.SerializeToString())

    run = tmp_path / "run"
    run.mkdir()
    first = bytearray(b"".join(record(s) for s in range(50)))
    first[sum(len(record(s)) for s in range(20)) + 15] ^= 0x01  # record 20's data CRC fails
    (run / "events.out.tfevents.1.h").write_bytes(bytes(first))
    tail = b"".join(record(s) for s in range(50, 60))
    (run / "events.out.tfevents.2.h").write_bytes(tail + record(60)[:-5])
    ours = EventAccumulator(str(run), size_guidance={"scalars": 0})
    theirs = tb_ea.EventAccumulator(str(run), size_guidance={"scalars": 0})
    ours.Reload()
    theirs.Reload()
    assert assert_same(ours, theirs) == 30
    assert [e.step for e in ours.Scalars("v")] == [*range(20), *range(50, 60)]
    # The unfinished record is completed: the next Reload picks it up.
    (run / "events.out.tfevents.2.h").write_bytes(tail + record(60) + record(61))
    ours.Reload()
    theirs.Reload()
    assert assert_same(ours, theirs) == 32


@pytest.mark.parametrize("source", ["torch", "tensorboardX"])
def test_restart_with_purge_step_like_tensorboard(tmp_path, source) -> None:
    if source == "torch":
        cls = pytest.importorskip("torch.utils.tensorboard").SummaryWriter
    else:
        cls = pytest.importorskip("tensorboardX").SummaryWriter
    run = str(tmp_path / "run")
    w = cls(run)
    for step in range(30):
        w.add_scalar("loss", float(step), step)
        w.add_histogram("h", np.arange(step + 3.0), step)
    w.close()
    # Both name files by the second first (tensorboardX by the second only, PyTorch then by a
    # per-process counter that sorts "10" before "9"): the restart starts in a later second,
    # so that its file sorts after the first, as a real restart's does.
    (first,) = os.listdir(run)
    while int(time.time()) <= int(first.split(".")[3]):
        time.sleep(0.01)
    w = cls(run, purge_step=12)
    for step in range(12, 20):
        w.add_scalar("loss", -float(step), step)
    w.close()
    for sg in (None, {"scalars": 0, "histograms": 0}):
        ours, theirs = both(run, size_guidance=sg)
        assert assert_same(ours, theirs) > 20
    assert [e.step for e in ours.Scalars("loss")] == list(range(20))
    assert ours.Scalars("loss")[15].value == -15.0

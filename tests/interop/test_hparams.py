"""HParams: typed values, sessions in the run itself, one end info at close, experiment
config; read back by TensorBoard's loaders and, end to end, by a live tensorboard server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from readback import accumulator, all_events, event_files
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

import tbwrite
from tbwrite import HParam, HParamsError, IntInterval, Metric, RealInterval, SummaryWriter


def _hparams_events(run_dir):
    """[(tag, HParamsPluginData)] in file order, parsed with TensorBoard's protos."""
    out = []
    for e in all_events(run_dir):
        for v in e.summary.value:
            if v.metadata.plugin_data.plugin_name == "hparams":
                out.append(
                    (
                        v.tag,
                        plugin_data_pb2.HParamsPluginData.FromString(
                            v.metadata.plugin_data.content
                        ),
                    )
                )
    return out


def _start_info(run_dir):
    (data,) = [d for t, d in _hparams_events(run_dir) if t == hp_metadata.SESSION_START_INFO_TAG]
    return data.session_start_info


def _end_infos(run_dir):
    return [
        d.session_end_info
        for t, d in _hparams_events(run_dir)
        if t == hp_metadata.SESSION_END_INFO_TAG
    ]


class FakeJaxScalar:
    def __init__(self, v, dtype):
        self._a = np.asarray(v, dtype=dtype)
        self.dtype, self.ndim, self.size, self.shape = self._a.dtype, 0, 1, ()

    def __float__(self):
        return float(self._a)

    def __bool__(self):
        return bool(self._a)


def test_values_are_typed(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_hparams(
            {
                "flag": True,
                "np_flag": np.bool_(False),
                "jax_flag": FakeJaxScalar(True, bool),
                "name": "adam",
                "np_name": np.str_("x"),
                "n": 3,
                "lr": 0.1,
                "np_int": np.int64(7),
                "np_f32": np.float32(0.5),
                "jax_f": FakeJaxScalar(0.25, np.float32),
            }
        )
    hp = _start_info(tmp_path).hparams
    assert hp["flag"].WhichOneof("kind") == "bool_value" and hp["flag"].bool_value is True
    assert hp["np_flag"].WhichOneof("kind") == "bool_value" and hp["np_flag"].bool_value is False
    assert hp["jax_flag"].bool_value is True
    assert hp["name"].string_value == "adam" and hp["np_name"].string_value == "x"
    for key, want in [("n", 3.0), ("lr", 0.1), ("np_int", 7.0), ("np_f32", 0.5), ("jax_f", 0.25)]:
        assert hp[key].WhichOneof("kind") == "number_value", key
        assert hp[key].number_value == want


@pytest.mark.parametrize("bad", [None, [1, 2], {"a": 1}, object(), b"bytes", np.zeros(3), 1 + 1j])
def test_unsupported_value_names_the_key(tmp_path, bad) -> None:
    w = SummaryWriter(tmp_path)
    with pytest.raises(TypeError, match="'bad_key'"):
        w.add_hparams({"ok": 1, "bad_key": bad})
    w.add_hparams({"ok": 1})  # still usable, and the rejected call started no session
    w.close()
    assert dict(_start_info(tmp_path).hparams).keys() == {"ok"}


def test_session_in_own_run_no_end_until_close(tmp_path) -> None:
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_hparams({"lr": 0.1}, {"loss": 0.9}, global_step=2)
    assert os.listdir(tmp_path) == [os.path.basename(event_files(tmp_path)[0])], "no sub-run"
    assert _start_info(tmp_path).hparams["lr"].number_value == 0.1  # flushed at once
    assert _end_infos(tmp_path) == []
    loss = accumulator(tmp_path).Scalars("loss")
    assert [(e.step, e.value) for e in loss] == [(2, np.float32(0.9))]
    w.add_scalar("loss", 0.5, 3)
    w.close()
    (end,) = _end_infos(tmp_path)
    assert end.status == 1 and end.end_time_secs > 0  # STATUS_SUCCESS


def test_with_block_exception_ends_with_failure(tmp_path) -> None:
    with pytest.raises(RuntimeError):
        with SummaryWriter(tmp_path) as w:
            w.add_hparams({"lr": 0.1})
            raise RuntimeError("diverged")
    (end,) = _end_infos(tmp_path)
    assert end.status == 2  # STATUS_FAILURE


def test_set_status_for_code_without_with(tmp_path) -> None:
    w = SummaryWriter(tmp_path)
    w.add_hparams({"lr": 0.1})
    with pytest.raises(ValueError, match="status"):
        w.set_status("done")
    w.set_status("failure")
    w.close()
    w.close()
    assert [e.status for e in _end_infos(tmp_path)] == [2]


def test_unknown_status_and_end_time_for_runs_logged_after_the_fact(tmp_path) -> None:
    w = SummaryWriter(tmp_path)
    w.add_hparams({"lr": 0.1})
    with pytest.raises(ValueError, match="end_time"):
        w.set_status("unknown", end_time=float("nan"))
    w.set_status("unknown", end_time=1234.5)
    w.close()
    (end,) = _end_infos(tmp_path)
    assert end.status == 0 and end.end_time_secs == 1234.5  # STATUS_UNKNOWN, ended


def test_no_session_means_no_end_info(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("x", 1.0)
    assert _hparams_events(tmp_path) == []


def test_second_add_hparams_is_an_error(tmp_path) -> None:
    w = SummaryWriter(tmp_path)
    w.add_hparams({"lr": 0.1})
    with pytest.raises(HParamsError, match="already"):
        w.add_hparams({"lr": 0.2})
    w.add_scalar("x", 1.0)
    w.close()
    assert (
        len([t for t, _ in _hparams_events(tmp_path) if t == hp_metadata.SESSION_START_INFO_TAG])
        == 1
    )


def test_run_name_keeps_pytorch_sub_run(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.add_hparams(
            {"lr": 0.1, "bn": True}, {"hparam/acc": 0.75}, run_name="trial", global_step=4
        )
        w.add_hparams({"lr": 0.2, "bn": False}, {"hparam/acc": 0.5}, run_name="trial2")
    sub = tmp_path / "trial"
    tags = [t for t, _ in _hparams_events(sub)]
    assert tags == [
        hp_metadata.EXPERIMENT_TAG,
        hp_metadata.SESSION_START_INFO_TAG,
        hp_metadata.SESSION_END_INFO_TAG,
    ]
    assert [e.status for e in _end_infos(sub)] == [1]
    exp = _hparams_events(sub)[0][1].experiment
    assert {h.name: h.type for h in exp.hparam_infos} == {"lr": 3, "bn": 2}
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/acc"]
    assert [(e.step, e.value) for e in accumulator(sub).Scalars("hparam/acc")] == [(4, 0.75)]
    assert _hparams_events(tmp_path) == [], "the writer's own run holds no session"


def test_domain_discrete_writes_experiment(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="does not hold"):
            w.add_hparams({"opt": "adam"}, hparam_domain_discrete={"opt": ["sgd"]})
        with pytest.raises(ValueError, match="not in hparam_dict"):
            w.add_hparams({"opt": "adam"}, hparam_domain_discrete={"other": ["sgd"]})
        w.add_hparams(
            {"opt": "adam", "lr": 0.1},
            {"loss": None},
            hparam_domain_discrete={"opt": ["adam", "sgd"]},
        )
    exp = _hparams_events(tmp_path)[0][1].experiment
    (opt,) = [h for h in exp.hparam_infos if h.name == "opt"]
    assert [v.string_value for v in opt.domain_discrete.values] == ["adam", "sgd"]
    assert accumulator(tmp_path).Tags()["scalars"] == [], "a None metric value logs nothing"


def test_write_hparams_flattens_like_clu(tmp_path) -> None:
    with SummaryWriter(tmp_path) as w:
        w.write_hparams({"model": {"depth": 4, "act": "relu"}, "lr": 0.1})
    assert set(_start_info(tmp_path).hparams) == {"model.depth", "model.act", "lr"}


def test_write_experiment_config(tmp_path) -> None:
    path = tbwrite.write_experiment(
        tmp_path,
        [
            HParam(
                "lr", RealInterval(1e-4, 1.0), display_name="learning rate", description="SGD step"
            ),
            HParam("layers", IntInterval(1, 8)),
            HParam("opt", ["adam", "sgd"]),
            HParam("bn", dtype="bool"),
            "free",
        ],
        [
            Metric(
                "loss", display_name="Loss", description="training loss", dataset_type="training"
            ),
            Metric("accuracy", group="validation", dataset_type="validation"),
            "other",
        ],
        name="sweep",
        description="a sweep",
    )
    assert os.path.dirname(path) == str(tmp_path)
    ((tag, data),) = _hparams_events(tmp_path)
    exp = data.experiment
    assert tag == hp_metadata.EXPERIMENT_TAG and data.version == 0
    assert exp.name == "sweep" and exp.description == "a sweep"
    infos = {h.name: h for h in exp.hparam_infos}
    assert infos["lr"].display_name == "learning rate" and infos["lr"].description == "SGD step"
    assert (infos["lr"].domain_interval.min_value, infos["lr"].domain_interval.max_value) == (
        1e-4,
        1.0,
    )
    assert infos["layers"].type == 3 and infos["layers"].domain_interval.max_value == 8
    assert infos["opt"].type == 1 and infos["bn"].type == 2 and infos["free"].type == 0
    metrics = {m.name.tag: m for m in exp.metric_infos}
    assert metrics["loss"].dataset_type == 1 and metrics["loss"].display_name == "Loss"
    assert metrics["accuracy"].name.group == "validation" and metrics["accuracy"].dataset_type == 2


@pytest.mark.parametrize(
    "kwargs,exc,fragment",
    [
        ({"hparams": [HParam("a", ["x", 1])]}, ValueError, "one type"),
        ({"hparams": [HParam("a", RealInterval(2, 1))]}, ValueError, "min <= max"),
        ({"hparams": [HParam("a", IntInterval(1.5, 3))]}, TypeError, "ints"),
        ({"hparams": [HParam("a"), HParam("a")]}, ValueError, "unique"),
        ({"hparams": [HParam("a", dtype="complex")]}, ValueError, "dtype"),
        ({"hparams": [3]}, TypeError, "HParam"),
        (
            {"hparams": [], "metrics": [Metric("m", dataset_type="test")]},
            ValueError,
            "dataset_type",
        ),
    ],
)
def test_write_experiment_rejects_bad_config(tmp_path, kwargs, exc, fragment) -> None:
    with pytest.raises(exc, match=fragment):
        tbwrite.write_experiment(tmp_path, **kwargs)
    assert event_files(tmp_path) == []


def _run_script(tmp_path, body: str) -> subprocess.CompletedProcess[str]:
    code = "import tbwrite\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )


def test_unclosed_writer_ends_success_at_exit(tmp_path) -> None:
    out = _run_script(
        tmp_path,
        """
        import sys
        w = tbwrite.SummaryWriter(sys.argv[1])
        w.add_hparams({"lr": 0.1})
        w.add_scalar("loss", 1.0, 1)
    """,
    )
    assert out.returncode == 0, out.stderr
    assert [e.status for e in _end_infos(tmp_path)] == [1]


def test_uncaught_exception_ends_failure_at_exit(tmp_path) -> None:
    out = _run_script(
        tmp_path,
        """
        import sys
        w = tbwrite.SummaryWriter(sys.argv[1])
        w.add_hparams({"lr": 0.1})
        raise SystemError("training crashed")
    """,
    )
    assert out.returncode == 1 and "training crashed" in out.stderr
    assert [e.status for e in _end_infos(tmp_path)] == [2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_forked_child_does_not_end_parents_session(tmp_path) -> None:
    w = SummaryWriter(tmp_path)
    w.add_hparams({"lr": 0.1})
    pid = os.fork()
    if pid == 0:
        w.close()
        os._exit(0)
    os.waitpid(pid, 0)
    assert _end_infos(tmp_path) == []
    w.set_status("failure")
    w.close()
    assert [e.status for e in _end_infos(tmp_path)] == [2]

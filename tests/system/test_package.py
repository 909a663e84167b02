"""Packaging facts: generated code is current, protos coexist with TensorBoard's, imports
stay light (the protobuf range at both ends: tests/package/test_protobuf_range.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_matches_proto_sources() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_coexists_with_tensorboard_protos_in_one_process() -> None:
    code = (
        "from tensorboard.compat.proto import event_pb2 as tb\n"
        "from tensorboard.plugins.hparams import plugin_data_pb2 as tbh\n"
        "import tbwrite\n"
        "from tbwrite._proto import event_pb2 as ours, hparams_pb2\n"
        "assert tb.Event.DESCRIPTOR.full_name == 'tensorboard.Event'\n"
        "assert ours.Event.DESCRIPTOR.full_name == 'tbwrite.Event'\n"
        "e = ours.Event(step=3, file_version='brain.Event:2')\n"
        "assert tb.Event.FromString(e.SerializeToString()).step == 3\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr


def test_import_tbwrite_is_light(tmp_path) -> None:
    code = (
        "import sys, json, tbwrite\n"
        "w = tbwrite.SummaryWriter(sys.argv[1])\n"
        "w.add_scalar('x', 1.0, 1)\n"
        "w.close()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    loaded = set(json.loads(out.stdout))
    for heavy in (
        "torch",
        "tensorflow",
        "tensorboard",
        "jax",
        "numpy",
        "google",
        "sklearn",
        "optuna",
        "ray",
        "flax",
        "clu",
        "scipy",
    ):
        assert heavy not in loaded, f"import tbwrite + add_scalar loaded {heavy}"


def test_integrations_import_their_libraries_lazily() -> None:
    code = (
        "import sys, json, tbwrite\n"
        "import tbwrite.integrations.clu, tbwrite.integrations.sklearn\n"
        "import tbwrite.integrations.optuna, tbwrite.integrations.ray\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(json.loads(out.stdout))
    # ray is not in this environment: tests/extras/test_ray.py checks it in its own.
    for heavy in ("jax", "sklearn", "optuna", "ray", "flax", "clu", "scipy", "numpy", "google"):
        assert heavy not in loaded, f"importing the integrations loaded {heavy}"


def test_console_script_and_module_entry_point(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tbwrite", "demo", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert f"tensorboard --logdir {tmp_path / 'd'}" in out.stdout
    entries = os.listdir(tmp_path / "d")
    assert len([e for e in entries if os.path.isdir(tmp_path / "d" / e)]) == 5
    assert "FAILED" in out.stdout


def test_demo_again_replaces_its_sweep_and_never_touches_other_dirs(tmp_path) -> None:
    import glob

    demo = [sys.executable, "-m", "tbwrite", "demo"]
    for _ in range(2):
        out = subprocess.run([*demo, str(tmp_path / "d")], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
    assert len(glob.glob(str(tmp_path / "d" / "*.hparams"))) == 1
    for run in glob.glob(str(tmp_path / "d" / "lr=*")):
        assert len(os.listdir(run)) == 1, "a second demo mixed its sweep into the first"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    out = subprocess.run([*demo, str(other)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and "not empty" in out.stderr and "Traceback" not in out.stderr
    assert os.listdir(other) == ["notes.txt"]

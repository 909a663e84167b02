"""``import tbwrite`` is light and has no side effects: no numpy, protobuf, crc32c, torch,
TensorFlow or TensorBoard, and no exit or fork hooks until the first writer opens."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("crc32c", "numpy", "google.protobuf", "torch", "tensorflow", "tensorboard")

PROBE = """
import atexit, json, os, sys, threading
calls = []
_register = atexit.register
atexit.register = lambda f, *a, **k: (calls.append("atexit"), _register(f, *a, **k))[1]
_at_fork = os.register_at_fork
os.register_at_fork = lambda **k: (calls.append("fork"), _at_fork(**k))[1]
import tbwrite
after_import = list(calls)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {roots})
threads = threading.active_count()
if sys.argv[1] == "write":
    w = tbwrite.SummaryWriter(sys.argv[2])
    w.add_scalar("x", 1.0, 1)
    w.close()
print(json.dumps(dict(after_import=after_import, after_write=calls, loaded=loaded,
                      threads=threads, heavy=sorted(m for m in sys.modules if m in {heavy}))))
"""


def _probe(*args: str) -> dict[str, object]:
    roots = {"crc32c", "numpy", "google", "torch", "tensorflow", "tensorboard"}
    code = PROBE.format(roots=repr(roots), heavy=repr(set(HEAVY)))
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_import_loads_no_heavy_module_and_registers_no_hook() -> None:
    result = _probe("import")
    assert result["loaded"] == []
    assert result["after_import"] == []
    assert result["threads"] == 1


def test_first_writer_registers_the_hooks_and_loads_crc32c(tmp_path) -> None:
    # The other side of the test above: the probe does see the hooks and crc32c once a
    # writer has opened and framed a record.
    result = _probe("write", str(tmp_path))
    assert result["after_import"] == []
    assert "atexit" in result["after_write"]
    if hasattr(__import__("os"), "register_at_fork"):
        assert "fork" in result["after_write"]
    assert "crc32c" in result["heavy"]

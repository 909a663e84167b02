"""Shared pytest setup: tests/helpers on sys.path (for ``import tbserver``, ``readback``,
...), a marker per test folder, and the ``tb_server`` and ``moto_s3`` fixtures.

The folders, by cost: ``unit`` (tbwrite alone: no tensorboard, jax or ray needed;
seconds), ``interop`` (read back by TensorBoard's own loaders and a live server),
``system`` (crash and fork trials, remote stores, the integrations with their real
libraries, lint), ``package`` (the wheel, fresh venvs, every Python on the machine; marker
``package``) and ``stress`` (long trials; marker ``stress``). The README's test command
runs all but ``package`` and ``stress``, in parallel (pytest-xdist): every test keeps to
its own tmp_path, ports chosen by the OS, and servers of its own worker. ``extras`` (the
heavy optional extras, each in a fresh venv of its own) is never collected by recursion:
``tests/package/test_extras.py`` names each file.
"""

import os
import sys

import pytest

# The tests run two at a time (pytest-xdist) on every core, so a native thread pool of the
# size of the machine in each (OpenMP and OpenBLAS: numpy, XGBoost, LightGBM,
# scikit-learn, torch) only contends with the other test's and spins: one thread each,
# set before any of them loads, children included (about 6 CPU-seconds less per run).
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
HELPERS_DIR = os.path.join(_TESTS_DIR, "helpers")
if HELPERS_DIR not in sys.path:
    sys.path.insert(0, HELPERS_DIR)

from tbserver import TensorBoardServer  # noqa: E402

_FOLDER_MARKERS = {
    "interop": "interop",
    "system": "system",
    "package": "package",
    "stress": "stress",
}


def pytest_collection_modifyitems(items):
    for item in items:
        folder = os.path.basename(os.path.dirname(str(item.fspath)))
        # CI runs the package tests by their folder: one marked elsewhere would run nowhere.
        if folder != "package" and item.get_closest_marker("package") is not None:
            raise pytest.UsageError(f"{item.nodeid}: package tests belong in tests/package")
        marker = _FOLDER_MARKERS.get(folder)
        if marker is not None:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture
def tb_server():
    """Factory: ``tb_server(logdir, load_fast=True, **kwargs)`` starts a
    ``TensorBoardServer`` (kwargs as its constructor) and returns it, already
    serving.  Every server started is stopped at teardown, which fails if any
    of its processes (TensorBoard, Rust data server) outlives it."""
    servers = []

    def start(logdir, load_fast=True, **kwargs):
        server = TensorBoardServer(logdir, load_fast=load_fast, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    leftovers = {}
    for server in servers:
        leftovers.update(server.stop())
    assert not leftovers, f"processes left running after stop: {leftovers!r}"


@pytest.fixture(scope="session")
def moto_s3():
    """A moto S3 server on 127.0.0.1 for the whole session (see tests/helpers/motoserver.py),
    with this process's environment and fsspec configuration pointed at it, and the
    bucket ``tbwrite`` created. Restored and stopped at the end."""
    import fsspec.config
    from motoserver import MotoServer

    server = MotoServer()
    server.start()
    saved_env = {k: os.environ.get(k) for k in server.env}
    saved_conf = fsspec.config.conf.get("s3")
    try:
        os.environ.update(server.env)
        fsspec.config.conf["s3"] = {"endpoint_url": server.url}
        server.create_bucket("tbwrite")
        yield server
    finally:
        server.stop()
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if saved_conf is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved_conf


@pytest.fixture
def past_check_interval(monkeypatch):
    """Call it to move the local sink's clock past its file check interval (CHECK_SECS), so
    that the next write checks that the file is still there: what waiting would do,
    without the wait."""
    import time

    from tbwrite._sinks import local

    offset = [0.0]
    monkeypatch.setattr(local, "_monotonic", lambda: time.monotonic() + offset[0])

    def advance() -> None:
        offset[0] += local.CHECK_SECS * 1.5

    return advance

"""Shared pytest setup: tests/ on sys.path (for ``import tbserver``) and a
``tb_server`` fixture factory that starts real TensorBoard servers."""

import os
import sys

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from tbserver import TensorBoardServer  # noqa: E402


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

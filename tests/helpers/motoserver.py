"""A real S3-protocol server on loopback: moto's standalone server in a subprocess.

Usage::

    with MotoServer() as s3:          # python -m moto.server -H 127.0.0.1 -p PORT
        s3.create_bucket("tbwrite")
        s3.env                        # AWS_* and FSSPEC_S3_ENDPOINT_URL for child processes
        s3.puts()                     # [(key, status)] of every PUT of an object, from its log

moto keeps everything in memory and accepts any credentials; the server's request log
(werkzeug's, one line per request) is how tests count uploads. The port is chosen by binding
port 0 and closing it, then handed to moto; if another process takes it in between, moto
exits and the start is retried on a new port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

__all__ = ["MotoServer", "CREDENTIALS"]

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

_REQUEST = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/[\d.]+\S*" (\d{3})')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._dir = tempfile.mkdtemp(prefix="motoserver_")
        self.log_path = os.path.join(self._dir, "moto.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a child process: fsspec/s3fs and boto3 both find the server."""
        return {**CREDENTIALS, "FSSPEC_S3_ENDPOINT_URL": self.url, "AWS_ENDPOINT_URL": self.url}

    def start(self, port: int | None = None) -> None:
        for _ in range(5):
            self.port = port or _free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            deadline = time.monotonic() + self.startup_timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                    return
                except (OSError, urllib.error.URLError):
                    time.sleep(0.1)
            self.stop()
            if port:
                break
        raise RuntimeError(f"moto server did not start; log:\n{self.log_text()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self):  # boto3 S3 client for assertions
        import boto3

        return boto3.client("s3", endpoint_url=self.url, **_boto_kwargs())

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """{key: size} of the objects under ``prefix``."""
        out: dict[str, int] = {}
        pager = self.client().get_paginator("list_objects_v2")
        pages = pager.paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["Size"]
        return out

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the server logged, in order."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log_text())
        return [(m[1], m[2], int(m[3])) for m in _REQUEST.finditer(text)]

    def puts(self, prefix: str = "/") -> list[tuple[str, int]]:
        """(path, status) of every PUT whose path starts with ``prefix`` (``/bucket/key``)."""
        return [(p, s) for m, p, s in self.requests() if m == "PUT" and p.startswith(prefix)]


def _boto_kwargs() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }

"""Run a real ``tensorboard`` server in a subprocess and read data back over HTTP.

Usage::

    with TensorBoardServer(logdir, load_fast=True) as tb:
        tb.wait_for(lambda: set(tb.runs()) == {"a", "b"}, timeout=20)
        points = tb.scalars("a", "loss")

Server command line (see ``TensorBoardServer.command``)::

    python -m tensorboard.main --logdir LOGDIR --host 127.0.0.1 --port 0
        --load_fast={true|false} --reload_interval {1|0.25}
        --samples_per_plugin scalars=100000,histograms=100000,text=100000,...

Why these flags (TensorBoard 2.21.0, tensorboard-data-server 0.7.2):

* ``--port 0``: the OS picks a free port (no probe-then-bind race).  TensorBoard
  prints ``TensorBoard 2.21.0 at http://127.0.0.1:PORT/ (Press CTRL+C to quit)``
  on stderr *after* the socket is bound (and, for ``--load_fast=true``, after the
  Rust data server answered its first gRPC call); we parse the port from that line.
* ``--reload_interval``: the Python loader sleeps this many (float) seconds
  between reload passes; ``0`` would mean "load once".  For ``--load_fast=true``
  TensorBoard passes ``--reload=str(int(reload_interval))`` to the Rust server
  (``tensorboard/data/server_ingester.py``), so fractions are truncated: 0.5
  would become ``--reload=0`` (a busy reload loop with no sleep), and 0 becomes
  ``--reload=once``.  So the Rust loader reloads every 1 s, the Python loader every
  0.25 s (``PYTHON_RELOAD_INTERVAL``: a test waiting for what a writer flushed waits
  half an interval on average).  Neither loader has loaded anything when the HTTP
  server first answers: always poll with ``wait_for``.
* ``--samples_per_plugin``: how many points per (run, tag) are *kept* and *served*.
  Defaults: the Python loader keeps scalars 1000, histograms 500,
  pr_curves 100, images/audio 10, text and other tensors 10 per tag
  (reservoir), and the plugins ask the data provider for at most scalars 1000,
  histograms 500, text 100.  The Rust loader keeps 1000 scalars / 100 tensors
  / 10 blobs per tag.  Observed without the flag (1500 scalars, 150 texts):
  Rust serves 1000 scalars and 100 texts, Python 1000 scalars and 10 texts;
  with the flag below both serve 1500 and 150.  The value ``0`` does NOT mean
  "keep all" at the HTTP level in either loader: the plugins pass it on as
  ``downsample=0``, and both the Python provider (``_downsample(xs, 0) == []``)
  and the Rust server then return *no points at all* (empty lists) -- even though the
  Python EventAccumulator treats size 0 as unlimited and TensorBoard
  translates 0 to ``all`` on the Rust command line.  So a large explicit number
  is used instead (100000), which keeps and serves every point in both loaders.
* Exception: ``/data/plugin/histograms/histograms`` always downsamples to at
  most ``HistogramsPlugin.SAMPLE_SIZE == 51`` events per (run, tag) (random
  subset that always includes the last one), whatever ``--samples_per_plugin``
  says.  Tests that want every histogram must write <= 51 steps per tag.

The subprocess runs in its own session/process group (``start_new_session``);
the Rust data server (``tensorboard_data_server/bin/server``) is a child of it
in the same process group.  ``stop()`` sends SIGTERM to TensorBoard (which runs
its atexit handlers and exits; the data server exits when its stdin pipe from
TensorBoard closes, ``--die-after-stdin``), then SIGKILLs the whole process
group after a grace period, and verifies that no live process of the group is
left (``leftover_pids()``).  ``TMPDIR`` is pointed at a private directory so that
``.tensorboard-info`` files and the data server's port file stay out of /tmp.

Start-up: importing TensorBoard takes ~0.4 s of the ~0.7 s a server takes to answer, and
the suite starts dozens.  So each test process keeps one *zygote* (``_Zygote``): a child
that has imported ``tensorboard.main`` and forks one server per request, each in a session
of its own, its environment, cwd, argv and log set before TensorBoard runs (~0.3 s to
answer).  Only a server whose environment is the zygote's (but for ``TMPDIR``) is forked
that way: TensorBoard reads some variables at import (its S3 filesystem reads
``S3_ENDPOINT``), so a server with other variables is a fresh ``tensorboard`` process.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "DEFAULT_SAMPLES_PER_PLUGIN",
    "TensorBoardServer",
    "TensorBoardHTTPError",
    "ALL_STATUSES",
]

# Large explicit counts; 0 would mean "serve nothing" (see module docstring).
DEFAULT_SAMPLES_PER_PLUGIN = {
    "scalars": 100000,
    "histograms": 100000,
    "text": 100000,
    "images": 100000,
    "audio": 100000,
    "pr_curves": 100000,
}

# api.proto Status enum names, as the TensorBoard frontend sends them.
ALL_STATUSES = [
    "STATUS_UNKNOWN",
    "STATUS_SUCCESS",
    "STATUS_FAILURE",
    "STATUS_RUNNING",
]

_URL_RE = re.compile(rb"TensorBoard \S+ at (http://[^\s]+?:(\d+)/)")


# The Python loader's pause between reload passes (module docstring).
PYTHON_RELOAD_INTERVAL = 0.25


class TensorBoardHTTPError(Exception):
    """A non-2xx HTTP answer from the server (status, url, body)."""

    def __init__(self, method, url, status, body):
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        super().__init__(
            f"{method} {url} -> HTTP {status}: " + body[:2000].decode("utf-8", "replace")
        )


def _proc_stat(pid):
    """(state, ppid, pgrp) of a live /proc entry, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm is in parentheses and may contain spaces: split after the last ')'.
    rest = data[data.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[1]), int(rest[2])


def _pids_in_group(pgid, include_zombies=False):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st is None or st[2] != pgid:
            continue
        if st[0] == "Z" and not include_zombies:
            continue
        out.append(int(name))
    return sorted(out)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


# The zygote's program: import TensorBoard, then for each request line (JSON: argv, env,
# cwd, log, exit) fork a server and answer its pid; reap finished servers, writing each
# one's exit code to its "exit" file (what _Forked.poll reads). Ends when stdin closes.
_ZYGOTE = r"""
import json, os, select, sys, tempfile
import tensorboard.main

children = {}
print("ready", flush=True)
while True:
    readable = select.select([0], [], [], 0.02)[0]
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        try:
            with open(children.pop(pid), "w") as f:
                f.write(str(os.waitstatus_to_exitcode(status)))
        except OSError:
            pass
    if not readable:
        continue
    line = sys.stdin.readline()
    if not line:
        break
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            tempfile.tempdir = None
            null = os.open(os.devnull, os.O_RDONLY)
            log = os.open(req["log"], os.O_WRONLY | os.O_APPEND)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.argv = req["argv"]
            try:
                tensorboard.main.run_main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            import atexit
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    children[pid] = req["exit"]
    print(pid, flush=True)
"""


class _Forked:
    """The part of ``subprocess.Popen`` the server uses, for a server the zygote forked
    (and reaps: its exit code arrives in the ``exit`` file)."""

    def __init__(self, pid, exit_path):
        self.pid = pid
        self.returncode = None
        self._exit_path = exit_path

    def poll(self):
        if self.returncode is None:
            try:
                with open(self._exit_path) as f:
                    self.returncode = int(f.read())
            except (OSError, ValueError):
                pass
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"tensorboard (pid {self.pid})", timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)


class _Zygote:
    """This process's zygote (module docstring): started at the first server, ended when
    this process exits (its stdin closes)."""

    _lock = threading.Lock()
    _proc = None
    _env = None

    @classmethod
    def fork(cls, argv, env, cwd, log, exit_path):
        """A _Forked server, or None when this environment needs a fresh process."""
        base = {k: v for k, v in env.items() if k != "TMPDIR"}
        with cls._lock:
            if cls._proc is None:
                cls._env = base
                errors = tempfile.TemporaryFile()
                cls._proc = subprocess.Popen(
                    [sys.executable, "-c", _ZYGOTE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=base,
                    text=True,
                )
                if cls._proc.stdout.readline().strip() != "ready":
                    cls._proc.wait()
                    errors.seek(0)
                    raise RuntimeError(
                        "the tensorboard zygote did not start:\n" + errors.read().decode()
                    )
            if base != cls._env or cls._proc.poll() is not None:
                return None
            request = {"argv": argv, "env": env, "cwd": cwd, "log": log, "exit": exit_path}
            cls._proc.stdin.write(json.dumps(request) + "\n")
            cls._proc.stdin.flush()
            return _Forked(int(cls._proc.stdout.readline()), exit_path)


class TensorBoardServer:
    """A ``tensorboard`` subprocess serving ``logdir`` on 127.0.0.1.

    Args:
      logdir: directory to serve.
      load_fast: True -> ``--load_fast=true`` (Rust data server, hard-fail if
        unavailable); False -> ``--load_fast=false`` (Python EventMultiplexer).
      reload_interval: seconds between reload passes; by default 1 for the Rust
        loader (an int >= 1, see module docstring), 0.25 for the Python one.
      samples_per_plugin: dict plugin -> number of points kept and served per tag.
      startup_timeout: seconds to wait for the HTTP server to answer.
      extra_args: more command-line flags.
      env: extra environment variables for the server (e.g. ``S3_ENDPOINT``
        for an ``s3://`` logdir); a value of None removes the variable.
    """

    def __init__(
        self,
        logdir,
        load_fast=True,
        reload_interval=None,
        samples_per_plugin=None,
        startup_timeout=60.0,
        extra_args=(),
        http_timeout=30.0,
        env=None,
    ):
        self.logdir = os.fspath(logdir)
        self.load_fast = bool(load_fast)
        if reload_interval is None:
            reload_interval = 1 if self.load_fast else PYTHON_RELOAD_INTERVAL
        if self.load_fast and 0 < float(reload_interval) < 1:
            # int() truncation -> `--reload=0`: the Rust server reloads in a
            # busy loop (observed ~1.6 cores on this 2-core machine).
            raise ValueError(
                f"reload_interval {reload_interval!r} < 1 becomes --reload=0 (busy loop) in the "
                "Rust data server; use >= 1"
            )
        self.reload_interval = reload_interval
        self.samples_per_plugin = dict(
            DEFAULT_SAMPLES_PER_PLUGIN if samples_per_plugin is None else samples_per_plugin
        )
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.http_timeout = http_timeout
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.base_url = None
        self._tmpdir = None
        self._log = None
        self._pgid = None
        self._seen_pids = set()

    # ------------------------------------------------------------------ process

    @property
    def command(self):
        cmd = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            self.logdir,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast=%s" % ("true" if self.load_fast else "false"),
            "--reload_interval",
            str(self.reload_interval),
        ]
        if self.samples_per_plugin:
            cmd += [
                "--samples_per_plugin",
                ",".join(f"{k}={int(v)}" for k, v in sorted(self.samples_per_plugin.items())),
            ]
        return cmd + self.extra_args

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        leftovers = self.stop()
        if leftovers and exc_type is None:
            raise AssertionError(f"processes left running after stop: {leftovers!r}")
        return False

    def start(self):
        if self.proc is not None:
            raise RuntimeError("already started")
        self._tmpdir = tempfile.mkdtemp(prefix="tbserver_")
        self._log_path = os.path.join(self._tmpdir, "tensorboard.log")
        self._log = open(self._log_path, "wb")
        env = dict(os.environ)
        env["TMPDIR"] = self._tmpdir
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        argv = ["tensorboard", *self.command[3:]]  # as `python -m tensorboard.main` sees it
        exit_path = os.path.join(self._tmpdir, "exit")
        self.proc = _Zygote.fork(argv, env, self._tmpdir, self._log_path, exit_path)
        if self.proc is None:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self._tmpdir,
                start_new_session=True,
            )
        self._pgid = self.proc.pid  # new session => pgid == pid
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.startup_timeout
        while True:
            self._note_pids()
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tensorboard exited with code {self.proc.returncode} before serving.\n"
                    + self.log_text()
                )
            if self.port is None:
                with open(self._log_path, "rb") as f:
                    m = _URL_RE.search(f.read())
                if m:
                    self.port = int(m.group(2))
                    self.base_url = f"http://127.0.0.1:{self.port}"
            if self.port is not None:
                try:
                    env = self.get_json("/data/environment")
                    if "version" in env:
                        self._note_pids()
                        return
                except (OSError, TensorBoardHTTPError):
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"tensorboard did not start serving within {self.startup_timeout:.0f} s.\n"
                    + self.log_text()
                )
            time.sleep(0.1)

    def _note_pids(self):
        if self._pgid is not None:
            self._seen_pids.update(_pids_in_group(self._pgid))

    def child_processes(self):
        """{pid: cmdline} of live processes in the server's process group
        other than TensorBoard itself (i.e. the Rust data server when
        ``load_fast``)."""
        self._note_pids()
        return {pid: _cmdline(pid) for pid in _pids_in_group(self._pgid) if pid != self.proc.pid}

    def leftover_pids(self):
        """Live (non-zombie) processes of the server's process group."""
        if self._pgid is None:
            return []
        return _pids_in_group(self._pgid)

    def stop(self, grace=5.0):
        """Stop TensorBoard and its data server; return leftover pids (should
        be [])."""
        if self.proc is None:
            return []
        self._note_pids()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever of the group is still alive now gets SIGKILL.
        deadline = time.monotonic() + grace
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.leftover_pids():
            try:
                os.killpg(self._pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=grace)
        deadline = time.monotonic() + grace
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = {pid: _cmdline(pid) for pid in self.leftover_pids()}
        if self._log is not None:
            self._log.close()
            self._log = None
        self._final_log = self.log_text()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        return leftovers

    def log_text(self, limit=20000):
        """Last ``limit`` characters of TensorBoard's stdout+stderr."""
        if self._tmpdir is None:
            return getattr(self, "_final_log", "")
        try:
            with open(self._log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        text = data[-limit:].decode("utf-8", "replace")
        return f"----- tensorboard output -----\n{text}\n------------------------------"

    # --------------------------------------------------------------------- HTTP

    def url(self, path, **params):
        if not path.startswith("/"):
            path = "/" + path
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return url

    def _request(self, method, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=self.http_timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            raise TensorBoardHTTPError(method, url, e.code, e.read()) from None

    def get(self, path, **params):
        """GET; returns the raw body bytes (raises TensorBoardHTTPError)."""
        return self._request("GET", self.url(path, **params))[1]

    def get_json(self, path, **params):
        """GET ``path?params`` and parse JSON.

        TensorBoard's JSON (``json_util.Cleanse``) writes non-finite floats as
        the strings "NaN", "Infinity", "-Infinity"; they come back as those
        strings (use ``to_float`` to convert)."""
        return json.loads(self.get(path, **params))

    def post_json(self, path, body, form=False, **params):
        """POST to ``path?params`` and parse the JSON answer.

        By default ``body`` (dict/list) is sent as JSON with
        ``Content-Type: application/json`` -- what the TensorBoard frontend's
        Angular HttpClient does for the hparams plugin's ``/experiment`` and
        ``/session_groups`` (it also adds ``X-XSRF-Protected: 1`` to every POST,
        which is sent here too; TensorBoard does not check it).  The hparams
        plugin parses ``request.data`` as proto3 JSON on POST (and the
        ``request=`` query parameter on GET, which the frontend uses in Colab).
        With ``form=True``, ``body`` (a dict or a list of pairs) is sent
        url-encoded as a form instead (e.g. the timeseries plugin's
        ``requests=`` field).  ``str``/``bytes`` bodies are sent as they are.
        """
        headers = {"X-XSRF-Protected": "1"}
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, (str, bytes)):
            data = body.encode() if isinstance(body, str) else body
            headers["Content-Type"] = "application/json"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return json.loads(self._request("POST", self.url(path, **params), data, headers)[1])

    def wait_for(self, predicate, timeout=20.0, interval=0.2, what=None):
        """Poll ``predicate()`` until it returns a truthy value; return it.

        Exceptions raised by the predicate (e.g. a 400/404 from a tag that is
        not loaded yet, a KeyError) count as "not yet".  On timeout raises
        AssertionError showing the last value/exception and the server log.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
                last = f"returned {value!r}"
            except Exception as e:
                last = f"raised {type(e).__name__}: {e}"
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"tensorboard died (exit {self.proc.returncode}) while waiting for "
                    f"{what or predicate}; last: {last}\n{self.log_text()}"
                )
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:.1f} s waiting for {what or predicate}; "
                    f"last: {last[:5000]}\n{self.log_text(4000)}"
                )
            time.sleep(interval)

    # -------------------------------------------------------------- convenience

    def runs(self):
        """GET /data/runs -> list of run names (str), relative to the logdir
        with "/" separators; the logdir itself is ".".  Ordered by run start
        time (first event wall_time), ties by name.  Only runs that hold at
        least one event file with data appear."""
        return self.get_json("/data/runs")

    def tags(self, plugin):
        """GET /data/plugin/<plugin>/tags.

        scalars, histograms: ``{run: {tag: {"displayName": str,
        "description": str (HTML)}}}`` (only runs with tags of that plugin).
        For legacy ``simple_value`` scalars the Python loader reports
        ``displayName == tag`` and the Rust loader ``""`` (it drops metadata
        attached to simple_value).
        text: ``{run: [tag, ...]}``.
        """
        return self.get_json(f"/data/plugin/{plugin}/tags")

    def scalars(self, run, tag):
        """GET /data/plugin/scalars/scalars?run=&tag= ->
        ``[[wall_time (float s), step (int), value (float | "NaN" |
        "Infinity" | "-Infinity")], ...]`` in step order.  Unknown run/tag ->
        HTTP 400/404 (TensorBoardHTTPError)."""
        return self.get_json("/data/plugin/scalars/scalars", run=run, tag=tag)

    def histograms(self, run, tag):
        """GET /data/plugin/histograms/histograms?run=&tag= ->
        ``[[wall_time, step, [[left, right, count], ...]], ...]`` (at most 51
        events, see module docstring).  Legacy HistogramProto data is converted
        by the server to the same [k, 3] rows."""
        return self.get_json("/data/plugin/histograms/histograms", run=run, tag=tag)

    def text(self, run, tag, markdown=True):
        """GET /data/plugin/text/text?run=&tag=[&markdown=false] ->
        ``[{"wall_time": float, "step": int, "text": str(HTML)}, ...]``.
        With markdown the text is rendered to sanitized HTML (e.g. "# T" ->
        "<h1>T</h1>"); with ``markdown=False`` it is HTML-escaped and wrapped
        in ``<p>``.  Unknown run/tag -> ``[]``."""
        params = {"run": run, "tag": tag}
        if not markdown:
            params["markdown"] = "false"
        return self.get_json("/data/plugin/text/text", **params)

    def hparams_experiment(self, include_metrics=True, hparams_limit=None):
        """POST /data/plugin/hparams/experiment with a GetExperimentRequest as
        JSON (the frontend sends ``{"experimentName": <id>, "hparamsLimit": n,
        "includeMetrics": false}``; the default experiment id is "").

        Response (``MessageToJson(always_print_fields_with_no_presence=True)``
        of api.Experiment, so default-valued fields ARE present)::

            {"name": "", "description": "", "user": "", "timeCreatedSecs": 0.0,
             "hparamInfos": [{"name": "lr", "type": "DATA_TYPE_FLOAT64"
                 | "DATA_TYPE_STRING" | "DATA_TYPE_BOOL", "displayName": "",
                 "description": "", "differs": false,
                 "domainDiscrete"?: [...] | "domainInterval"?: {"minValue",
                 "maxValue"}}, ...],                # hparamInfos sorted by name
             "metricInfos": [{"name": {"tag": "m/acc", "group": ""},
                 "displayName": "", "description": "",
                 "datasetType": "DATASET_UNKNOWN"}, ...]}

        (observed with tensorboardX's add_hparams, identical in both loaders;
        the oneof ``domain*`` fields appear only when set.)"""
        body = {"experimentName": "", "includeMetrics": bool(include_metrics)}
        if hparams_limit is not None:
            body["hparamsLimit"] = int(hparams_limit)
        return self.post_json("/data/plugin/hparams/experiment", body)

    def hparams_session_groups_request(self, experiment=None, **overrides):
        """The ListSessionGroupsRequest body used by hparams_session_groups.

        Minimal valid body listing everything: ``allowedStatuses`` must list
        all four statuses (an empty list filters out every session) and
        ``sliceSize`` must be > 0 (default 0 -> the slice is empty, only
        ``totalSize`` is set).  ``colParams`` may be empty (then all hparams
        are included); here one ColParams per hparam and per metric of
        ``experiment`` (``{"hparam": name, "includeInResult": true}`` /
        ``{"metric": {"group", "tag"}, "includeInResult": true}``) is sent, as
        the frontend does for hparams."""
        col_params = []
        if experiment:
            for h in experiment.get("hparamInfos", []):
                col_params.append({"hparam": h["name"], "includeInResult": True})
            for m in experiment.get("metricInfos", []):
                col_params.append({"metric": m["name"], "includeInResult": True})
        body = {
            "experimentName": "",
            "allowedStatuses": list(ALL_STATUSES),
            "colParams": col_params,
            "startIndex": 0,
            "sliceSize": 1000000,
            "includeMetrics": True,
        }
        body.update(overrides)
        return body

    def hparams_session_groups(self, body=None, experiment=None):
        """POST /data/plugin/hparams/session_groups.

        ``body`` defaults to ``hparams_session_groups_request(experiment)``
        where ``experiment`` defaults to ``hparams_experiment()``.

        Response (api.ListSessionGroupsResponse, default-valued fields present)::

            {"sessionGroups": [{"name": "a/1795742272.11",
                 "hparams": {"lr": 0.1, "opt": "adam", "flag": true},
                 "metricValues": [{"name": {"tag": "m/acc", "group": ""},
                     "value": 0.8999999761581421, "trainingStep": 0,
                     "wallTimeSecs": 1795742272.118}],
                 "sessions": [{"name": "a/1795742272.11",
                     "status": "STATUS_SUCCESS", "startTimeSecs": 0.0,
                     "endTimeSecs": 0.0, "modelUri": "", "monitorUrl": "",
                     "metricValues": [...same shape...]}],
                 "monitorUrl": ""}, ...],
             "totalSize": 1}

        A session's metric value is the LATEST scalar of that tag in the
        session's run (``metrics.run_tag_from_session_and_metric``); a group's
        is the aggregate over its sessions.  The empty body ``{}`` is valid but
        answers ``{"sessionGroups": [], "totalSize": 0}`` (no allowed
        statuses, slice size 0)."""
        if body is None:
            if experiment is None:
                experiment = self.hparams_experiment()
            body = self.hparams_session_groups_request(experiment)
        return self.post_json("/data/plugin/hparams/session_groups", body)


def to_float(v):
    """Decode a TensorBoard JSON number ("NaN"/"Infinity"/"-Infinity" strings
    included) to a Python float."""
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v])
    return float(v)

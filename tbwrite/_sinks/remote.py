"""Log dirs on remote stores: any fsspec URL (``s3://``, ``gs://``, ``memory://``, ...).

Strategy: an object store cannot append, so a remote event "file" is a short sequence of
*segments*. A segment is one object that each upload (each flush) rewrites whole: its
``file_version`` record, the records of the earlier uploads to it, byte for byte as before,
then the records buffered since. To a reader the object grows as an appended file grows: a
reader stopped at an offset of the old version reads on at that offset in the new one (a
store's put is atomic: it sees the old object or the new one, never a mix). A segment is
closed (the next upload starts the next object) once it holds ``SEGMENT_BYTES`` or has
been uploaded ``SEGMENT_UPLOADS`` times, so a run leaves about
``max(bytes logged / SEGMENT_BYTES, uploads / SEGMENT_UPLOADS)`` objects, and each byte is
uploaded at most ``SEGMENT_UPLOADS`` times (on average about half that when flushes are
small; once when a flush alone fills a segment).

Why segments: TensorBoard's loader makes about seven requests per object (it lists the
run directory again at each, and opens a new client per request), so one object per flush
made a 3-day run at ``flush_secs=120`` (2,000 flushes) take minutes to load, and tens of
minutes once the listings grow long; rewriting one ever-growing object (as tensorboardX
does) uploads bytes that grow with the square of the run. The caps bound both: with
flushes of b bytes, a segment takes k = min(SEGMENT_UPLOADS, SEGMENT_BYTES / b) of them and
the uploads sum to about (k + 1) / 2 times the bytes logged. The defaults favour loading:
``benchmarks/store_bench.py`` measures the trade.

Objects are named so that they sort in write order within a run::

    events.out.tfevents.{open time:010d}.{host}.{pid}.{counter:08d}.{nonce}.{seq:08d}{suffix}

Time, host, pid and the process-wide counter are those of local files (one counter
for both, :mod:`tbwrite._format.names`); ``nonce`` (random
hex, per writer) keeps two writers apart that share all of those (a restarted container is
pid 1 on the same host again), since a store has no "create exclusively". ``seq`` counts
the writer's segments from 0 (segment 0 is uploaded with its header alone at open, which
makes the run visible at once). TensorBoard's Python loader reads a run's files in name
order, never going back to one once it has moved on to a later one: a segment is never
written again once the next exists.

Failures: every store call runs in a daemon thread with a deadline (``CALL_TIMEOUT``) and is
tried ``ATTEMPTS`` times with exponential backoff; errors that retrying cannot cure (no such
bucket, access denied) are not retried. What failed to upload stays pending in memory and
is retried at the next flush, in the same segment, followed by what was logged since (an
upload that did land although the client saw an error is simply overwritten by its own
continuation). A call abandoned at its deadline may still land later, after a longer
version: its segment is then uploaded once more with exactly the same bytes (so a late
landing writes what is already there) and closed, and what was logged since goes to the
next segment. Memory is capped: ``write`` refuses bytes (``WriterFailedError``, keeping
none of them) that would take what is pending past ``MAX_PENDING_BYTES`` while the store
fails; while it only is slower than the logging, ``write`` waits for an upload instead.

fsspec (and the store's own package, e.g. s3fs) are imported only when a remote log dir is
used: ``pip install 'tbwrite[remote]'``. Store options come from fsspec's configuration (for
instance the environment variable ``FSSPEC_S3_ENDPOINT_URL``) or the store's own (AWS_*).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from .._errors import WriterFailedError
from .._format.names import event_file_stem, is_event_file
from .._format.wire import file_version_record
from .._threads import start_daemon
from .contract import Outcome

__all__ = [
    "ATTEMPTS",
    "CALL_TIMEOUT",
    "MAX_PENDING_BYTES",
    "UPLOAD_BYTES",
    "SEGMENT_BYTES",
    "SEGMENT_UPLOADS",
    "RemoteSink",
    "finished_segments",
    "join",
    "list_runs",
    "open_remote",
    "put_object",
    "read_object",
]

# Upload as soon as this much is pending, without waiting for flush_secs.
UPLOAD_BYTES: Final = 8 << 20
# A segment is closed once it holds this many bytes or has been uploaded this many times
# (see the module docstring; measured in benchmarks/store_bench.py). Module attributes, so a
# program (or a test) may change them; a writer reads them at each upload.
SEGMENT_BYTES = 1 << 20
SEGMENT_UPLOADS = 512
# Refuse writes that would hold more than this not uploaded (the store keeps failing).
MAX_PENDING_BYTES: Final = 64 << 20
# Tries per upload (flush), seconds before the first retry (doubled each time), and the
# deadline of one store call. Module attributes, so a program (or a test) may change them.
ATTEMPTS = 4
BACKOFF = 0.5
CALL_TIMEOUT = 30.0

# Errors a retry cannot cure: fail the flush at once.
_PERMANENT: Final = (
    FileNotFoundError,
    PermissionError,
    NotADirectoryError,
    IsADirectoryError,
    ValueError,
    TypeError,
    ImportError,
)

# Connections botocore keeps for an s3:// filesystem (its default is 10), unless fsspec's
# configuration sets config_kwargs: the reader fetches 16 runs at once.
S3_POOL_CONNECTIONS: Final = 32

_T = TypeVar("_T")


def upload_timeout() -> float:
    """The longest one upload may take: every attempt to its deadline, and the backoffs.
    ``SummaryWriter.close()`` and interpreter exit wait at most this long for all of a
    program's uploads together."""
    return ATTEMPTS * CALL_TIMEOUT + BACKOFF * ((1 << max(0, ATTEMPTS - 1)) - 1)


def join(url: str, *names: str) -> str:
    """``url/name/...`` with one slash between the parts."""
    return "/".join([url.rstrip("/"), *names])


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) for a URL, importing fsspec now."""
    try:
        import fsspec
    except ImportError as err:
        raise ImportError(
            f"the log dir {url!r} is a URL: install fsspec and the store's package for it, "
            "for instance: pip install 'tbwrite[remote]'"
        ) from err
    # No listings cache: tbwrite lists a run when it reads it and wants what is there now.
    # A cache shared by the threads of a process lets one thread's older listing replace
    # another's newer one, and then names an object that exists as missing.
    options: dict[str, Any] = {"use_listings_cache": False}
    if url.split("://", 1)[0].lower() in ("s3", "s3a"):
        conf = fsspec.config.conf.get("s3", {})
        if "config_kwargs" not in conf:
            # botocore keeps 10 connections by default, fewer than the reader's threads:
            # unless the user configured it, keep enough for them and the uploads.
            options["config_kwargs"] = {"max_pool_connections": S3_POOL_CONNECTIONS}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except TypeError:  # a filesystem that takes no such option
        del options["use_listings_cache"]
        fs, path = fsspec.core.url_to_fs(url, **options)
    return fs, path


class _Abandoned(TimeoutError):
    """A store call passed its deadline; it may still complete later."""


def call_with_deadline(fn: Callable[[], _T], timeout: float, what: str) -> _T:
    """Run ``fn()`` in a daemon thread; raise :class:`_Abandoned` after ``timeout`` s."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box.append((False, err))

    t = start_daemon(run, "tbwrite-store-call")
    t.join(timeout)
    if not box:
        raise _Abandoned(f"{what}: no answer from the store within {timeout:g} s")
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def with_retries(fn: Callable[[], _T], what: str, abandoned: list[bool] | None = None) -> _T:
    """``fn()`` with a deadline per call, retried with backoff on transient errors.

    ``abandoned``, when given, gets ``[True]`` if any call was left running at its deadline.
    """
    delay = BACKOFF
    attempt = 1
    while True:
        try:
            return call_with_deadline(fn, CALL_TIMEOUT, what)
        except _PERMANENT:
            raise
        except _Abandoned:
            if abandoned is not None:
                abandoned[:] = [True]
            if attempt >= ATTEMPTS:
                raise
        except Exception:
            if attempt >= ATTEMPTS:
                raise
        time.sleep(delay)
        delay *= 2
        attempt += 1


class _AbandonedUpload(Exception):
    """An upload failed with a call still running: it may land later."""

    def __init__(self, failure: WriterFailedError) -> None:
        super().__init__(str(failure))
        self.failure = failure


class RemoteSink:
    """The segments of one writer in one run directory of a store (see the module
    docstring).

    ``write`` only keeps bytes in memory, up to ``MAX_PENDING_BYTES``; ``sync`` uploads the
    current segment with them.
    Both are thread-safe; uploads are serialized, so segments are written in ``seq`` order.
    """

    slow = True  # a sync is an upload: the flusher runs it on a thread of its own

    def __init__(self, url: str, suffix: str = "") -> None:
        self._url = url.rstrip("/")
        self._fs, root = filesystem(self._url)
        self._root = root.rstrip("/")
        self._prefix = f"{event_file_stem()}.{os.urandom(3).hex()}"
        self._suffix = suffix
        self._lock = threading.Lock()  # guards _pending, _pending_bytes
        self._upload_lock = threading.Lock()  # one upload at a time, in seq order
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._seq = 0
        # What segment _seq holds in the store: its header and the records uploaded to it
        # (empty before its first upload), and how many times it was uploaded.
        self._segment = b""
        self._segment_uploads = 0
        # (body, bytes of new records in it) of segment _seq when a call uploading it was
        # abandoned: uploaded again as it is, and the segment closed, before anything else.
        self._frozen: tuple[bytes, int] | None = None
        self.last_error: BaseException | None = None
        self.uploads = 0  # successful uploads (for tests and curious users)
        self.uploaded_bytes = 0  # their bytes
        self._sync(force=True)  # segment 0: the header alone; fails early on a bad URL

    @property
    def path(self) -> str:
        """URL of the segment the next upload writes."""
        return self.url_of(self._seq)

    def url_of(self, seq: int) -> str:
        return join(self._url, f"{self._prefix}.{seq:08d}{self._suffix}")

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def write(self, data: bytes) -> Outcome:
        """Keep ``data`` for the next upload; raise :class:`~tbwrite.WriterFailedError`,
        keeping none of it, if it would take what is pending past ``MAX_PENDING_BYTES``
        while the store keeps failing."""
        if self._pending_bytes and self._pending_bytes + len(data) > MAX_PENDING_BYTES:
            self._make_room(len(data))
        with self._lock:
            self._pending.append(data)
            self._pending_bytes += len(data)
            pending = self._pending_bytes
        # One sequence of objects: never a new file, so tag metadata is written once.
        return Outcome.SYNC_SOON if pending >= UPLOAD_BYTES else Outcome.NOTHING

    def _make_room(self, size: int) -> None:
        # A store that is fine, only slower than the logging: wait for an upload here
        # (backpressure). A failing one: refuse, rather than hold ever more in memory.
        if self.last_error is None:
            try:
                self._sync(force=False)
            except WriterFailedError:
                pass  # last_error tells, below
        pending = self._pending_bytes
        if not pending or pending + size <= MAX_PENDING_BYTES:
            return
        err = self.last_error
        raise WriterFailedError(
            f"the store at {self._url!r} keeps failing ({err}): {pending} bytes wait to be "
            f"uploaded, and {size} more would pass the memory cap of {MAX_PENDING_BYTES} "
            "bytes (tbwrite._sinks.remote.MAX_PENDING_BYTES), so this write was not kept; "
            "log it again once an upload succeeds (flush() tells)",
            self.path,
        ) from err

    def keep_at_start(self, records: bytes) -> None:
        """Nothing to do: this sink never starts a new file (see :class:`Sink`)."""

    def sync(self) -> Outcome:
        """Upload the current segment with what is pending; raise WriterFailedError on
        failure."""
        self._sync(force=False)
        return Outcome.NOTHING

    def close(self, flush: bool = True) -> None:
        if flush:
            self._sync(force=False)

    def _sync(self, force: bool) -> None:
        with self._upload_lock:
            if self._frozen is not None:
                body, size = self._frozen
                try:
                    self._upload(body)
                except _AbandonedUpload as err:  # still frozen: the next sync tries again
                    raise err.failure from err.failure.__cause__
                self._frozen = None
                with self._lock:
                    self._pending_bytes -= size
                self._next_segment()
                force = False
            with self._lock:
                if not self._pending and not force:
                    return
                taken = len(self._pending)
                data = b"".join(self._pending)
                self._pending[:taken] = [data] if taken else []
            if not self._segment:
                # Made once per segment: a retry after an upload that landed although the
                # client saw an error rewrites the same bytes.
                self._segment = file_version_record(time.time())
            body = self._segment + data
            try:
                late = self._upload(body)
            except _AbandonedUpload as err:
                # That call may still land after any later version of this segment: it
                # gets exactly these bytes again and is closed; what is logged since goes
                # to the next segment.
                with self._lock:
                    if taken:
                        del self._pending[0]
                self._frozen = (body, len(data))
                raise err.failure from err.failure.__cause__
            with self._lock:
                if taken:
                    del self._pending[0]
                self._pending_bytes -= len(data)
            self._segment = body
            self._segment_uploads += 1
            # A call abandoned on the way may still land: it holds these same bytes, so the
            # segment must not get a longer version it could overwrite.
            if late or len(body) >= SEGMENT_BYTES or self._segment_uploads >= SEGMENT_UPLOADS:
                self._next_segment()

    def _upload(self, body: bytes) -> bool:
        """Store ``body`` as segment ``_seq``; whether a call was left running at its
        deadline on the way. WriterFailedError (wrapped in _AbandonedUpload when a call was
        left running) on failure."""
        path = f"{self._root}/{self._prefix}.{self._seq:08d}{self._suffix}"
        abandoned: list[bool] = []
        try:
            with_retries(lambda: self._fs.pipe_file(path, body), f"uploading {path}", abandoned)
        except Exception as err:
            self.last_error = err
            where = self.url_of(self._seq)
            failure = WriterFailedError(f"uploading {where!r} failed: {err}", where)
            failure.__cause__ = err
            if abandoned:
                raise _AbandonedUpload(failure) from err
            raise failure from err
        self.uploads += 1
        self.uploaded_bytes += len(body)
        self.last_error = None
        return bool(abandoned)

    def _next_segment(self) -> None:
        self._seq += 1
        self._segment = b""
        self._segment_uploads = 0


# -- whole objects (the projector's files) ------------------------------------------------


def put_object(url: str, data: bytes) -> None:
    """Write ``data`` as the whole object ``url`` (replacing it), with the deadline and
    retries of uploads. A store's put is atomic: readers see the old or the new object."""
    fs, path = filesystem(url)
    parent = path.rsplit("/", 1)[0]
    if parent and parent != path:
        with_retries(lambda: fs.makedirs(parent, exist_ok=True), f"creating {parent!r}")
    with_retries(lambda: fs.pipe_file(path, data), f"uploading {url!r}")


def read_object(url: str) -> bytes | None:
    """The content of the object ``url``, or None when there is none."""
    fs, path = filesystem(url)

    def get() -> bytes | None:
        fs.invalidate_cache()
        try:
            data: bytes = fs.cat_file(path)
        except FileNotFoundError:
            return None
        return data

    return with_retries(get, f"reading {url!r}")


# -- reading ---------------------------------------------------------------------------


def list_runs(url: str) -> dict[str, list[str]] | None:
    """{run: [object URL, ...] in name order} under ``url``, as ``find_runs``; None when
    ``url`` is one object (then the caller reads it as the run ``"."``)."""
    fs, root = filesystem(url)
    root = root.rstrip("/")
    fs.invalidate_cache()
    base = url.rstrip("/")
    # One recursive listing (a paginated LIST on object stores), not one per directory.
    found = fs.find(root, detail=True)
    if root in found:
        return None
    if not found and not fs.exists(root):
        raise FileNotFoundError(f"no such file or directory: {url!r}")
    runs: dict[str, list[str]] = {}
    if len(_SIZES) > _MAX_SIZES:
        _SIZES.clear()
    for path, info in sorted(found.items()):
        rel = path[len(root) :].strip("/") if path.startswith(root) else path
        folder, _, name = rel.rpartition("/")
        if not is_event_file(name):
            continue
        obj = join(base, rel)
        runs.setdefault(folder or ".", []).append(obj)
        if isinstance(info, dict) and isinstance(info.get("size"), int):
            _SIZES[obj] = info["size"]
    return dict(sorted(runs.items()))


# A segment's name: its writer's part (up to the nonce), its seq, the writer's suffix.
_SEGMENT_NAME: Final = re.compile(r"^(.*?\.\d{8}\.[0-9a-f]{6})\.(\d{8})")


def finished_segments(urls: list[str]) -> set[str]:
    """The segments among ``urls`` whose writer has a later one among them: they are
    complete (a writer never writes a segment again once it has started the next)."""
    writer_of: dict[str, str] = {}
    latest: dict[str, str] = {}
    for url in urls:
        folder, _, name = url.rpartition("/")
        m = _SEGMENT_NAME.match(name)
        if m is not None:
            writer = writer_of[url] = f"{folder}/{m[1]}"
            latest[writer] = max(latest.get(writer, url), url)
    return {url for url, writer in writer_of.items() if latest[writer] != url}


# Object sizes from the latest listing: opening an object then needs no request of its own
# for its size. Objects only ever grow (an upload retried under its name is a continuation),
# so a size listed earlier reads a prefix that was complete when listed.
_SIZES: dict[str, int] = {}
_MAX_SIZES: Final = 1_000_000


def open_remote(url: str) -> Any:
    """A binary file object (with ``.size``) for a store object."""
    fs, path = filesystem(url)
    size = _SIZES.get(url)
    if size is not None:
        try:
            return fs.open(path, "rb", size=size)
        except TypeError:  # a filesystem whose files take no size
            pass
    return fs.open(path, "rb")

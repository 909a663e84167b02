"""Embeddings for TensorBoard's projector: files beside the event files, not events.

The projector plugin reads ``projector_config.pbtxt`` (protobuf text format of a
ProjectorConfig) in each run directory; each embedding in it points, relative to that
directory, at a tensors TSV, an optional metadata TSV and an optional sprite image. As
PyTorch does, one embedding goes into ``<run>/<global_step as %05d>/<tag>/`` (``tensors.tsv``,
``metadata.tsv``, ``sprite.png``; ``%``, ``/`` and ``\\`` in the tag escaped as ``%25``,
``%2f`` and ``%5c``) and is named ``<tag>:<step %05d>``.

Strategy: :func:`prepare_embedding` checks everything and renders every file to bytes
first (so a bad argument writes nothing); :func:`write_embedding` then writes the files,
each through a temporary file and ``os.replace`` (a reader never sees half a file), or on
an fsspec log dir (``s3://...``) as one object put each, and
adds the entry to the config last, re-reading the config first so that entries written by
an earlier writer of the same run (a restart) are kept. Re-logging the same tag and step
replaces that entry, as PyTorch overwrites its files.

The plugin reads the config again only when the set of runs changes, so embeddings added
while TensorBoard is running show after a restart of TensorBoard (or when a new run
appears).
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .._checks import NAME_MAX
from .._summaries.media import as_array, images_nhwc, make_grid, png_encode

__all__ = ["PROJECTOR_CONFIG_FILE", "PreparedEmbedding", "prepare_embedding", "write_embedding"]

PROJECTOR_CONFIG_FILE: Final = "projector_config.pbtxt"
TENSORS_FILE: Final = "tensors.tsv"
METADATA_FILE: Final = "metadata.tsv"
SPRITE_FILE: Final = "sprite.png"
# float32 values round-trip through 9 significant digits.
TSV_FLOAT_FORMAT: Final = "%.9g"

_config_lock = threading.Lock()


@dataclass(frozen=True)
class PreparedEmbedding:
    """Everything one embedding writes, rendered and checked."""

    subdir: str  # relative to the run directory, "/"-separated
    tensor_name: str
    shape: tuple[int, int]
    tensors_tsv: bytes
    metadata_tsv: bytes | None
    sprite_png: bytes | None
    sprite_dim: tuple[int, int] | None  # (width, height) of one image


def _tsv_cell(value: Any, where: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        raise ValueError(f"{where} must not contain tabs or line breaks, got {text!r}")
    return text


def _line(cells: list[str], where: str) -> str:
    # The projector drops blank lines of a metadata file (tabs count as blank), and then
    # finds fewer labels than points: every line must hold something visible.
    line = "\t".join(cells)
    if not line.strip():
        raise ValueError(
            f"{where} must not be empty or blank: TensorBoard's projector skips blank lines "
            f"of the metadata file and would then refuse the embedding, got {cells!r}"
        )
    return line


def _metadata_tsv(metadata: Any, n: int, header: Any) -> bytes:
    if isinstance(metadata, (str, bytes)) or not hasattr(metadata, "__len__"):
        raise TypeError(
            "metadata must be a list of labels (or of rows of labels), "
            f"got {type(metadata).__name__}"
        )
    rows = list(metadata)
    if len(rows) != n:
        raise ValueError(f"metadata must have one entry per row of mat ({n}), got {len(rows)}")
    multi = [not isinstance(r, str) and isinstance(r, (Sequence, np.ndarray)) for r in rows]
    lines = []
    if header is None:
        if any(multi):
            raise ValueError("metadata rows have several columns: name them with metadata_header")
        lines = [
            _line([_tsv_cell(r, f"metadata[{i}]")], f"metadata[{i}]") for i, r in enumerate(rows)
        ]
    else:
        if isinstance(header, str) or not isinstance(header, Sequence):
            raise TypeError(f"metadata_header must be a list of column names, got {header!r}")
        if len(header) < 2:
            raise ValueError(
                "metadata_header must name 2 or more columns: the projector reads a one-column "
                f"metadata file as labels without a header, got {list(header)!r}"
            )
        cells = [_tsv_cell(h, f"metadata_header[{i}]") for i, h in enumerate(header)]
        lines.append(_line(cells, "metadata_header"))
        for i, row in enumerate(rows):
            if not multi[i] or len(row) != len(header):
                raise ValueError(
                    f"metadata[{i}] must be a row of {len(header)} values (one per metadata_header "
                    f"column), got {row!r}"
                )
            cells = [_tsv_cell(v, f"metadata[{i}][{j}]") for j, v in enumerate(row)]
            lines.append(_line(cells, f"metadata[{i}]"))
    return ("\n".join(lines) + "\n").encode("utf-8")


# PyTorch's escaping of a tag into a directory name: only %, / and \ are escaped, as
# %25, %2f and %5c, so the files of an embedding sit where PyTorch puts them.
_SUBDIR_ESCAPES: Final = str.maketrans({"%": "%25", "/": "%2f", "\\": "%5c"})


def _subdir_name(tag: str) -> str:
    name = tag.translate(_SUBDIR_ESCAPES)
    if "\x00" in name:
        raise ValueError(f"tag must not contain NUL characters, got {tag!r}")
    if name in (".", ".."):
        raise ValueError(
            f"tag must not be {tag!r}: it names the directory of the embedding's files"
        )
    if len(name.encode("utf-8", "surrogatepass")) > NAME_MAX:
        shown = tag if len(tag) <= 40 else tag[:37] + "..."
        raise ValueError(
            f"tag {shown!r} names the directory of the embedding's files, which would be "
            f"{len(name.encode('utf-8', 'surrogatepass'))} bytes: more than the {NAME_MAX} a "
            "file system allows"
        )
    return name


def prepare_embedding(
    mat: Any, metadata: Any, label_img: Any, step: int, tag: str, metadata_header: Any
) -> PreparedEmbedding:
    """Check the arguments of ``add_embedding`` and render its files."""
    arr = as_array(mat, "mat")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"mat must be a 2-D array (one row per point), got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"mat must be finite (as float32), found {arr[~np.isfinite(arr)][0]!r}")
    n = arr.shape[0]
    rows = ["\t".join(TSV_FLOAT_FORMAT % v for v in row) for row in arr.tolist()]
    tensors_tsv = ("\n".join(rows) + "\n").encode("ascii")
    metadata_tsv = None
    if metadata is not None:
        metadata_tsv = _metadata_tsv(metadata, n, metadata_header)
    elif metadata_header is not None:
        raise ValueError("metadata_header is given but metadata is not")
    sprite_png = None
    sprite_dim = None
    if label_img is not None:
        images = images_nhwc(label_img, "NCHW", "label_img")
        if images.shape[0] != n:
            raise ValueError(
                f"label_img must have one image per row of mat ({n}), got {images.shape[0]}"
            )
        columns = int(np.ceil(np.sqrt(n)))
        sprite_png = png_encode(make_grid(images, ncols=columns, padding=0))
        sprite_dim = (images.shape[2], images.shape[1])
    subdir = f"{step:05d}/{_subdir_name(tag)}"
    return PreparedEmbedding(
        subdir=subdir,
        tensor_name=f"{tag}:{step:05d}",
        shape=(n, arr.shape[1]),
        tensors_tsv=tensors_tsv,
        metadata_tsv=metadata_tsv,
        sprite_png=sprite_png,
        sprite_dim=sprite_dim,
    )


# Files tbwrite creates are created exclusively and never through a link: a link planted
# at the temporary name cannot redirect the write.
_CREATE_FLAGS: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _write_atomic(path: str, data: bytes) -> None:
    # A fresh random name, created exclusively; os.replace then swaps it in (replacing a
    # link at ``path`` itself, never the file it points to).
    while True:
        tmp = f"{path}.tmp.{os.getpid()}.{secrets.token_hex(8)}"
        try:
            fd = os.open(tmp, _CREATE_FLAGS, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_config(path: str) -> bytes | None:
    """The bytes of the run's projector config, None when there is none. A link or anything
    but a regular file is refused unread: its content is not the run's to show."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise ValueError(f"{path} is {kind}: tbwrite neither reads nor replaces it")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as err:  # ELOOP: it became a link since the lstat
        raise ValueError(f"{path} cannot be opened as a regular file: {err.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError(f"{path} is not a regular file: tbwrite neither reads nor replaces it")
        return f.read()


def _check_inside(log_dir: str, directory: str) -> None:
    root = os.path.realpath(log_dir)
    real = os.path.realpath(directory)
    if not real.startswith(root + os.sep):
        raise ValueError(
            f"add_embedding would write outside the log dir {log_dir!r}: {directory!r} leads "
            f"to {real!r} through a link; nothing was written"
        )


def _local_put(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_atomic(path, data)


def write_embedding(log_dir: str, emb: PreparedEmbedding) -> None:
    """Write ``emb``'s files under ``log_dir`` and add it to the run's projector config.

    A local ``log_dir`` is written file by file through a temporary file created
    exclusively and a rename, never through a link, and never outside the log dir; an
    fsspec URL object by object (each put is atomic), with the remote sink's deadline and
    retries (:mod:`tbwrite._sinks.remote`). Either way the config is read, extended and written
    last, so it never names a file that is not there yet.
    """
    from google.protobuf import text_format

    from .._proto import plugins_pb2
    from .._sinks import local_dir

    put: Callable[[str, bytes], None]
    read: Callable[[str], bytes | None]
    root = local_dir(log_dir)
    parts = emb.subdir.split("/")
    if root is None:
        from .._sinks import remote

        put, read = remote.put_object, remote.read_object

        def join(*names: str) -> str:
            return remote.join(log_dir, *names)
    else:
        put, read = _local_put, _read_config
        local_root = root

        def join(*names: str) -> str:
            return os.path.join(local_root, *names)

        _check_inside(root, join(*parts))
        _read_config(join(PROJECTOR_CONFIG_FILE))  # a linked config fails before any write

    put(join(*parts, TENSORS_FILE), emb.tensors_tsv)
    info = plugins_pb2.EmbeddingInfo(
        tensor_name=emb.tensor_name,
        tensor_path=f"{emb.subdir}/{TENSORS_FILE}",
        tensor_shape=list(emb.shape),
    )
    if emb.metadata_tsv is not None:
        put(join(*parts, METADATA_FILE), emb.metadata_tsv)
        info.metadata_path = f"{emb.subdir}/{METADATA_FILE}"
    if emb.sprite_png is not None and emb.sprite_dim is not None:
        put(join(*parts, SPRITE_FILE), emb.sprite_png)
        info.sprite.image_path = f"{emb.subdir}/{SPRITE_FILE}"
        info.sprite.single_image_dim.extend(emb.sprite_dim)
    config_path = join(PROJECTOR_CONFIG_FILE)
    with _config_lock:
        config = plugins_pb2.ProjectorConfig()
        old = read(config_path)
        if old is not None:
            try:
                text_format.Parse(old.decode("utf-8"), config)
            except (text_format.ParseError, UnicodeDecodeError) as err:
                raise ValueError(
                    f"{config_path} is not a projector config that tbwrite can extend: {err}"
                ) from None
        kept = [e for e in config.embeddings if e.tensor_name != emb.tensor_name]
        del config.embeddings[:]
        config.embeddings.extend(kept)
        config.embeddings.append(info)
        put(config_path, text_format.MessageToString(config).encode("utf-8"))

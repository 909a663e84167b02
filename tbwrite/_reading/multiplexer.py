"""``EventMultiplexer``: TensorBoard's classic multi-run reader, without TensorBoard.

A drop-in for ``tensorboard.backend.event_processing.event_multiplexer.EventMultiplexer``:
one :class:`~tbwrite.EventAccumulator` per run, the same methods taking a run name first.
``AddRunsFromDirectory`` names runs as TensorBoard does: every directory under ``path``
holding an event file is a run, named by its path relative to ``path`` (``"."`` for
``path`` itself), joined under ``name`` when one is given. ``Reload`` reloads the runs on
``max_reload_threads`` threads; by default one after another (TensorBoard's classic
behaviour) for local runs, and 16 at once when a run is on a store (an fsspec URL), where
reloading is mostly waiting for the network.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .._sinks import is_remote, join
from .accumulator import DirectoryDeletedError, EventAccumulator, Unsupported
from .loaders import REMOTE_THREADS
from .records import find_runs

__all__ = ["EventMultiplexer"]


class EventMultiplexer:
    """Several runs' :class:`~tbwrite.EventAccumulator`, by run name.

    Args:
        run_path_map: ``{run name: path}`` to add at once.
        size_guidance: passed to each accumulator.
        purge_orphaned_data: passed to each accumulator.
        max_reload_threads: runs reloaded at once by :meth:`Reload` (default: 1 for local
            runs, 16 when any run is a store URL).
    """

    def __init__(
        self,
        run_path_map: dict[str, str] | None = None,
        size_guidance: dict[str, int] | None = None,
        purge_orphaned_data: bool = True,
        max_reload_threads: int | None = None,
    ) -> None:
        if max_reload_threads is not None and (
            not isinstance(max_reload_threads, int) or max_reload_threads < 1
        ):
            raise ValueError(
                f"max_reload_threads must be a positive int, got {max_reload_threads!r}"
            )
        self._mutex = threading.Lock()
        self._accumulators: dict[str, EventAccumulator] = {}
        self._paths: dict[str, str] = {}
        self._reload_called = False
        self._size_guidance = size_guidance
        self.purge_orphaned_data = purge_orphaned_data
        self._threads = max_reload_threads
        if run_path_map is not None:
            for run, path in run_path_map.items():
                self.AddRun(path, run)

    def AddRun(self, path: str, name: str | None = None) -> EventMultiplexer:  # noqa: N802
        """Add (or re-point) run ``name`` (default: ``path``); loads it at once if
        :meth:`Reload` was called before."""
        name = name or path
        acc = None
        with self._mutex:
            if name not in self._accumulators or self._paths[name] != path:
                acc = EventAccumulator(
                    path,
                    size_guidance=self._size_guidance,
                    purge_orphaned_data=self.purge_orphaned_data,
                )
                self._accumulators[name] = acc
                self._paths[name] = path
        if acc is not None and self._reload_called:
            acc.Reload()
        return self

    def AddRunsFromDirectory(  # noqa: N802
        self, path: str, name: str | None = None
    ) -> EventMultiplexer:
        """Add every directory under ``path`` holding an event file as a run. Nothing
        happens if ``path`` does not exist; ``ValueError`` if it is not a directory."""
        path = os.fspath(path)
        if is_remote(path):
            try:
                runs = find_runs(path)
            except FileNotFoundError:
                return self
            for rel in runs:
                sub = path if rel == "." else join(path, rel)
                self.AddRun(sub, name=os.path.join(name, rel) if name else rel)
            return self
        if not os.path.exists(path):
            return self
        if not os.path.isdir(path):
            raise ValueError(f"AddRunsFromDirectory: path exists and is not a directory, {path}")
        # The one local listing (links followed, each real directory once, cycles skipped).
        for rel in find_runs(path):
            sub = path if rel == "." else os.path.join(path, rel)
            self.AddRun(sub, name=os.path.join(name, rel) if name else rel)
        return self

    def Reload(self) -> EventMultiplexer:  # noqa: N802
        """Reload every run (see ``max_reload_threads``); a run whose directory was
        deleted is dropped."""
        self._reload_called = True
        with self._mutex:
            items = list(self._accumulators.items())
        gone: list[str] = []

        def one(item: tuple[str, EventAccumulator]) -> None:
            try:
                item[1].Reload()
            except DirectoryDeletedError:
                gone.append(item[0])
            except OSError:
                pass  # as TensorBoard: logged there, retried at the next Reload

        threads = self._threads
        if threads is None:
            threads = REMOTE_THREADS if any(is_remote(a.path) for _, a in items) else 1
        if threads > 1 and len(items) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(threads, len(items))) as pool:
                list(pool.map(one, items))
        else:
            for item in items:
                one(item)
        with self._mutex:
            for name in gone:
                self._accumulators.pop(name, None)
        return self

    def GetAccumulator(self, run: str) -> EventAccumulator:  # noqa: N802
        """The accumulator of ``run``; ``KeyError`` for an unknown run."""
        with self._mutex:
            return self._accumulators[run]

    def Runs(self) -> dict[str, dict[str, Any]]:  # noqa: N802
        """``{run: accumulator.Tags()}``."""
        with self._mutex:
            items = list(self._accumulators.items())
        return {run: acc.Tags() for run, acc in items}

    def RunPaths(self) -> dict[str, str]:  # noqa: N802
        """``{run: path}``."""
        return self._paths

    def PluginRunToTagToContent(self, plugin_name: str) -> dict[str, dict[str, bytes]]:  # noqa: N802
        """``{run: {tag: content}}`` of a plugin, for the runs that have it."""
        out = {}
        for run in self.Runs():
            try:
                out[run] = self.GetAccumulator(run).PluginTagToContent(plugin_name)
            except KeyError:
                continue
        return out

    def PluginAssets(self, plugin_name: str) -> dict[str, list[str]]:  # noqa: N802
        with self._mutex:
            items = list(self._accumulators.items())
        return {run: acc.PluginAssets(plugin_name) for run, acc in items}

    def RetrievePluginAsset(self, run: str, plugin_name: str, asset_name: str) -> str:  # noqa: N802
        return self.GetAccumulator(run).RetrievePluginAsset(plugin_name, asset_name)

    def FirstEventTimestamp(self, run: str) -> float:  # noqa: N802
        return self.GetAccumulator(run).FirstEventTimestamp()

    def GetSourceWriter(self, run: str) -> str | None:  # noqa: N802
        return self.GetAccumulator(run).GetSourceWriter()

    def Scalars(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).Scalars(tag)

    def Histograms(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).Histograms(tag)

    def CompressedHistograms(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).CompressedHistograms(tag)

    def Images(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).Images(tag)

    def Audio(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).Audio(tag)

    def Tensors(self, run: str, tag: str) -> list[Any]:  # noqa: N802
        return self.GetAccumulator(run).Tensors(tag)

    def SummaryMetadata(self, run: str, tag: str) -> Any:  # noqa: N802
        return self.GetAccumulator(run).SummaryMetadata(tag)

    def Graph(self, run: str) -> bytes:  # noqa: N802
        return self.GetAccumulator(run).Graph()

    def SerializedGraph(self, run: str) -> bytes:  # noqa: N802
        return self.GetAccumulator(run).SerializedGraph()

    def MetaGraph(self, run: str) -> bytes:  # noqa: N802
        return self.GetAccumulator(run).MetaGraph()

    def RunMetadata(self, run: str, tag: str) -> bytes:  # noqa: N802
        return self.GetAccumulator(run).RunMetadata(tag)

    def __getattr__(self, name: str) -> Any:
        if name[:1].isupper():
            raise Unsupported(
                f"EventMultiplexer.{name} is not supported by tbwrite; use tensorboard's "
                "EventMultiplexer for it"
            )
        raise AttributeError(name)

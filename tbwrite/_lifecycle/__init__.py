"""The life of writers in a process, from outside the call path: one layer owns it.

- :mod:`.flusher`: the one thread that keeps every writer's ``flush_secs``.
- :mod:`.hooks`: interpreter exit, a ``multiprocessing`` worker's exit, ``os.fork``; set
  up by the first writer, never at import.
- :mod:`.registry` and :mod:`.runs`: the open runs, and how they close at exit (side by
  side, within one deadline) and after a fork.
- :mod:`.sigterm`: SIGTERM ends every open run, then the process, also when the main
  thread cannot run a handler.

Writers and runs call into it (``hooks.track``, ``runs.register_run``, ``flusher.schedule``);
it calls them back only through the small protocols it declares (``Flushable``,
``OpenRun``). A run directory deleted or replaced under a writer is the local sink's to
notice (:mod:`tbwrite._sinks.local`), on the call path.
"""

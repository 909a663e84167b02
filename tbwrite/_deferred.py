"""Records whose value is still being computed on a device (a JAX array).

Strategy: reading a device array (``float(x)``) waits for the device to finish computing
it. A :class:`DeferredRecord` takes its place in an event file's buffer instead; its copy
to the host is started when it is buffered, and it is encoded when the buffer is written
(see :class:`tbwrite._eventfile.EventFileWriter`). Device arrays are known by their
methods, ``copy_to_host_async`` and ``is_ready`` (what ``jax.Array`` has): JAX is never
imported.
"""

from __future__ import annotations

from typing import Any, Callable

from ._errors import DeviceValueError

__all__ = ["DeferredRecord", "encode_ready"]


class DeferredRecord:
    """A record whose value is a device array not read yet: ``encode(float(value))`` once
    the value is on the host. ``tag`` and ``step`` name it in an error.

    The value must be checked already (:func:`tbwrite._checks.check_device_scalar`).
    :meth:`EventFileWriter.write_deferred` starts its copy to the host, so that it is there
    by the time the record is written.
    """

    __slots__ = ("encode", "error", "record", "step", "tag", "value")

    def __init__(self, value: Any, encode: Callable[[float], bytes], tag: str, step: int) -> None:
        self.value: Any = value
        self.encode = encode
        self.tag = tag
        self.step = step
        self.record: bytes | None = None  # set by resolve()
        self.error: BaseException | None = None  # or this, when the value cannot be read

    def start(self) -> None:
        """Start the value's copy to the host (without waiting for it)."""
        try:
            self.value.copy_to_host_async()
        except Exception:  # noqa: BLE001 - resolve() reports it (a deleted array, say)
            pass

    def ready(self) -> bool:
        """Whether :meth:`resolve` would not wait for the device."""
        if self.record is not None or self.error is not None:
            return True
        value = self.value
        try:
            # jaxlib crashes on is_ready() of a deleted array (float() raises instead).
            if value.is_deleted():
                return True
        except AttributeError:
            pass
        except Exception:  # noqa: BLE001 - resolve() reports it
            return True
        try:
            return bool(value.is_ready())
        except Exception:  # noqa: BLE001 - resolve() reports it
            return True

    def resolve(self) -> None:
        """Read the value (waiting for the device) and encode the record, or keep the
        error. Idempotent and safe from any thread."""
        if self.record is not None or self.error is not None:
            return
        value = self.value
        try:
            number = float(value.item() if getattr(value, "ndim", 0) else value)
            self.record = self.encode(number)
        except Exception as err:  # noqa: BLE001 - reported as the writer's error
            self.error = err
        self.value = None  # the device buffer is not needed any more

    def failure(self) -> DeviceValueError:
        """The error to report when the value could not be read."""
        err = DeviceValueError(
            f"the value logged for tag {self.tag!r} at step {self.step} could not be read "
            f"from the device, so it was not written: {self.error!r}",
            self.tag,
            self.step,
        )
        err.__cause__ = self.error
        return err


def encode_ready(buffer: list[Any], wait: bool) -> tuple[int, int, DeviceValueError | None]:
    """Encode, in place, the :class:`DeferredRecord` items of ``buffer`` (framed records
    and deferred ones) from its start, stopping at the first value not computed yet, unless
    ``wait``. A value that cannot be read leaves an empty record (``b""``).

    Returns how many items from the start are bytes now, how many deferred records were
    encoded, and the failure of the first value that could not be read.
    """
    encoded = 0
    failure = None
    for i, item in enumerate(buffer):
        if type(item) is not DeferredRecord:
            continue
        if not (wait or item.ready()):
            return i, encoded, failure
        item.resolve()
        encoded += 1
        if item.record is not None:
            buffer[i] = item.record
        else:
            buffer[i] = b""
            failure = failure or item.failure()
    return len(buffer), encoded, failure

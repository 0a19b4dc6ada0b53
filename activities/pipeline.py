"""Transfer pipeline stages: read-ahead and background consumers on their own threads.

hashlib, AES-GCM and file/socket I/O release the GIL on large buffers, so reading, hashing,
encrypting and writing overlap on separate cores; bounded queues cap the memory in flight.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.2  # how often a blocked stage looks whether the other side gave up


class Stage(Generic[T]):
    """Calls `consume(item)` on its own thread for each put() item, in order.

    put() blocks while `depth` items wait; an error in the thread is raised by the next
    put() or by finish(). abort() stops the thread without draining (items are dropped).
    While put() or finish() waits on a slow consumer, `on_wait` is called every poll: an
    activity heartbeats there, so a slow stage is not taken for a dead worker. The thread
    runs in the caller's context (an activity's consumer may heartbeat itself).
    """

    def __init__(self, consume: Callable[[T], object], depth: int = 4, name: str = "stage",
                 on_wait: Callable[[], object] = lambda: None):
        self._consume = consume
        self._on_wait = on_wait
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=contextvars.copy_context().run,
                                        args=(self._run,), name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _END or self._stop.is_set():
                return
            try:
                self._consume(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer's thread
                self._error = exc
                self._stop.set()
                return

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, item: T) -> None:
        while True:
            self._raise()
            try:
                self._q.put(item, timeout=_POLL)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._raise()
                    raise RuntimeError("pipeline stage stopped") from None
                self._on_wait()

    def finish(self) -> None:
        """Wait until every item was consumed; raise the stage's error, if any."""
        if self._thread.is_alive():
            self.put(_END)  # type: ignore[arg-type]
            while self._thread.is_alive():
                self._thread.join(timeout=_POLL)
                self._on_wait()
        self._raise()

    def abort(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a get(); drop what waits
                self._q.get_nowait()
            except queue.Empty:
                self._q.put(_END)
            self._thread.join(timeout=_POLL)


class Inline:
    """A Stage's interface, consuming on the caller's thread: for transfers too small to
    repay starting threads."""

    def __init__(self, consume: Callable[[Any], object]):
        self._consume = consume

    def put(self, item: Any) -> None:
        self._consume(item)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


def read_ahead(items: Iterable[T], depth: int = 4, name: str = "read-ahead",
               on_wait: Callable[[], object] = lambda: None) -> Generator[T, None, None]:
    """Iterate `items` on a thread, up to `depth` ahead of the consumer; errors re-raise here.

    Closing the returned generator (or abandoning it) stops the thread at its next item.
    While the consumer waits on a slow source, `on_wait` is called every poll (as Stage's).
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            offer(_Failure(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()  # release a file the consumer abandoned
        offer(_END)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), name=name,
                              daemon=True)
    thread.start()

    def consume() -> Generator[T, None, None]:
        try:
            while True:
                try:
                    item = q.get(timeout=_POLL)
                except queue.Empty:
                    on_wait()
                    continue
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            stop.set()
    return consume()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class BlockReader:
    """A file-like read(n) over an iterator of blocks (e.g. read_ahead of large reads).

    read(n) returns a zero-copy memoryview when the bytes lie within one block, so an
    envelope reader asking for a 9-byte frame header and then a 1 MiB body costs no copies.
    """

    def __init__(self, blocks: Iterator[bytes], on_close: Callable[[], object] | None = None):
        self._blocks = blocks
        self._view = memoryview(b"")
        self._on_close = on_close

    def read(self, n: int = -1) -> bytes | memoryview:
        if n < 0:
            parts = [bytes(self._view), *self._blocks]
            self._view = memoryview(b"")
            return b"".join(parts)
        while not self._view:
            block = next(self._blocks, None)
            if block is None:
                return b""
            self._view = memoryview(block)
        if len(self._view) >= n:
            out, self._view = self._view[:n], self._view[n:]
            return out
        parts = [bytes(self._view)]
        got = len(self._view)
        self._view = memoryview(b"")
        while got < n:
            block = next(self._blocks, None)
            if block is None:
                break
            view = memoryview(block)
            take = min(n - got, len(view))
            parts.append(bytes(view[:take]))
            self._view = view[take:]
            got += take
        return b"".join(parts)

    def close(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_blocks(fh: Any, size: int) -> Iterator[bytes]:
    """Blocks of `size` bytes from a binary file, closing it at the end."""
    with fh:
        while block := fh.read(size):
            yield block

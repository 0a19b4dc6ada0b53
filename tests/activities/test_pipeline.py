"""Transfer pipeline stages: order, bounded read-ahead, errors crossing threads, clean stops."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from activities.pipeline import BlockReader, Stage, read_ahead


def _wait_for(cond: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_read_ahead_keeps_order_and_stays_within_its_depth() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    it = read_ahead(source(), depth=3)
    assert next(it) == 0
    time.sleep(0.3)  # give the thread every chance to run ahead
    # One consumed, three queued, and at most one more in the producer's hands.
    assert len(produced) <= 1 + 3 + 1
    assert [0, *it] == list(range(100))


def test_read_ahead_raises_the_sources_error_in_the_consumer() -> None:
    def source() -> Iterator[bytes]:
        yield b"one"
        raise OSError("disk gone")

    it = read_ahead(source())
    assert next(it) == b"one"
    with pytest.raises(OSError, match="disk gone"):
        next(it)


def test_closing_read_ahead_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    it = read_ahead(source(), depth=2, name="test-read")
    assert next(it) == 0
    it.close()
    assert closed.wait(5)
    assert _wait_for(lambda: threading.active_count() <= before)


def test_stage_consumes_in_order_and_finish_waits_for_all() -> None:
    seen: list[int] = []
    stage: Stage[int] = Stage(seen.append, depth=2)
    for i in range(50):
        stage.put(i)
    stage.finish()
    assert seen == list(range(50))


def test_stage_error_reaches_the_producer_and_nothing_after_it_is_consumed() -> None:
    seen: list[int] = []

    def consume(i: int) -> None:
        if i == 3:
            raise ValueError("write failed")
        seen.append(i)

    stage: Stage[int] = Stage(consume, depth=1)
    with pytest.raises(ValueError, match="write failed"):
        for i in range(100):
            stage.put(i)
        stage.finish()
    assert seen == [0, 1, 2]


def test_stage_abort_drops_what_waits_and_stops() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def consume(i: int) -> None:
        gate.wait(5)
        seen.append(i)

    stage: Stage[int] = Stage(consume, depth=4, name="test-stage")
    for i in range(4):
        stage.put(i)
    gate.set()
    stage.abort()
    assert not any(t.name == "test-stage" for t in threading.enumerate())
    assert len(seen) < 4  # not drained


def test_block_reader_serves_reads_across_blocks_without_copies_inside_one() -> None:
    blocks = [b"abcdefgh", b"ij", b"klmnop"]
    r = BlockReader(iter(blocks))
    first = r.read(3)
    assert isinstance(first, memoryview) and bytes(first) == b"abc"
    assert bytes(r.read(7)) == b"defghij"  # spans two blocks
    assert bytes(r.read(100)) == b"klmnop"  # short at the end
    assert r.read(1) == b""
    assert BlockReader(iter(blocks)).read() == b"abcdefghijklmnop"


def test_a_producer_waiting_on_a_slow_stage_calls_on_wait_and_the_stage_sees_its_context(
        ) -> None:
    # A slow write (one S3 part) must let the activity heartbeat while it waits; and the
    # consumer runs in the producer's context, so activity.heartbeat() works in it too.
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    seen: list[str] = []
    waits: list[int] = []
    release = threading.Event()

    def slow(item: int) -> None:
        seen.append(var.get())
        release.wait(5)

    def on_wait() -> None:
        waits.append(1)
        release.set()  # the wait was seen: let the consumer go on

    s = Stage(slow, depth=1, name="slow", on_wait=on_wait)
    for i in range(3):
        s.put(i)  # the third waits: one item is held by the consumer, one queued
    s.finish()
    assert waits and seen == ["caller"] * 3


def test_a_consumer_waiting_on_a_slow_source_calls_on_wait() -> None:
    waits: list[int] = []

    def slow_source() -> Iterator[int]:
        time.sleep(0.7)
        yield 1

    assert list(read_ahead(slow_source(), 2, "slow", on_wait=lambda: waits.append(1))) == [1]
    assert len(waits) >= 2

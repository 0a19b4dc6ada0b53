"""Resumable transfers: the checkpoint a transfer heartbeats (a partial file and how much of
it is durable), taking over the partial an earlier attempt left, and heartbeats during
long single steps."""

from __future__ import annotations

import contextlib
import contextvars
import mmap
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from temporalio import activity

# Heartbeat by time only (BYOK_TRANSFER_CHECKPOINT_SECONDS): a per-chunk call costs a
# cross-thread hop each time. The worker's heartbeat throttle is set to the same interval, so
# a checkpoint reaches the server within about one interval.
HEARTBEAT_SECONDS = 1.0
_PARTIAL = re.compile(r"^[A-Za-z0-9._-]{1,200}\.partial$")
_ETAG = re.compile(r'^"[0-9a-f]{32}"$')  # a part's ETag: the MD5 of its bytes (SSE-S3)
_UPLOAD = re.compile(r"^[A-Za-z0-9._=+/-]{1,1024}$")
MAX_PARTS = 10000  # S3's limit per multipart upload


class SourceChanged(Exception):
    """Retryable: the resumed partial is dropped, the next attempt starts over."""


@dataclass(frozen=True)
class Checkpoint:
    """What a retry may resume from: `stored` bytes of the file `partial` (a name in the
    object's or target's folder) were fsync'd before this was heartbeaten, and hold
    `frames` whole envelope frames (backup) or frames' plaintext (restore). A backup into
    the S3 vault also names its multipart `upload`, the `parts` uploaded (number, ETag,
    size; `stored` is their sum) and the envelope `header` they start with (base64)."""

    partial: str
    frames: int
    stored: int
    upload: str = ""
    parts: tuple[tuple[int, str, int], ...] = ()
    header: str = ""

    @classmethod
    def from_heartbeat(cls, prefix: str) -> Checkpoint | None:
        """The last attempt's checkpoint, re-validated (heartbeat details cross Temporal):
        a plain file name that starts with `prefix`, and sane counts; else None."""
        details = activity.info().heartbeat_details
        if len(details) < 2 or not isinstance(details[1], dict):
            return None
        d = details[1]
        partial, frames, stored = d.get("partial"), d.get("frames"), d.get("stored")
        if not (isinstance(partial, str) and _PARTIAL.match(partial)
                and partial.startswith(prefix) and isinstance(frames, int)
                and isinstance(stored, int) and frames > 0 and stored > 0):
            return None
        upload, header = d.get("upload", ""), d.get("header", "")
        parts = _parts(d.get("parts", ()))
        if not (isinstance(upload, str) and (not upload or _UPLOAD.match(upload))
                and isinstance(header, str) and len(header) <= 1 << 16 and parts is not None):
            return None
        return cls(partial, frames, stored, upload, parts, header)


def _parts(value: Any) -> tuple[tuple[int, str, int], ...] | None:
    """A checkpoint's S3 parts, re-validated: [number, ETag, size] each; else None."""
    if not isinstance(value, list | tuple) or len(value) > MAX_PARTS:
        return None
    parts = []
    for p in value:
        if not (isinstance(p, list | tuple) and len(p) == 3 and type(p[0]) is int
                and isinstance(p[1], str) and _ETAG.match(p[1]) and type(p[2]) is int
                and p[2] > 0):
            return None
        parts.append((p[0], p[1], p[2]))
    return tuple(parts)


class Progress:
    """Plaintext bytes so far (the CLI's progress bar) and the latest checkpoint; every
    heartbeat carries both, so a progress beat never hides the checkpoint."""

    def __init__(self, interval: float = HEARTBEAT_SECONDS) -> None:
        self.done = 0
        self.interval = interval
        self.checkpoint: Checkpoint | None = None
        self.at = time.monotonic()
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        self.done += n
        self.beat()

    def beat(self, force: bool = False) -> None:
        """Also called while a stage waits on a slow read or write, so a long step (one
        slow part upload) keeps the activity alive; a hung one still ends at its timeout."""
        now = time.monotonic()
        if force or now - self.at >= self.interval:
            with self._lock:
                cp = self.checkpoint
                activity.heartbeat(self.done, asdict(cp) if cp else None)
                self.at = now

    def durable(self, checkpoint: Checkpoint) -> None:
        """Called only after the bytes it names were fsync'd."""
        self.checkpoint = checkpoint
        self.beat(force=True)

    @contextlib.contextmanager
    def during(self, step: str) -> Iterator[None]:
        """Heartbeat every interval while one long call (a KMS data key, a source listing, a
        multipart create) runs on this thread."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(max(self.interval, 0.1)):
                self.beat(force=True)
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run,),
                                  name=f"beat-{step}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class Syncer:
    """Makes a file durable every interval from its writer's thread and reports how much:
    `on_durable(bytes)` runs only after the fsync."""

    def __init__(self, fh: IO[bytes], on_durable: Callable[[int], object],
                 interval: float) -> None:
        self.fh, self.on_durable, self.interval = fh, on_durable, interval
        self.at = time.monotonic()
        self.reported = False

    def write(self, data: Any) -> None:
        self.fh.write(data)
        now = time.monotonic()
        if now - self.at >= self.interval:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.at = now
            self.on_durable(self.fh.tell())
            self.reported = True


def take_over(folder: Path, checkpoint: Checkpoint | None, fresh: Path, *,
              truncate: bool = True) -> IO[bytes] | None:
    """Move the checkpoint's partial file to this attempt's own name `fresh`, opened at its
    durable length (and cut there, unless `truncate` is False: a backup compares what it
    writes with what the earlier attempt wrote past its checkpoint); None when there is
    nothing to resume (no checkpoint, the file is gone or shorter than the checkpoint says).

    A rename, not a copy, so resuming reads nothing again; an earlier attempt still
    writing (it lost its connection but not its process) writes the same bytes at the same
    offsets (same key, same nonces, same source), and its commit fails: its file is gone."""
    if checkpoint is None:
        return None
    old = folder / checkpoint.partial
    try:
        if old.stat().st_size < checkpoint.stored:
            return None
        os.rename(old, fresh)
        sync_dir(folder)  # the checkpoint that names `fresh` must survive a crash
    except OSError:
        return None
    fh = fresh.open("r+b")
    if truncate:
        fh.truncate(checkpoint.stored)
    fh.seek(checkpoint.stored)
    return fh


def sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mapped(fh: IO[bytes], length: int) -> mmap.mmap:
    """The first `length` bytes of a file, memory-mapped: a resumed partial is re-hashed
    from the page cache, not read again through read()."""
    return mmap.mmap(fh.fileno(), length, access=mmap.ACCESS_READ)

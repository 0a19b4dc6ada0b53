"""Files inside a confined folder, reached one component at a time without following links:
what a path names is decided by the folder tree at the moment of opening, not by a string."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from byok.errors import Conflict, InvalidInput, NotFound

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def _what(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _refused(shown: str, exc: OSError, field: str) -> Exception:
    if exc.errno == errno.ENOENT:
        return NotFound(f"{shown} does not exist", field=field)
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return InvalidInput(f"{shown} passes through a symbolic link; links are never "
                            "followed", field=field)
    if exc.errno == errno.ENOTDIR:
        return InvalidInput(f"{shown} passes through something that is not a folder",
                            field=field)
    reason = errno.errorcode.get(exc.errno or 0, "error")
    return InvalidInput(f"{shown} cannot be opened ({reason})", field=field)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_dir(base: Path, parts: Sequence[str], *, shown: str, field: str,
             create: bool = False) -> int:
    """A descriptor of base/parts... (base itself is the operator's and may be a link), each
    part opened with O_NOFOLLOW; `create` makes missing parts, mode 0700."""
    if create:
        base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                raise InvalidInput(f"a folder on the way to {shown} does not exist",
                                   field=field) from None
            except OSError as exc:  # O_DIRECTORY on a link says ENOTDIR: name the link
                err = OSError(errno.ELOOP, "link") if _is_link(part, fd) else exc
                raise _refused(shown, err, field) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(base: Path, parts: Sequence[str], *, shown: str, field: str) -> BinaryIO:
    """base/parts... for reading, only if it is a regular file reached without a link; the
    file opened is checked (fstat) to be the very one examined before."""
    folder = open_dir(base, parts[:-1], shown=shown, field=field)
    try:
        name = parts[-1]
        try:
            before = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except OSError as exc:
            raise _refused(shown, exc, field) from None
        if not stat.S_ISREG(before.st_mode):  # never open a FIFO or device at all
            raise InvalidInput(f"{shown} is {_what(before.st_mode)}, not a regular file",
                               field=field)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=folder)
        except OSError as exc:
            raise _refused(shown, exc, field) from None
    finally:
        os.close(folder)
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev,
                                                                           before.st_ino):
        os.close(fd)
        raise Conflict(f"{shown} was replaced while it was opened", field=field)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class Spot:
    """A name in a confined folder (held open): written by a temporary file of mode 0600
    renamed over it, which replaces a link planted there instead of following it."""

    def __init__(self, base: Path, parts: Sequence[str], *, shown: str, field: str):
        self.name, self.shown, self.field = parts[-1], shown, field
        self.fd = open_dir(base, parts[:-1], shown=shown, field=field)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Spot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def kind(self, name: str | None = None) -> int | None:
        """The file type at the name (a link is a link), None when nothing is there."""
        try:
            return stat.S_IFMT(os.stat(name or self.name, dir_fd=self.fd,
                                       follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return None

    def check_writable(self, force: bool) -> None:
        kind = self.kind()
        if kind is None:
            return
        if not force:
            raise Conflict(f"{self.shown} already exists; pass force to replace it",
                           field=self.field)
        if kind == stat.S_IFDIR:
            raise InvalidInput(f"{self.shown} is a folder", field=self.field)

    def create(self, name: str) -> BinaryIO:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600,
                     dir_fd=self.fd)
        os.fchmod(fd, 0o600)  # whatever the umask
        return os.fdopen(fd, "wb")

    def take_over(self, old: str, fresh: str, stored: int) -> BinaryIO | None:
        """An earlier attempt's partial file `old`, renamed to this attempt's `fresh` and
        opened at its durable length `stored` (cut there); None when it is gone, not a
        regular file, or shorter than that. The rename is fsync'd: a checkpoint naming
        `fresh` must survive a crash."""
        try:
            st = os.stat(old, dir_fd=self.fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_size < stored:
                return None
            os.rename(old, fresh, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.fsync(self.fd)
            fd = os.open(fresh, os.O_RDWR | _NOFOLLOW, dir_fd=self.fd)
        except OSError:
            return None
        fh = os.fdopen(fd, "r+b")
        fh.truncate(stored)
        fh.seek(stored)
        return fh

    def names(self) -> list[str]:
        return os.listdir(self.fd)

    def unlink(self, name: str) -> None:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def replace(self, name: str) -> None:
        """Rename `name` over the spot, in one step."""
        self.check_writable(force=True)
        os.replace(name, self.name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

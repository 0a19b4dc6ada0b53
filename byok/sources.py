"""Backup sources parsed once, strictly, into a typed `Source`; file sources are confined to a
folder by their parsed parts, never by a second parse of the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from byok.errors import InvalidInput

KINDS = ("file", "s3", "dynamodb", "ebs")
MAX_LENGTH = 2048
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_SNAPSHOT = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class Source:
    """kind: file, s3, dynamodb or ebs. parts: a file's path components (below `/`); an S3
    source's bucket and prefix; a table's name; a snapshot's id."""

    kind: str
    parts: tuple[str, ...]

    @property
    def url(self) -> str:
        if self.kind == "file":
            return "file:///" + "/".join(self.parts)
        if self.kind == "s3":
            return f"s3://{self.parts[0]}/{self.parts[1]}"
        return f"{self.kind}://{self.parts[0]}"

    @property
    def path(self) -> Path:
        if self.kind != "file":
            raise InvalidInput(f"{self.kind} sources have no path", field="source")
        return Path("/", *self.parts)

    def below(self, root: Path) -> tuple[str, ...]:
        """The file's components under `root` (an absolute, resolved folder), or InvalidInput:
        the check compares parsed parts, so no spelling of the URL can step outside."""
        base = root.parts[1:]
        if self.kind != "file" or len(self.parts) <= len(base) \
                or self.parts[:len(base)] != base:
            raise InvalidInput("file sources must lie in your uploads folder", field="source")
        return self.parts[len(base):]


def _refuse(why: str, field: str = "source") -> InvalidInput:
    return InvalidInput(f"not a usable {field}: {why}", field=field)


def parse_source(text: str) -> Source:
    """`file:///PATH`, `s3://BUCKET/PREFIX`, `dynamodb://TABLE`, `ebs://SNAPSHOT`; anything
    a second parser could read differently (query, fragment, percent-encoding, `..`, a host
    on a file URL, control characters) is refused, naming the problem."""
    if not isinstance(text, str) or not text:
        raise _refuse("empty")
    if len(text) > MAX_LENGTH:
        raise _refuse(f"longer than {MAX_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _refuse("control characters")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in KINDS:
        raise _refuse(f"the scheme must be one of {', '.join(k + '://' for k in KINDS)}")
    for char, name in (("?", "a query (?)"), ("#", "a fragment (#)"),
                       ("%", "percent-encoding (%)"), ("\\", "a backslash")):
        if char in rest:
            raise _refuse(f"{name} is not allowed in a source")
    if scheme == "file":
        if not rest.startswith("/"):
            raise _refuse("a file source names no host: file:///absolute/path")
        return Source("file", path_parts(rest))
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise _refuse(f"{bucket!r} is not an S3 bucket name")
        return Source("s3", (bucket, prefix))
    pattern = _TABLE if scheme == "dynamodb" else _SNAPSHOT
    if not pattern.fullmatch(rest):
        what = "table name" if scheme == "dynamodb" else "snapshot id"
        raise _refuse(f"{rest!r} is not a {what}")
    return Source(scheme, (rest,))


def path_parts(text: str, field: str = "source") -> tuple[str, ...]:
    """An absolute path's components, refused when any is empty, `.` or `..` or the text
    holds control characters or a backslash: the parts are the path, with no resolving."""
    if not text.startswith("/") or len(text) > MAX_LENGTH:
        raise _refuse("not an absolute path", field)
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in text):
        raise _refuse("control characters or a backslash", field)
    parts = tuple(text[1:].split("/"))
    if any(p in ("", ".", "..") for p in parts):
        raise _refuse("a path has no empty, '.' or '..' components", field)
    return parts


def file_source(path: Path) -> Source:
    """The source for a file the service itself placed (an upload, a staged file)."""
    return parse_source(f"file://{path}")


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name that names nothing else: letters, digits and `._-` only (no separators),
    no leading dot, at most 100 characters; `file` when nothing is left."""
    return _UNSAFE.sub("_", name).lstrip("._")[:100] or "file"

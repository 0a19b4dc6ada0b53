"""Rotatable secret keys given as settings: `id:base64key[,id:base64key...]`, newest first."""

from __future__ import annotations

import base64
import binascii


def parse_keys(spec: str, variable: str = "", size: int = 32) -> dict[str, bytes]:
    """The first key is current; the others only open what they sealed before a rotation.
    Errors name the variable, never a key."""
    where = f"{variable}: " if variable else ""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in spec.split(",")):
        kid, sep, b64 = item.partition(":")
        if not sep or not kid:
            raise ValueError(f"{where}each entry is id:base64key")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}key {kid!r} is not base64") from None
        if len(key) != size:
            raise ValueError(f"{where}key {kid!r} must be {size} bytes, not {len(key)}")
        if kid in keys:
            raise ValueError(f"{where}key id {kid!r} appears twice")
        keys[kid] = key
    return keys


def dev_key(name: str) -> str:
    """A public, deterministic key for the embedded stack (refused in real mode)."""
    return "dev:" + base64.b64encode(f"byok-vault embedded {name} key".ljust(32)[:32]
                                     .encode()).decode()

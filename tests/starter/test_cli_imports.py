"""`byok --help` and every command's --help load no database, AWS, Temporal or web library;
`byok backups` loads the database but neither AWS nor Temporal (a behaviour, not a timer)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["boto3", "botocore", "temporalio", "sqlalchemy", "sqlmodel", "alembic", "fastapi",
         "uvicorn", "httpx", "rich.progress", "cryptography", "moto", "workflows",
         "activities", "control"]

PROBE = """
import json, os, sys
import typer.main
from starter.cli import app

def paths(cmd, prefix):
    yield prefix
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from paths(sub, [*prefix, name])

argvs = [json.loads(a) for a in sys.argv[1:]]
if argvs == [["--all-help"]]:
    argvs = [[*p, "--help"] for p in paths(typer.main.get_command(app), [])]
for argv in argvs:
    try:
        app(argv, standalone_mode=False)
    except SystemExit:
        pass
    except Exception as exc:  # a refusal (unknown tenant) still counts: what did it load?
        print(type(exc).__name__, file=sys.stderr)
print(json.dumps({"ran": argvs, "loaded": sorted(m for m in json.loads(os.environ["HEAVY"])
                                          if m in sys.modules)}))
"""


def loaded(tmp_path: Path, *argvs: list[str]) -> tuple[list[list[str]], list[str]]:
    env = {"BYOK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HEAVY": json.dumps(HEAVY)}
    out = subprocess.run([sys.executable, "-c", PROBE, *map(json.dumps, argvs)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["ran"], data["loaded"]


def test_help_loads_nothing_heavy(tmp_path: Path) -> None:
    ran, heavy = loaded(tmp_path, ["--help"])
    assert ran == [["--help"]]
    assert heavy == []


def test_every_commands_help_loads_nothing_heavy(tmp_path: Path) -> None:
    ran, heavy = loaded(tmp_path, ["--all-help"])
    commands = {" ".join(argv[:-1]) for argv in ran}
    # The walk reached the commands and the sub-apps' commands, not just the top.
    assert {"backup", "backups", "enable", "health", "tenant create", "keys revoke",
            "dev customer-deploy"} <= commands
    assert heavy == []


def test_listing_backups_loads_the_database_but_not_aws_or_temporal(tmp_path: Path) -> None:
    _, heavy = loaded(tmp_path, ["backups", "--tenant", "x"])
    assert "sqlmodel" in heavy and "control" in heavy  # it did run the use case
    assert not {"boto3", "botocore", "temporalio", "fastapi", "workflows"} & set(heavy)


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # Guards the probe itself: a command that does reach Temporal shows up as loaded.
    _, heavy = loaded(tmp_path, ["status", "--tenant", "x"], ["migrate", "--tenant", "x"])
    assert "temporalio" in heavy

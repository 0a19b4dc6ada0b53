"""checkov passes on the Terraform module, and every skip is justified in place."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.policy_forms import MODULE

# checkov pins boto3 below what the service needs, so it lives in a venv of its own
# (`make checkov-deps`); BYOK_CHECKOV names another install.
CHECKOV = Path(os.environ.get("BYOK_CHECKOV", Path(__file__).resolve().parents[2]
                              / ".venv-checkov" / "bin" / "checkov"))


def run_checkov(directory: Path) -> Any:
    if not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail(f"checkov is required in CI but {CHECKOV} is missing")
        pytest.skip("checkov is not installed (make checkov-deps)")
    proc = subprocess.run([str(CHECKOV), "-d", str(directory), "--framework", "terraform",
                           "--quiet", "--compact", "--skip-download", "-o", "json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip(), proc.stderr
    found = json.loads(proc.stdout)
    return found[0] if isinstance(found, list) else found


def test_checkov_passes_on_the_module() -> None:
    report = run_checkov(MODULE)
    summary = report["summary"]
    assert summary["resource_count"] >= 4 and summary["passed"] > 0
    failed = report["results"]["failed_checks"]
    assert summary["failed"] == 0, [(c["check_id"], c["resource"]) for c in failed]


def test_every_skip_says_why() -> None:
    for path in MODULE.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w*_\d+:\S.{10,}", line), (path.name, line)


def test_checkov_does_fail_a_weakened_module(tmp_path: Path) -> None:
    # Guards the pass above against a checkov that checks nothing.
    for path in MODULE.rglob("*"):
        target = tmp_path / path.relative_to(MODULE)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        text = path.read_text()
        if path.name == "main.tf" and path.parent == MODULE:
            text = re.sub(r"enable_key_rotation(\s*)= true", r"enable_key_rotation\1= false", text)
        target.write_text(text)
    report = run_checkov(tmp_path)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert "CKV_AWS_7" in failed  # key rotation

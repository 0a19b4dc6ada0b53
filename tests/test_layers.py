"""Imports run downward only: every import of every module (top-level or in a function) is
checked against the layer rules, and an upward or sideways one names its file, line and rule."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"starter", "web", "control", "workflows", "activities", "byok", "worker",
           "localaws", "bench", "tests"}
# What each layer may import besides itself (bench and tests may import anything).
ALLOWED: dict[str, set[str]] = {
    "starter": {"control", "byok"},
    "web": {"control", "byok"},
    "control": {"workflows", "byok"},
    "worker": {"activities", "workflows", "byok"},
    "workflows": {"byok"},
    "activities": {"byok"},
    "byok": set(),
    "localaws": set(),
    "bench": PROJECT,
    "tests": PROJECT,
}
# localaws is a dev tool: of the product, only these dev commands may use it.
DEV_COMMANDS = {"starter/dev.py", "starter/customer.py", "starter/legacy.py",
                "starter/health_seed.py", "starter/demo.py", "starter/up.py"}
PASSED_THROUGH = "imports_passed_through"


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    target: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.target}: {self.rule}"


def _layer(rel: str) -> str:
    first = rel.split("/", 1)[0]
    return first.removesuffix(".py")


def _targets(node: ast.Import | ast.ImportFrom, rel: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against the importing module's package
        package = rel.removesuffix(".py").split("/")[:-node.level]
        base = ".".join([*package, node.module] if node.module else package)
        return [base]
    return [node.module or ""]


def _passed_through(tree: ast.AST) -> set[int]:
    """Ids of imports inside `with workflow.unsafe.imports_passed_through():`."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith) and any(
                PASSED_THROUGH in ast.unparse(item.context_expr) for item in node.items):
            inside.update(id(sub) for sub in ast.walk(node))
    return inside


def check(rel: str, source: str) -> list[Violation]:
    """The violations of one module, `rel` being its path from the repository root."""
    tree = ast.parse(source, filename=rel)
    layer = _layer(rel)
    allowed = ALLOWED.get(layer, set())
    passed = _passed_through(tree)
    found: list[Violation] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in _targets(node, rel):
            top = target.split(".", 1)[0]
            if top not in PROJECT or top == layer or top in allowed:
                continue
            if top == "localaws" and rel in DEV_COMMANDS:
                continue
            if layer == "workflows" and top == "activities" and id(node) in passed:
                continue  # by-reference activity calls, outside the sandbox
            rule = (f"{layer} may import only {', '.join(sorted(allowed)) or 'itself'}"
                    + (" (activities only under imports_passed_through)"
                       if layer == "workflows" else ""))
            found.append(Violation(rel, node.lineno, target, rule))
    return found


def modules() -> list[Path]:
    skip = {".venv", "build", ".byok", "node_modules", ".git"}
    return sorted(p for p in ROOT.rglob("*.py")
                  if not skip & set(p.relative_to(ROOT).parts)
                  and not any(part.endswith(".egg-info") for part in p.parts)
                  and _layer(p.relative_to(ROOT).as_posix()) in PROJECT)


def test_every_import_runs_downward() -> None:
    paths = modules()
    layers = {_layer(p.relative_to(ROOT).as_posix()) for p in paths}
    assert layers >= PROJECT, f"layers not found: {PROJECT - layers}"
    violations = [v for p in paths
                  for v in check(p.relative_to(ROOT).as_posix(), p.read_text())]
    assert not violations, "upward or sideways imports:\n" + "\n".join(map(str, violations))


def test_the_check_names_file_line_and_rule() -> None:
    source = ("import os\n"
              "from byok import crud\n"
              "def f():\n"
              "    from starter.context import console\n")
    [v] = check("activities/x.py", source)
    assert (v.path, v.line, v.target) == ("activities/x.py", 4, "starter.context")
    assert "activities may import only byok" in str(v)


def test_sideways_upward_and_dev_tool_imports_are_refused() -> None:
    assert [v.target for v in check("web/x.py", "from starter import cli\n")] == ["starter"]
    assert [v.target for v in check("control/x.py", "import web.app\n")] == ["web.app"]
    assert [v.target for v in check("byok/x.py", "from control import wallet\n")] == [
        "control"]
    assert check("worker.py", "from control.service import x\n")
    assert check("control/x.py", "from localaws import LocalAws\n")
    assert not check("starter/dev.py", "from localaws import LocalAws\n")
    assert check("starter/cli.py", "from localaws import LocalAws\n")


def test_workflows_reach_activities_only_through_the_sandbox_passage() -> None:
    inside = ("from temporalio import workflow\n"
              "with workflow.unsafe.imports_passed_through():\n"
              "    from activities.kms import KmsActivities\n")
    assert not check("workflows/x.py", inside)
    [v] = check("workflows/x.py", "from activities.kms import KmsActivities\n")
    assert "imports_passed_through" in v.rule


def test_relative_imports_resolve_to_their_package() -> None:
    assert not check("localaws/server.py", "from .control import LocalAwsControl\n")
    [v] = check("localaws/x.py", "from ..byok import errors\n")
    assert v.target == "byok"

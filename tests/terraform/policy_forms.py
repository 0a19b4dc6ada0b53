"""Both sides of the Terraform/CloudFormation comparison reduced to one canonical form:
IAM statements with symbols ({account}, {key_id}, ...) where the two write expressions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "byok-vault"

# What each side writes for the same value.
TF_SYMBOLS = {"local.partition": "{partition}", "local.account_id": "{account}",
              "local.region": "{region}", "local.key_id": "{key_id}",
              "var.external_id": "{external_id}", "var.service_role_arn": "{service_role}",
              "data.aws_partition.current.partition": "{partition}",
              "data.aws_caller_identity.current.account_id": "{account}"}
CFN_SYMBOLS = {"AWS::Partition": "{partition}", "AWS::AccountId": "{account}",
               "AWS::Region": "{region}"}

Statement = tuple[Any, ...]


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted ('"kms:*"')."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tf_text(value: Any) -> str:
    text = unquote(value)
    for expr, sym in TF_SYMBOLS.items():
        text = text.replace("${" + expr + "}", sym)
    if "${" in text:
        raise AssertionError(f"unmapped Terraform expression in {value!r}")
    return text


def load_module(directory: Path = MODULE) -> dict[str, Any]:
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as fh:
            for kind, blocks in hcl2.load(fh).items():
                merged.setdefault(kind, []).extend(blocks if isinstance(blocks, list)
                                                   else [blocks])
    return merged


def blocks(module: dict[str, Any], kind: str, type_name: str | None = None) -> dict[str, Any]:
    """{name: body} of `resource "type" "name"` / `data "type" "name"` / `variable "name"`."""
    out: dict[str, Any] = {}
    for block in module.get(kind, []):
        for key, body in block.items():
            if type_name is None:
                out[unquote(key)] = body
            elif unquote(key) == type_name:
                out.update({unquote(k): v for k, v in body.items()})
    return out


SERVICE_REPLICATES = "${local.service_replicates ? [1] : []}"


def tf_statement_blocks(document: dict[str, Any], replicas: str) -> list[dict[str, Any]]:
    """The statements a document holds for replica_management = `replicas`: its static
    blocks and the dynamic ones whose for_each the module guards by that choice."""
    out = list(document.get("statement", []))
    for dyn in document.get("dynamic", []):
        (kind, body), = dyn.items()
        if unquote(kind) != "statement":
            raise AssertionError(f"unexpected dynamic block {kind!r}")
        if unquote(body["for_each"]) != SERVICE_REPLICATES:
            raise AssertionError(f"unmapped dynamic statement guard {body['for_each']!r}")
        if replicas == "service":
            out += body["content"]
    return out


def tf_statements(document: dict[str, Any], replicas: str = "service") -> set[Statement]:
    out = set()
    for st in tf_statement_blocks(document, replicas):
        principals = frozenset((unquote(p["type"]), tf_text(i))
                               for p in st.get("principals", []) for i in p["identifiers"])
        conditions = frozenset((unquote(c["test"]), unquote(c["variable"]),
                                frozenset(tf_text(v) for v in c["values"]))
                               for c in st.get("condition", []))
        out.add((unquote(st.get("sid", '""')), unquote(st.get("effect", '"Allow"')),
                 frozenset(tf_text(a) for a in st["actions"]),
                 frozenset(tf_text(r) for r in st.get("resources", [])), principals, conditions))
    return out


def cfn_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    (fn, arg), = value.items()
    if fn == "Ref":
        return {"ExternalId": "{external_id}"}.get(arg) or CFN_SYMBOLS[arg]
    if fn == "Fn::FindInMap" and arg == ["Service", "Role", "Arn"]:
        return "{service_role}"
    if fn == "Fn::If" and arg[0] == "CreateKey" and arg[1] == {"Ref": "MultiRegionKey"}:
        return "{key_id}"  # the created key, or the mrk- id of the one given
    if fn == "Fn::Sub":
        template, names = (arg, {}) if isinstance(arg, str) else arg
        values = {**CFN_SYMBOLS, **{k: cfn_value(v) for k, v in names.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], template)
    raise AssertionError(f"unmapped CloudFormation expression {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def cfn_statement_list(document: dict[str, Any], replicas: str) -> list[dict[str, Any]]:
    """The statements for ReplicaManagement = `replicas` (Fn::If on ServiceReplicates)."""
    out = []
    for st in document["Statement"]:
        if "Fn::If" in st:
            cond, yes, no = st["Fn::If"]
            if cond != "ServiceReplicates":
                raise AssertionError(f"unmapped statement condition {cond!r}")
            st = yes if replicas == "service" else no
        if st != {"Ref": "AWS::NoValue"}:
            out.append(st)
    return out


def cfn_statements(document: dict[str, Any], replicas: str = "service") -> set[Statement]:
    out = set()
    for st in cfn_statement_list(document, replicas):
        principals = frozenset(("AWS", cfn_value(p))
                               for p in as_list(st.get("Principal", {}).get("AWS", [])))
        conditions = frozenset((op, key, frozenset(cfn_value(v) for v in as_list(vals)))
                               for op, body in st.get("Condition", {}).items()
                               for key, vals in body.items())
        out.add((st.get("Sid", ""), st["Effect"],
                 frozenset(cfn_value(a) for a in as_list(st["Action"])),
                 frozenset(cfn_value(r) for r in as_list(st.get("Resource", []))),
                 principals, conditions))
    return out


def validation(variable: dict[str, Any], name: str) -> tuple[str | None, int | None, int | None]:
    """(regex, min length, max length) that a variable's validation blocks enforce."""
    pattern = lo = hi = None
    for v in variable.get("validation", []):
        cond = v["condition"].replace('\\"', '"')
        found = re.search(r'regex\("(.*?)", var\.' + name + r"\)", cond)
        pattern = found.group(1) if found else pattern
        for op, n in re.findall(r"length\(var\." + name + r"\) (>=|<=|==) (\d+)", cond):
            if op in (">=", "=="):
                lo = int(n)
            if op in ("<=", "=="):
                hi = int(n)
    return pattern, lo, hi


def render(statements: set[Statement], values: dict[str, str]) -> dict[str, Any]:
    """A canonical policy back as the JSON document AWS receives, symbols filled in (what
    the module's aws_iam_policy_document would produce for these values)."""
    def fill(text: str) -> str:
        for sym, val in values.items():
            text = text.replace("{" + sym + "}", val)
        if re.search(r"\{[a-z_]+\}", text):
            raise AssertionError(f"no value for a symbol in {text!r}")
        return text

    out = []
    for sid, effect, actions, resources, principals, conditions in sorted(statements, key=str):
        st: dict[str, Any] = {"Effect": effect, "Action": sorted(fill(a) for a in actions)}
        if sid:
            st["Sid"] = sid
        if resources:
            st["Resource"] = sorted(fill(r) for r in resources)
        for kind, ident in principals:
            st.setdefault("Principal", {}).setdefault(kind, []).append(fill(ident))
        for op, key, vals in conditions:
            st.setdefault("Condition", {}).setdefault(op, {})[key] = sorted(fill(v)
                                                                            for v in vals)
        out.append(st)
    return {"Version": "2012-10-17", "Statement": out}

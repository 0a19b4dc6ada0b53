"""cfn-lint finds nothing in either rendered template, informational checks included."""

import subprocess
import sys
from pathlib import Path

import pytest

from byok import cfn

SERVICE_ROLE = "arn:aws:iam::444455556666:role/ByokVaultService"
TOPIC = "arn:aws:sns:eu-west-1:444455556666:byok-vault-stack-callbacks"
# The venv's own cfn-lint, whichever interpreter runs the tests.
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.mark.parametrize("version", cfn.TEMPLATE_VERSIONS)
def test_rendered_template_is_cfn_lint_clean(version, tmp_path):
    path = tmp_path / f"byok-v{version}.yaml"
    path.write_text(cfn.render_template(version, SERVICE_ROLE, TOPIC))
    proc = subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@pytest.mark.parametrize("version", cfn.TEMPLATE_VERSIONS)
def test_no_lint_rule_is_suppressed(version):
    # A suppression would have to be justified in the template; there is none today.
    doc = cfn.load_template(version)
    assert "cfn-lint" not in doc.get("Metadata", {})
    for res in doc["Resources"].values():
        assert "cfn-lint" not in res.get("Metadata", {})


def test_cfn_lint_does_report_a_broken_template(tmp_path):
    # Guards the test above against a cfn-lint that silently checks nothing.
    text = cfn.render_template(2, SERVICE_ROLE, TOPIC).replace("EnableKeyRotation: true",
                                                               "EnableKeyRotation: maybe")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    proc = subprocess.run([str(CFN_LINT), "--", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "E3012" in proc.stdout

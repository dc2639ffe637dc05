"""The `probegate` command line in a subprocess: exit codes, stdout and stderr as a user sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gateway.yaml"

pytestmark = pytest.mark.e2e


def probegate(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "probegate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, **env} if env else None,
    )


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


THREE_MISTAKES = """\
    httpListeners:
      - name: front
        port: 8080
        protocol: Http
    backendAddressPools:
      - name: web
        backendAddresses: [{ipAddress: 127.0.0.11}]
    backendHttpSettingsCollection:
      - name: web-http
        port: 8081
        protocol: Http
        probe: health
    probes:
      - name: health
        protocol: Http
        host: web.example.test
        unhealthyThreshold: 25
        intervall: 10
    requestRoutingRules:
      - name: all
        ruleType: Basic
        httpListener: front
        backendAddressPool: webb
        backendHttpSettings: web-http
"""


def test_validate_example_is_valid() -> None:
    result = probegate("validate", "-c", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "valid (4 probe targets)" in result.stdout


def test_validate_lists_all_three_mistakes(tmp_path: Path) -> None:
    result = probegate("validate", "-c", write(tmp_path, THREE_MISTAKES))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    path = tmp_path / "gateway.yaml"
    assert lines[0].endswith("gateway.yaml: 3 problems")
    assert lines[1:] == [  # each with its place in the file, for an editor to jump to
        f"  {path}:17:5: probes[0].unhealthyThreshold: must be between 0 and 20, got 25",
        f"  {path}:18:5: probes[0].intervall: unknown key; did you mean 'interval'?",
        f"  {path}:23:5: requestRoutingRules[0].backendAddressPool: no item of "
        "'backendAddressPools' is named 'webb'; did you mean 'web'?",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "probes:\n  - name: a\n    protocol: [Http\n",
            "invalid YAML at line 4, column 1",
            id="yaml-syntax",
        ),
        pytest.param(
            "sku: Standard_v2\nprobes: []\nsku: Standard\n",
            "invalid YAML at line 3, column 1: duplicate key 'sku' (first given on line 1)",
            id="yaml-duplicate-key",
        ),
        pytest.param(
            '{"sku": "Standard_v2", "sku": "Standard"}',
            "invalid JSON: duplicate key 'sku'",
            id="json-duplicate-key",
        ),
        pytest.param('{"sku": }', "invalid JSON at line 1, column 9", id="json-syntax"),
        pytest.param(
            '{"sku": "Standard_v2",\n}',
            "invalid JSON at line 2, column 1: a key in double quotes is expected here (a comma "
            "before '}', or a key in single quotes?)",
            id="json-trailing-comma",
        ),
        pytest.param(
            '["a",]',
            "invalid JSON at line 1, column 6: a value is missing here (a comma before '}' or "
            "']', or a word not in quotes?)",
            id="json-trailing-comma-in-list",
        ),
        pytest.param(
            "probes:\n  - name: a\n    protocol: Http\n   host: x\n",
            "invalid YAML at line 4, column 4: this line is indented differently from the lines "
            "it belongs with",
            id="yaml-block-end",
        ),
        pytest.param(
            "probes:\n  - name: a\n\thost: x\n",
            "a tab character: YAML indents with spaces only",
            id="yaml-tab",
        ),
        pytest.param(
            "version: '3'\nservices:\n  web: {image: nginx}\nvolumes: {}\n",
            "this is not a probegate configuration: none of its top-level keys (version, "
            "services, volumes) is one it has",
            id="not-a-configuration",
        ),
        pytest.param(
            "just some notes\nabout the gateway\n",
            "the top level must be a mapping of collections, got plain text",
            id="plain-text",
        ),
        pytest.param(
            "", "the top level must be a mapping of collections, got an empty file", id="empty"
        ),
    ],
)
def test_unreadable_documents_say_where(tmp_path: Path, text: str, message: str) -> None:
    result = probegate("validate", "-c", write(tmp_path, text))
    assert result.returncode == 1
    assert message in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert probegate().returncode == 2
    assert probegate("validate").returncode == 2
    missing = probegate("validate", "-c", tmp_path / "nope.yaml")
    assert missing.returncode == 2
    assert "no such configuration file" in missing.stderr
    folder = probegate("validate", "-c", tmp_path)
    assert folder.returncode == 2
    assert f"{tmp_path} is a folder, not a configuration file" in folder.stderr


def test_parser_jargon_is_not_shown(tmp_path: Path) -> None:
    result = probegate(
        "validate", "-c", write(tmp_path, "probes:\n  - name: a\n    x: 1\n   y: 2\n")
    )
    assert result.returncode == 1
    assert "<block" not in result.stderr
    assert "expected" not in result.stderr


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_windows_encodings_with_a_byte_order_mark_are_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(textwrap.dedent(THREE_MISTAKES), encoding=encoding)
    result = probegate("validate", "-c", path)
    assert result.returncode == 1
    assert f"{path}:18:5: probes[0].intervall: unknown key" in result.stderr  # read, and placed
    template = tmp_path / "template.json"
    template.write_text((ARM / "template.json").read_text(encoding="utf-8"), encoding=encoding)
    imported = probegate("import-arm", template, "--parameters", ARM / "template.parameters.json")
    assert imported.returncode == 0, imported.stderr


def test_binary_and_undecodable_files_are_one_sentence(tmp_path: Path) -> None:
    binary = tmp_path / "gateway.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("sku: Standard_v2\n# caf\xe9\n".encode("latin-1"))
    for path, message in (
        (binary, "the file is not text (it holds NUL bytes)"),
        (latin, "the file is not UTF-8 text (byte 23 cannot be decoded)"),
    ):
        result = probegate("validate", "-c", path)
        assert result.returncode == 1
        lines = result.stderr.splitlines()  # one sentence, not the file's bytes
        assert lines[0] == f"{path}: 1 problem"
        assert len(lines) == 2
        assert lines[1].startswith(f"  {message}; ")
        assert "Traceback" not in result.stderr


def test_validate_refuses_a_file_that_serves_nothing(tmp_path: Path) -> None:
    probes_only = write(tmp_path, "backendAddressPools: [{name: web, backendAddresses: []}]\n")
    result = probegate("validate", "-c", probes_only)
    assert result.returncode == 1
    assert (
        "valid, but it serves nothing: it has no httpListeners and no requestRoutingRules"
        in result.stderr
    )
    no_rule = write(tmp_path, "httpListeners: [{name: front, port: 8080, protocol: Http}]\n")
    result = probegate("validate", "-c", no_rule)
    assert result.returncode == 1
    assert "it has no requestRoutingRules (" in result.stderr


def test_json_and_powershell_together_are_a_usage_error() -> None:
    result = probegate("backend-health", "--json", "--output", "powershell")
    assert result.returncode == 2
    assert "--json and --output powershell ask for two formats: give one" in result.stderr


def test_probe_and_diagnose_suggest_the_closest_names() -> None:
    probe = probegate("probe", "-c", EXAMPLE, "--pool", "web", "--settings", "web-htp")
    assert probe.returncode == 2
    assert (
        "--settings: no backend HTTP settings item is named 'web-htp'; did you mean "
        "'web-http'? (defined: web-http, api-https)" in probe.stderr
    )
    diagnose = probegate("diagnose", "-c", EXAMPLE, "--pool", "WEB")
    assert diagnose.returncode == 2
    assert "--pool: no backend address pool is named 'WEB'; did you mean 'web'?" in diagnose.stderr


@pytest.mark.parametrize(
    ("output", "message"),
    [
        pytest.param(
            "missing/gateway.yaml", "does not exist; create it first", id="missing-folder"
        ),
        pytest.param(".", "is a folder; give a file name", id="folder"),
    ],
)
def test_import_arm_output_problems_are_usage_errors(
    tmp_path: Path, output: str, message: str
) -> None:
    result = probegate("import-arm", ARM / "template.json", "--parameters", ARM / "template.parameters.json", "-o", tmp_path / output)  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_import_arm_into_an_unwritable_file_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "gateway.yaml"
    out.write_text("", encoding="utf-8")
    out.chmod(0o400)
    if os.access(out, os.W_OK):  # root writes anything: a path under a file cannot be written
        out = tmp_path / "gateway.yaml" / "inner.yaml"
    result = probegate("import-arm", ARM / "template.json", "--parameters", ARM / "template.parameters.json", "-o", out)  # fmt: skip
    assert result.returncode == 2
    assert "-o: " in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_prints_every_target_of_the_example() -> None:
    result = probegate("explain", "-c", EXAMPLE)
    assert result.returncode == 0, result.stderr
    for title in (
        "pool 'web' · settings 'web-http' · server 127.0.0.11:8081 · default probe",
        "pool 'web' · settings 'web-http' · server 127.0.0.12:8081 · default probe",
        "pool 'api' · settings 'api-https' · server api-1.example.test:8443 · probe 'api-health'",
        "pool 'api' · settings 'api-https' · server 127.0.0.21:9443 · probe 'api-health'",
    ):
        assert title in result.stdout
    assert "GET https://api-1.example.test:8443/healthz" in result.stdout


def test_explain_json_is_data() -> None:
    result = probegate("explain", "-c", EXAMPLE, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sku"] == "Standard_v2"
    assert [t["server"] for t in data["targets"]] == [
        "127.0.0.11:8081",
        "127.0.0.12:8081",
        "api-1.example.test:8443",
        "127.0.0.21:9443",
    ]
    api = data["targets"][2]
    assert api["host"]["value"] == "api.example.test"
    assert api["sni"]["value"] == "api.example.test"
    assert api["verifyName"]["value"] == "api.example.test"
    assert api["tls"] == {"value": "trusted-roots", "rule": "v2: chain must end in example-root"}
    assert api["match"]["value"] == {"statusCodes": ["200-299"], "body": '"status":"ok"'}
    assert api["port"]["value"] == 8443
    assert data["targets"][3]["port"]["rule"] == "the member's own port (probegate extension)"


ARM = ROOT / "tests" / "fixtures" / "arm"


def test_explain_prints_every_target_of_the_arm_template() -> None:
    result = probegate(
        "explain",
        "-c",
        ARM / "template.json",
        "--parameters",
        ARM / "template.parameters.json",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    servers = [
        (t["backendAddressPool"], t["backendHttpSettings"], t["server"])
        for t in json.loads(result.stdout)["targets"]
    ]
    assert servers == [
        ("pool-web", "settings-web", "127.0.0.11:8080"),
        ("pool-web", "settings-web", "127.0.0.12:8080"),
        ("pool-api", "settings-api", "api-backend.shop.test:443"),
    ]
    assert (
        "warning: left out, as they cannot apply to a self-hosted gateway: 2 other resources "
        "(Microsoft.Network/virtualNetworks, Microsoft.Network/publicIPAddresses)" in result.stderr
    )
    assert "not converted, so probegate behaves differently: resources[2].properties.enableHttp2: true" in result.stderr  # fmt: skip
    assert "gatewayIPConfigurations" in result.stderr  # counted in the summary line


def test_import_arm_writes_yaml_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "gateway.yaml"
    result = probegate(
        "import-arm",
        ARM / "template.json",
        "--parameters",
        ARM / "template.parameters.json",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "ignored: resources[1]: Microsoft.Network/publicIPAddresses" not in result.stderr
    assert len(result.stderr.splitlines()) <= 8  # a few prominent lines and one summary
    assert out.stat().st_mode & 0o077 == 0  # it may hold secrets: its owner's only
    text = out.read_text(encoding="utf-8")
    assert "password: ${env:PROBEGATE_SHOP_TLS_PASSWORD}" in text  # the securestring stays out
    assert "set PROBEGATE_SHOP_TLS_PASSWORD to the value of parameter 'sslCertificatePassword'" in result.stderr  # fmt: skip
    listed = probegate("import-arm", ARM / "template.json", "--parameters", ARM / "template.parameters.json", "--show-ignored")  # fmt: skip
    assert "ignored: resources[1]: Microsoft.Network/publicIPAddresses" in listed.stderr
    assert text.startswith("# probegate configuration imported from template.json")
    assert "sku: Standard_v2" in text
    unset = probegate("validate", "-c", out)
    assert unset.returncode == 1
    assert "sslCertificates[0].password: names the environment variable PROBEGATE_SHOP_TLS_PASSWORD, which is not set" in unset.stderr  # fmt: skip
    password = json.loads((ARM / "template.parameters.json").read_text(encoding="utf-8"))["parameters"]["sslCertificatePassword"]["value"]  # fmt: skip
    validated = probegate("validate", "-c", out, env={"PROBEGATE_SHOP_TLS_PASSWORD": password})
    assert validated.returncode == 0, validated.stderr
    assert "valid (3 probe targets)" in validated.stdout


def test_import_arm_reports_what_still_needs_a_hand() -> None:
    result = probegate("import-arm", ARM / "cli-gateway.json")
    assert result.returncode == 1
    assert "backendAddressPools:" in result.stdout  # the YAML is written all the same
    assert "the imported configuration needs attention" in result.stderr
    assert "sslCertificates[0]" in result.stderr


def test_import_arm_needs_a_parameter_without_default(tmp_path: Path) -> None:
    result = probegate("import-arm", ARM / "template.json")
    assert result.returncode == 1
    assert "sslCertificateData" in result.stderr
    assert probegate("import-arm", tmp_path / "missing.json").returncode == 2


def test_import_arm_problems_name_the_template_line_and_parameter(tmp_path: Path) -> None:
    template = tmp_path / "template.json"
    template.write_text(
        """{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  // comments are allowed in templates
  "parameters": {"threshold": {"type": "int"}, "location": {"type": "string"}},
  "resources": [{
    "type": "Microsoft.Network/applicationGateways",
    "location": "[parameters('location')]",
    "properties": {
      "probes": [{"name": "p", "properties": {"protocol": "Http", "host": "a.example",
                  "unhealthyThreshold": "[parameters('threshold')]"}}]
    }
  }]
}
""",
        encoding="utf-8",
    )
    result = probegate("validate", "-c", template, "--param", "threshold=25")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"  {template}:10:19: resources[0].properties.probes[0].properties.unhealthyThreshold: "
        "must be between 0 and 20, got 25 (from parameter 'threshold'; probegate's "
        "probes[0].unhealthyThreshold)"
    )  # location has no value, but only an ignored field reads it: not asked for
    assert "location" not in result.stderr.split("problem")[-1]


def test_explain_says_a_pool_is_empty_rather_than_that_nothing_is_bound(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """\
        httpListeners: [{name: front, port: 8080, protocol: Http}]
        backendAddressPools: [{name: vms, backendAddresses: []}]
        backendHttpSettingsCollection: [{name: s, port: 80, protocol: Http}]
        requestRoutingRules:
          - {name: r, ruleType: Basic, httpListener: front, backendAddressPool: vms, backendHttpSettings: s}
        """,
    )
    explained = probegate("explain", "-c", config)
    assert "the rules send traffic to 'vms', which has no servers" in explained.stdout
    assert "No routing rule binds" not in explained.stdout
    validated = probegate("validate", "-c", config)
    assert "backendAddressPools[0]: pool 'vms' has no servers" in validated.stderr


def test_a_parameters_file_problem_names_the_file_and_its_line(tmp_path: Path) -> None:
    parameters = tmp_path / "p.json"
    parameters.write_text('{"parameters": {\n  "a": {"nope": 1}}}', encoding="utf-16")
    result = probegate("validate", "-c", ARM / "template.json", "--parameters", parameters)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{parameters}: 1 problem",
        f"  {parameters}:2:3: parameters.a: parameter 'a' needs a value, written as "
        '{"value": ...}',
    ]
    folder = probegate("validate", "-c", ARM / "template.json", "--parameters", tmp_path)
    assert folder.returncode == 2
    assert "is a folder, not a parameters file" in folder.stderr

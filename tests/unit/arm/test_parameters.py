"""ARM import: parameters coerced by their declared type, defaults, and parameters files."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.config.arm import convert_arm, load_parameters_file
from probegate.errors import ConfigError, ConfigIssue
from tests.unit.arm.templates import (
    PFX_DATA,
    fixture,
    issues_of,
    probe_template,
    template,
)

TYPED_PARAMETERS: dict[str, Any] = {
    "backendPort": {"type": "int"},
    "pickHost": {"type": "bool"},
    "codes": {"type": "array"},
    "probeSettings": {"type": "object"},
    "protocol": {"type": "string", "defaultValue": "Http", "allowedValues": ["Http", "Https"]},
}


def typed_template() -> dict[str, Any]:
    settings = {
        "port": "[parameters('backendPort')]",
        "protocol": "[parameters('protocol')]",
        "pickHostNameFromBackendAddress": "[parameters('pickHost')]",
    }
    probe = {
        "protocol": "[parameters('protocol')]",
        "path": "[parameters('probeSettings').path]",
        "match": {"statusCodes": "[parameters('codes')]"},
    }
    return template(
        {
            "backendHttpSettingsCollection": [{"name": "s", "properties": settings}],
            "probes": [{"name": "p", "properties": probe}],
        },
        parameters=TYPED_PARAMETERS,
    )


# fmt: off
COERCIBLE_VALUES = [
    pytest.param({"backendPort": "9090", "pickHost": "TRUE", "codes": '["200-204", "301"]',
                  "probeSettings": '{"path": "/ready"}'}, id="strings-from-the-command-line"),
    pytest.param({"backendPort": 9090, "pickHost": True, "codes": ["200-204", "301"],
                  "probeSettings": {"path": "/ready"}}, id="typed-from-a-parameters-file"),
    pytest.param({"BACKENDPORT": " 9090 ", "PickHost": "true", "Codes": '["200-204","301"]',
                  "probesettings": '{"path":"/ready"}'}, id="names-in-any-case"),
]
# fmt: on


@pytest.mark.parametrize("given", COERCIBLE_VALUES)
def test_parameters_are_coerced_by_declared_type(given: dict[str, object]) -> None:
    result = convert_arm(typed_template(), given)
    assert result.config == {
        "backendHttpSettingsCollection": [
            {"name": "s", "port": 9090, "protocol": "Http", "pickHostNameFromBackendAddress": True}
        ],
        "probes": [
            {
                "name": "p",
                "protocol": "Http",
                "path": "/ready",
                "match": {"statusCodes": ["200-204", "301"]},
            }
        ],
    }


GOOD = {"backendPort": "80", "pickHost": "false", "codes": "[]", "probeSettings": '{"path": "/"}'}


# fmt: off
BAD_VALUES = [
    pytest.param({"backendPort": "80x"}, ConfigIssue(
        "parameters.backendPort",
        "parameter 'backendPort': expects a whole number (type int), got \"80x\""),
        id="int"),
    pytest.param({"pickHost": "yes"}, ConfigIssue(
        "parameters.pickHost", "parameter 'pickHost': expects true or false (type bool), "
        "got \"yes\""), id="bool"),
    pytest.param({"codes": "[200,"}, ConfigIssue(
        "parameters.codes", "parameter 'codes': expects JSON (array), which \"[200,\" is not: "
        "Expecting value"), id="array-json"),
    pytest.param({"probeSettings": "[1]"}, ConfigIssue(
        "parameters.probeSettings",
        "parameter 'probeSettings': expects an object (type object), got an array"),
        id="object-of-wrong-shape"),
    pytest.param({"protocol": "Tcp"}, ConfigIssue(
        "parameters.protocol",
        "parameter 'protocol': \"Tcp\" is not one of the allowedValues: \"Http\", \"Https\""),
        id="allowed-values"),
    pytest.param({"backendPort": None}, ConfigIssue(
        "parameters.backendPort",
        "parameter 'backendPort': expects a whole number (type int), got null"),
        id="null"),
    pytest.param({"region": "westeurope"}, ConfigIssue(
        "parameters", "values were given for region, which the template does not declare "
        "(declared: backendPort, pickHost, codes, probeSettings, protocol)"),
        id="undeclared"),
]
# fmt: on


@pytest.mark.parametrize(("override", "expected"), BAD_VALUES)
def test_a_bad_parameter_value_is_an_issue(
    override: dict[str, object], expected: ConfigIssue
) -> None:
    assert issues_of(typed_template(), {**GOOD, **override}) == [expected]


def test_a_parameter_without_value_or_default_is_an_issue() -> None:
    given = {key: value for key, value in GOOD.items() if key != "pickHost"}
    assert issues_of(typed_template(), given) == [
        ConfigIssue(
            "parameters.pickHost",
            "parameter 'pickHost' has no value and no defaultValue: give it in the parameters "
            "file or with --param pickHost=VALUE; resources[0].properties."
            "backendHttpSettingsCollection[0].properties.pickHostNameFromBackendAddress uses it",
        )
    ]


def test_a_default_outside_allowed_values_fails_where_it_is_used() -> None:
    doc = probe_template(
        "[parameters('host')]",
        {"host": {"type": "string", "defaultValue": "a.example", "allowedValues": ["b.example"]}},
    )
    assert issues_of(doc) == [
        ConfigIssue(
            "resources[0].properties.probes[0].properties.host",
            "default value of parameter 'host': \"a.example\" is not one of the "
            'allowedValues: "b.example" in "[parameters(\'host\')]"',
        )
    ]


# fmt: off
PARAMETERS_FILES = [
    pytest.param(fixture("template.parameters.json"),
                 {"applicationGatewayName": "agw-shop-test", "apiHostName": "api.shop.example",
                  "capacity": 3, "sslCertificateData": PFX_DATA,
                  "sslCertificatePassword": "fixture-only-password"}, id="parameters-file"),
    pytest.param({"port": {"value": 80}, "tags": {"Value": {"a": "b"}}},
                 {"port": 80, "tags": {"a": "b"}}, id="bare-mapping"),
    pytest.param({"parameters": {"value": ["x"]}}, {"parameters": ["x"]},
                 id="bare-parameter-called-parameters"),
    pytest.param({"contentVersion": "1.0.0.0", "Parameters": {}}, {}, id="empty-file"),
]
# fmt: on


@pytest.mark.parametrize(("data", "expected"), PARAMETERS_FILES)
def test_load_parameters_file(data: object, expected: dict[str, object]) -> None:
    assert load_parameters_file(data) == expected


# fmt: off
BAD_PARAMETERS_FILES = [
    pytest.param(
        {"parameters": {"secret": {"reference": {"keyVault": {"id": "kv"},
                                                 "secretName": "s"}}}},
        [ConfigIssue("parameters.secret.reference", "parameter 'secret' is a Key Vault "
                     "reference, which probegate cannot read: put the value in the file or "
                     "pass --param secret=VALUE")],
        id="key-vault-reference"),
    pytest.param({"parameters": {"port": 80, "host": {"values": "x"}}}, [
        ConfigIssue("parameters.port", "parameter 'port' needs a value, written as "
                    '{"value": ...}'),
        ConfigIssue("parameters.host", "parameter 'host' needs a value, written as "
                    '{"value": ...}'),
    ], id="no-value"),
    pytest.param(["port=80"], [ConfigIssue("", "a parameters file is a JSON object such as "
                                           '{"parameters": {"name": {"value": ...}}}')],
                 id="not-an-object"),
]
# fmt: on


@pytest.mark.parametrize(("data", "expected"), BAD_PARAMETERS_FILES)
def test_load_parameters_file_errors(data: object, expected: list[ConfigIssue]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_parameters_file(data)
    assert list(caught.value.issues) == expected

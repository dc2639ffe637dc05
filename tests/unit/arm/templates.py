"""The ARM import tests' shared pieces: the fixtures in tests/fixtures/arm, the smallest template
around one gateway, and the issues a conversion raises."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from probegate.config.arm import convert_arm
from probegate.config.source import parse_text
from probegate.errors import ConfigError, ConfigIssue

FIXTURES = Path(__file__).parents[2] / "fixtures" / "arm"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
GATEWAY = "Microsoft.Network/applicationGateways"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/resource-group"


def fixture(name: str) -> Any:
    return parse_text((FIXTURES / name).read_text(encoding="utf-8"), name)  # may hold comments


def ca_data() -> str:
    """The base64 DER of the self-signed CA both fixtures carry as a trusted root."""
    data = fixture("cli-gateway.json")["properties"]["trustedRootCertificates"][0]["properties"]
    return str(data["data"])


def template(
    props: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The smallest template around one gateway whose properties are `props`."""
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": parameters or {},
        "variables": variables or {},
        "resources": [{"type": GATEWAY, "apiVersion": "2023-09-01", "properties": props}],
    }


def probe_template(host: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return template(
        {"probes": [{"name": "p", "properties": {"protocol": "Http", "host": host}}]},
        parameters=parameters,
    )


def issues_of(doc: object, parameters: Mapping[str, object] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        convert_arm(doc, parameters)
    return list(caught.value.issues)


# Where the gateway's properties sit in a template made by `template`.
PATH = "resources[0].properties"

# The listener certificate the template's parameters file carries (a real PFX, base64).
PFX_DATA = fixture("template.parameters.json")["parameters"]["sslCertificateData"]["value"]

"""The schema of rewrite rule sets and custom error pages, as pydantic models (imported by `model.py`).

Rules of this module:
- property names are the ARM names (`rewriteRuleSets[].rewriteRules[].actionSet...`,
  `customErrorConfigurations[]`), defaults are the model's (`ignoreCase: true`, `negate: false`);
- shape only: patterns, variable names, header names, references and the SKU rule are checked by
  `rewrite_rules.py`, which reads the raw document (so every problem is listed at once).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from probegate.config.model_base import Item, Named, Text, any_case, between

MAX_RULE_SEQUENCE = 1000


class RewriteCondition(Item):
    """A condition: the variable's value must match `pattern` (or must not, with `negate`)."""

    variable: Text  # http_req_<Name>, http_resp_<Name> or var_<server variable>
    pattern: Text
    ignore_case: bool = True
    negate: bool = False


class HeaderConfiguration(Item):
    """Set `headerName` to `headerValue` (created or replaced); an empty value deletes it."""

    header_name: Text
    header_value: str = ""


class UrlConfiguration(Item):
    modified_path: str | None = None  # empty or absent: the path is kept
    modified_query_string: str | None = None  # empty or absent: the query string is kept
    reroute: bool = False  # re-evaluate the path map with the rewritten path


class ActionSet(Item):
    request_header_configurations: list[HeaderConfiguration] = Field(default_factory=list)
    response_header_configurations: list[HeaderConfiguration] = Field(default_factory=list)
    url_configuration: UrlConfiguration | None = None


class RewriteRule(Named):
    rule_sequence: Annotated[int, between(1, MAX_RULE_SEQUENCE)] = 100
    conditions: list[RewriteCondition] = Field(default_factory=list)
    action_set: ActionSet = Field(default_factory=ActionSet)


class RewriteRuleSet(Named):
    rewrite_rules: list[RewriteRule] = Field(default_factory=list)


class ErrorStatus(StrEnum):
    """The answers of the gateway's own that the model lets a page replace."""

    HTTP_400 = "HttpStatus400"
    HTTP_403 = "HttpStatus403"
    HTTP_405 = "HttpStatus405"
    HTTP_408 = "HttpStatus408"
    HTTP_500 = "HttpStatus500"
    HTTP_502 = "HttpStatus502"
    HTTP_503 = "HttpStatus503"
    HTTP_504 = "HttpStatus504"

    @property
    def code(self) -> int:
        return int(self.value.removeprefix("HttpStatus"))


class CustomErrorConfiguration(Item):
    """A page for one status: `customErrorPageFile` (probegate extension, a local file) is served;
    `customErrorPageUrl` (the model's) is kept for reference only: a self-hosted gateway does not
    fetch pages at load, so a URL alone needs a local copy."""

    status_code: Annotated[ErrorStatus, any_case(ErrorStatus)]
    custom_error_page_url: Text | None = None
    custom_error_page_file: Text | None = None

    @model_validator(mode="after")
    def _a_source(self) -> CustomErrorConfiguration:
        if self.custom_error_page_url is None and self.custom_error_page_file is None:
            raise PydanticCustomError(
                "missing_page", "give 'customErrorPageFile' (or the model's 'customErrorPageUrl')"
            )
        return self

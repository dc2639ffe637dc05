"""The OpenAPI document of the admin API, built for the gateway that serves it.

Rules of this module:
- it says what the server does, no more: the bearer scheme only when a token is configured, a 421
  only where the `Host` check applies, the on-demand body from `ondemand_request.request_schema`
  (the parser's own patterns and limits, the configuration's pool and settings names and its
  longest probe timeout), every error status a route can answer with the `Error` schema;
- response schemas describe what `views` shapes; they leave room for added fields.
"""

from __future__ import annotations

from typing import Any

from probegate import __version__
from probegate.admin import ondemand_request, operations, pages
from probegate.config.plan import GatewayPlan
from probegate.health.codes import Reason, State
from probegate.health.ondemand import longest_timeout

_ERRORS = {
    "400": "The request is malformed: a query value, the body or one of its fields",
    "401": "A token is configured and the request did not send it",
    "403": "The request came from a page of another site (its Origin)",
    "404": "No such pool, settings item or file",
    "409": "The overrides contradict the settings (a host name to pick that they do not have)",
    "413": "The body is too large",
    "415": "The body is not sent as application/json",
    "421": "The Host header does not name this admin API (DNS rebinding protection)",
    "422": "The configuration file is invalid; the running one stays",
    "429": "Too many on-demand probes run already; try again after Retry-After seconds",
    "500": "A fault inside the gateway (logged; no detail is shown)",
}
_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["en", "ko"]},
    "description": "Language of messages and remedies (without it, Accept-Language decides).",
}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_LAST_PROBE = {
    "type": ["object", "null"],
    "required": ["time", "durationMs", "phases", "status", "reason"],
    "properties": {
        "time": {"type": "string", "format": "date-time"},
        "durationMs": {"type": "number"},
        "phases": {
            "type": "object",
            "description": "Milliseconds of each phase; null when it did not run",
            "properties": {
                name: {"type": ["number", "null"]}
                for name in ("resolve", "connect", "tls", "response")
            },
        },
        "status": {"type": ["integer", "null"]},
        "reason": {"$ref": "#/components/schemas/Reason"},
        "certificateExpiry": {
            **_NULLABLE_TIME,
            "description": "Earliest notAfter of the chain the backend presented (HTTPS)",
        },
    },
}
_PROBE = {
    "type": "object",
    "description": "The effective probe: url, host, name (null: the default probe), protocol, "
    "interval and timeout (seconds)",
    "properties": {
        "url": {"type": "string"},
        "host": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "protocol": {"type": "string"},
        "interval": {"type": "integer"},
        "timeout": {"type": "integer"},
    },
}
_ONDEMAND_SERVER: dict[str, Any] = {
    "type": "object",
    "required": ["address", "health", "healthProbeLog", "reason", "remedy", "lastProbe"],
    "properties": {
        "address": {"type": "string", "examples": ["127.0.0.11:8080"]},
        "health": {"$ref": "#/components/schemas/Health"},
        "healthProbeLog": {"type": "string", "description": "The message: what was observed"},
        "reason": {"$ref": "#/components/schemas/Reason"},
        "remedy": {"type": "string"},
        "lastProbe": _LAST_PROBE,
        "warnings": {"type": "array", "items": {"type": "object"}},
        "probe": _PROBE,
    },
}
_SERVER = {
    **_ONDEMAND_SERVER,
    "required": [*_ONDEMAND_SERVER["required"], "consecutiveFailures", "routable"],
    "properties": {
        **_ONDEMAND_SERVER["properties"],
        "consecutiveFailures": {"type": "integer", "minimum": 0},
        "unhealthyThreshold": {"type": "integer"},
        "lastSuccess": _NULLABLE_TIME,
        "since": _NULLABLE_TIME,
        "routable": {"type": "boolean"},
        "routableByMinServers": {"type": "boolean"},
        "rampingUp": {
            "type": ["number", "null"],
            "description": "Slow start: its share of new requests (0 to 1) while it ramps up",
        },
        "warmingUp": {
            "type": "boolean",
            "description": "Routed on its verdict from before a reload until its new probe answers",
        },
        "removedByReload": {
            "type": "boolean",
            "description": "Removed by the last reload; serves until a new server of its group passes",
        },
        "consecutiveSuccesses": {"type": "integer", "minimum": 0},
        "healthyThreshold": {"type": "integer", "minimum": 1},
        "availability": {
            "type": "object",
            "description": "Share of time Healthy (0 to 1; null: nothing known yet)",
            "properties": {
                "lastHour": {"type": ["number", "null"]},
                "lastDay": {"type": ["number", "null"]},
            },
        },
        "flapping": {"type": "boolean"},
        "history": {"type": "array", "items": {"type": "object"}},
    },
}


def _dashboard_files() -> list[str]:
    return sorted(f.name for f in pages.DASHBOARD.iterdir() if f.is_file())


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _resource() -> dict[str, Any]:
    strings = {"name": {"type": "string"}, "id": {"type": "string"}}
    return {"type": "object", "required": ["name", "id"], "properties": strings}


def _schemas(plan: GatewayPlan) -> dict[str, Any]:
    settings_item = {
        "type": "object",
        "required": ["backendHttpSettings", "servers"],
        "properties": {
            "backendHttpSettings": _ref("Resource"),
            "servers": {"type": "array", "items": _ref("Server")},
        },
    }
    pool = {
        "type": "object",
        "required": ["backendAddressPool", "backendHttpSettingsCollection"],
        "properties": {
            "backendAddressPool": _ref("Resource"),
            "backendHttpSettingsCollection": {"type": "array", "items": settings_item},
        },
    }
    error = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {"type": "string"},
                "description": "422: every problem of the file, each with its JSON path",
            },
        },
    }
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": error}},
        "Resource": _resource(),
        "Health": {"type": "string", "enum": [s.value for s in State]},
        "Reason": {"type": "string", "enum": [r.value for r in Reason]},
        "Server": _SERVER,
        "OnDemandServer": _ONDEMAND_SERVER,
        "BackendHealth": {
            "type": "object",
            "required": ["backendAddressPools"],
            "properties": {"backendAddressPools": {"type": "array", "items": pool}},
        },
        "OnDemandResult": {
            "type": "object",
            "required": ["backendAddressPool", "backendHealthHttpSettings"],
            "properties": {
                "backendAddressPool": _ref("Resource"),
                "backendHealthHttpSettings": {
                    "type": "object",
                    "required": ["backendHttpSettings", "servers"],
                    "properties": {
                        "backendHttpSettings": _ref("Resource"),
                        "servers": {"type": "array", "items": _ref("OnDemandServer")},
                    },
                },
            },
        },
        "OnDemandRequest": ondemand_request.request_schema(
            [p.name for p in plan.pools], [s.name for s in plan.settings], longest_timeout(plan)
        ),
        "Healthz": {
            "type": "object",
            "required": ["status", "version", "targets", "dataPath"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "failing"]},
                "problem": {"type": "string"},
                "version": {"type": "string"},
                "dataPath": {
                    "type": "object",
                    "description": "Whether the proxy's hot modules run compiled (mypyc) or"
                    " interpreted, and why",
                    "required": ["mode", "detail", "compiler", "compiledModules"],
                    "properties": {
                        "mode": {"type": "string", "enum": ["compiled", "interpreted", "stale"]},
                        "detail": {"type": "string"},
                        "compiler": {"type": ["string", "null"]},
                        "compiledModules": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "targets": {"type": "integer", "minimum": 0},
            },
        },
        "Reloaded": {
            "type": "object",
            "required": ["status", "targets"],
            "properties": {
                "status": {"type": "string", "enum": ["reloaded"]},
                "targets": {"type": "integer", "minimum": 0},
                "changes": {
                    "type": "object",
                    "description": "listenersAdded/Removed, targetsAdded/Removed, targetsKept, "
                    "warmingUp, servedUntilANewServerPasses",
                },
            },
        },
    }


class _Routes:
    """Adds the answers every route of this gateway can give to each operation."""

    def __init__(self, *, token: bool, host_checked: bool) -> None:
        self.token, self.host_checked = token, host_checked

    def errors(self, *codes: str, guarded: bool = True) -> dict[str, Any]:
        shown = [*codes, "500"]
        if guarded and self.host_checked:
            shown.append("421")
        if guarded and self.token:
            shown.append("401")
        answers = {code: _json(_ref("Error"), _ERRORS[code]) for code in sorted(set(shown))}
        if "401" in answers:
            answers["401"]["headers"] = {
                "WWW-Authenticate": {"required": True, "schema": {"type": "string"}}
            }
        if "429" in answers:
            answers["429"]["headers"] = {
                "Retry-After": {
                    "required": True,
                    "description": "Seconds to wait",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        return answers

    def public(self, operation: dict[str, Any]) -> dict[str, Any]:
        """A route that needs no token (the dashboard's files, /healthz)."""
        if self.token:
            operation["security"] = []
        return operation


def document(plan: GatewayPlan, *, token: bool, host_checked: bool) -> dict[str, Any]:
    routes = _Routes(token=token, host_checked=host_checked)
    post_errors = ("400", "403", "413", "415")
    paths: dict[str, Any] = {
        "/healthz": {
            "get": routes.public(
                {
                    "summary": "The gateway itself: 503 when the prober has stopped or is stuck",
                    "description": "Answers any Host, without a token.",
                    "responses": {
                        "200": _json(_ref("Healthz"), "The gateway probes"),
                        "503": _json(_ref("Healthz"), "The prober has stopped or is stuck"),
                        **routes.errors(guarded=False),
                    },
                }
            )
        },
        "/backendhealth": {
            "get": {
                "summary": "Backend health of every pool and settings item",
                "parameters": [
                    {
                        "name": "expand",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["history"]},
                        "description": "'history' adds the last results of every server.",
                    },
                    _LANG,
                ],
                "responses": {
                    "200": _json(_ref("BackendHealth"), "The backend health document"),
                    **routes.errors("400"),
                },
            }
        },
        "/backendhealth/ondemand": {
            "post": {
                "summary": "Probe every server of a pool with a settings item now; changes no state",
                "parameters": [_LANG],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("OnDemandRequest")}},
                },
                "responses": {
                    "200": _json(_ref("OnDemandResult"), "One result per server"),
                    **routes.errors(*post_errors, "404", "409", "429"),
                },
            }
        },
        "/reload": {
            "post": {
                "summary": "Reload the configuration file; an invalid file keeps the old one running",
                "requestBody": {
                    "required": True,
                    "description": "An empty object",
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "additionalProperties": False}
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Reloaded"), "Reloaded"),
                    **routes.errors(*post_errors, "422"),
                },
            }
        },
        **operations.paths(routes.errors, post_errors),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: host counts, probe results, traffic counters",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **routes.errors(),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": _json({"type": "object"}, "OpenAPI 3.1"),
                    **routes.errors(),
                },
            }
        },
        "/": {
            "get": routes.public(
                {
                    "tags": ["dashboard"],
                    "summary": "The backend-health dashboard (HTML); it reads the routes above",
                    "description": "Served without the token: the page asks for it when the API "
                    "answers 401, keeps it in sessionStorage and sends it as a bearer token. "
                    "`?lang=ko` opens it in Korean.",
                    "responses": {
                        "200": {"description": "HTML", "content": {"text/html": {}}},
                        **routes.errors(),
                    },
                }
            )
        },
        "/dashboard/{file}": {
            "get": routes.public(
                {
                    "tags": ["dashboard"],
                    "summary": "The dashboard's JavaScript modules and style sheet",
                    "parameters": [
                        {
                            "name": "file",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": _dashboard_files()},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {"text/javascript": {}, "text/css": {}, "text/html": {}},
                        },
                        **routes.errors("404"),
                    },
                }
            )
        },
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "probegate admin API",
            "version": __version__,
            "description": "Backend health of a probegate gateway, on-demand probes and reloads. "
            "Every POST takes `Content-Type: application/json`; a request from another site's "
            "page (Origin) is refused.",
        },
        "components": {"schemas": _schemas(plan)},
        "paths": paths,
    }
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc

"""The OpenAPI document of the admin API, written by hand so it says what each route means."""

from __future__ import annotations

from typing import Any

from probegate import __version__

_ERROR = {
    "description": "An error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["en", "ko"]},
    "description": "Language of messages and remedies (Accept-Language works too).",
}

_SERVER = {
    "type": "object",
    "required": ["address", "health", "healthProbeLog", "reason"],
    "properties": {
        "address": {"type": "string", "examples": ["127.0.0.11:8080"]},
        "health": {"type": "string", "enum": ["Healthy", "Unhealthy", "Unknown", "Draining"]},
        "healthProbeLog": {"type": "string", "description": "The message: what was observed."},
        "reason": {"type": "string", "description": "Stable reason code (SPEC section 4)."},
        "remedy": {"type": "string"},
        "consecutiveFailures": {"type": "integer"},
        "unhealthyThreshold": {"type": "integer"},
        "lastProbe": {
            "type": ["object", "null"],
            "properties": {
                "time": {"type": "string", "format": "date-time"},
                "durationMs": {"type": "number"},
                "phases": {"type": "object", "description": "resolve, connect, tls, response (ms)"},
                "status": {"type": ["integer", "null"]},
                "reason": {"type": "string"},
                "certificateExpiry": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "Earliest notAfter of the chain the backend presented (HTTPS).",
                },
            },
        },
        "lastSuccess": {"type": ["string", "null"], "format": "date-time"},
        "warnings": {"type": "array", "items": {"type": "object"}},
        "routable": {"type": "boolean"},
        "routableByMinServers": {"type": "boolean"},
        "probe": {
            "type": "object",
            "description": "The effective probe: url, host, name (null: the default probe), "
            "protocol, interval and timeout (seconds).",
        },
        "history": {"type": "array", "items": {"type": "object"}},
    },
}

_STATIC = {"security": [], "tags": ["dashboard"]}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "probegate admin API",
        "version": __version__,
        "description": "Backend health of a probegate gateway, on-demand probes and reloads.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "Server": _SERVER,
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {
            "get": {
                "summary": "Liveness of the gateway itself",
                "security": [],
                "responses": {"200": {"description": "The gateway runs"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: host counts, probe results, traffic counters",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
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
                    "200": {"description": "The backend health document"},
                    "400": _ERROR,
                    "401": _ERROR,
                },
            }
        },
        "/backendhealth/ondemand": {
            "post": {
                "summary": "Probe every server of a pool with a settings item now; changes no state",
                "parameters": [_LANG],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["backendAddressPool", "backendHttpSettings"],
                                "properties": {
                                    "backendAddressPool": {"type": ["string", "object"]},
                                    "backendHttpSettings": {"type": ["string", "object"]},
                                    "protocol": {"type": "string", "enum": ["Http", "Https"]},
                                    "host": {"type": "string"},
                                    "path": {"type": "string"},
                                    "timeout": {"type": "integer", "minimum": 1, "maximum": 86400},
                                    "pickHostNameFromBackendHttpSettings": {"type": "boolean"},
                                    "match": {
                                        "type": "object",
                                        "properties": {
                                            "statusCodes": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                            "body": {"type": "string"},
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "One result per server"},
                    "400": _ERROR,
                    "401": _ERROR,
                },
            }
        },
        "/reload": {
            "post": {
                "summary": "Reload the configuration file; an invalid file keeps the old one running",
                "responses": {"200": {"description": "Reloaded"}, "401": _ERROR, "422": _ERROR},
            }
        },
        "/": {
            "get": {
                **_STATIC,
                "summary": "The backend-health dashboard (HTML); it reads the routes above",
                "description": "Served without the token: the page asks for it when the API "
                "answers 401, keeps it in sessionStorage and sends it as a bearer token. "
                "`?lang=ko` opens it in Korean.",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/dashboard/{file}": {
            "get": {
                **_STATIC,
                "summary": "The dashboard's JavaScript modules and style sheet (static files)",
                "parameters": [
                    {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "The file"}, "404": _ERROR},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
    },
}

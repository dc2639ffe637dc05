"""The schema of a probegate configuration file (SPEC section 1), as pydantic models.

Rules of this module:
- property names are the Azure Application Gateway ARM names (camelCase); Python attributes are
  their snake_case twins, and errors are reported with the camelCase path;
- it checks the shape of each item on its own (types, ranges, enum values, unknown keys); rules that
  look across items (references, SKU rules, files on disk) live in `rules.py`;
- nothing after `plan.py` imports this module: the runtime reads frozen dataclasses, not pydantic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, PlainValidator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from probegate.config.model_base import (
    Item,
    Named,
    Port,
    Seconds,
    Text,
    any_case,
    at_least,
    between,
    body_length,
)
from probegate.config.model_rewrite import CustomErrorConfiguration, RewriteRuleSet

MAX_HOST_NAMES = 5


class Sku(StrEnum):
    STANDARD = "Standard"
    WAF = "WAF"
    STANDARD_V2 = "Standard_v2"
    WAF_V2 = "WAF_v2"

    @property
    def is_v2(self) -> bool:
        return self in (Sku.STANDARD_V2, Sku.WAF_V2)


class Protocol(StrEnum):
    HTTP = "Http"
    HTTPS = "Https"


class Affinity(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class RuleType(StrEnum):
    BASIC = "Basic"
    PATH_BASED = "PathBasedRouting"


class RedirectType(StrEnum):
    PERMANENT = "Permanent"
    FOUND = "Found"
    SEE_OTHER = "SeeOther"
    TEMPORARY = "Temporary"


SkuName = Annotated[Sku, any_case(Sku)]
ProtocolName = Annotated[Protocol, any_case(Protocol)]


def _exactly_one(item: Item, first: str, second: str) -> None:
    given = [k for k in (first, second) if getattr(item, k) is not None]
    if len(given) != 1:
        a, b = to_camel(first), to_camel(second)
        raise PydanticCustomError(
            "exactly_one",
            "give exactly one of '{a}' or '{b}'{found}",
            {"a": a, "b": b, "found": ", not both" if given else ""},
        )


# ------------------------------------------------------------------------ frontend


class SslCertificate(Named):
    """Frontend TLS: PEM `certFile` + `keyFile`, or `data` (base64 PFX, as ARM carries it) with
    an optional `password`."""

    cert_file: Text | None = None
    key_file: Text | None = None
    data: Text | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SslCertificate:
        files = self.cert_file is not None or self.key_file is not None
        if files and self.data is not None:
            raise PydanticCustomError(
                "exactly_one", "give 'certFile' and 'keyFile', or 'data', not both"
            )
        if self.data is None and (self.cert_file is None or self.key_file is None):
            missing = "keyFile" if self.cert_file is not None else "certFile"
            if self.cert_file is None and self.key_file is None:
                raise PydanticCustomError(
                    "exactly_one", "give 'certFile' and 'keyFile' (PEM), or 'data' (base64 PFX)"
                )
            raise PydanticCustomError(
                "missing_pair", "'{missing}' is required too", {"missing": missing}
            )
        return self


class HttpListener(Named):
    port: Port
    protocol: ProtocolName
    bind_address: str = "127.0.0.1"
    host_names: list[Text] = Field(default_factory=list)
    ssl_certificate: Text | None = None
    ssl_profile: Text | None = None  # its policy replaces the gateway's sslPolicy
    require_server_name_indication: bool = False  # Https: refuse handshakes that name no listener
    custom_error_configurations: list[CustomErrorConfiguration] = Field(default_factory=list)


class SslPolicy(Item):
    """The model's TLS policy; its values are checked by `sslpolicy.policy_problems`."""

    policy_type: Text | None = None  # Predefined / Custom / CustomV2, any case
    policy_name: Text | None = None
    min_protocol_version: Text | None = None
    cipher_suites: list[Text] = Field(default_factory=list)


class Revocation(StrEnum):
    NONE = "None"
    OCSP = "OCSP"


class ClientAuthConfiguration(Item):
    """How a profile's mutual TLS judges client certificates (`mutualtls.py`)."""

    verify_client_cert_issuer_dn: bool = Field(default=False, alias="verifyClientCertIssuerDN")
    verify_client_revocation: Annotated[Revocation, any_case(Revocation)] = Revocation.NONE


class SslProfile(Named):
    ssl_policy: SslPolicy | None = None
    client_auth_configuration: ClientAuthConfiguration | None = None
    trusted_client_certificates: list[Text] = Field(default_factory=list)  # names: mutual TLS on


# ------------------------------------------------------------------------ backends


class BackendAddress(Item):
    ip_address: Text | None = None
    fqdn: Text | None = None
    port: Port | None = None

    @model_validator(mode="after")
    def _one_address(self) -> BackendAddress:
        _exactly_one(self, "ip_address", "fqdn")
        return self


class BackendAddressPool(Named):
    backend_addresses: list[BackendAddress] = Field(default_factory=list)


class ConnectionDraining(Item):
    enabled: bool
    drain_timeout_in_sec: Annotated[int, between(1, 3600)]


class LiveFailure(StrEnum):
    """What live traffic counts against a server (passiveHealth.failures)."""

    CONNECT_ERROR = "connect-error"
    RESET = "reset"
    TIMEOUT = "timeout"
    SERVER_ERROR = "5xx"
    GATEWAY_ERRORS = "gateway-errors"  # 502, 503, 504


class PassiveHealth(Item):
    """probegate extension: live requests as health evidence (outlier detection)."""

    enabled: bool = False
    consecutive_failures: Annotated[int, between(1, 1000)] = 5
    failures: list[Annotated[LiveFailure, any_case(LiveFailure)]] = Field(
        default_factory=lambda: [LiveFailure.CONNECT_ERROR, LiveFailure.RESET, LiveFailure.TIMEOUT],
        min_length=1,
    )
    ejection_time_in_sec: Annotated[int, between(1, 86400)] = 30
    max_ejection_percent: Annotated[int, between(0, 100)] = 50


class BackendHttpSettings(Named):
    port: Port
    protocol: ProtocolName
    request_timeout: Seconds = 20
    host_name: Text | None = None
    pick_host_name_from_backend_address: bool = False
    path: Text | None = None
    probe: Text | None = None
    cookie_based_affinity: Annotated[Affinity, any_case(Affinity)] = Affinity.DISABLED
    affinity_cookie_name: Text = "ApplicationGatewayAffinity"
    connection_draining: ConnectionDraining | None = None
    trusted_root_certificates: list[Text] = Field(default_factory=list)
    authentication_certificates: list[Text] = Field(default_factory=list)
    insecure_skip_verify: bool = False  # probegate extension, lab use only
    # the model's v2 backend TLS switches, with its defaults
    validate_cert_chain_and_expiry: bool = True
    validate_sni: bool = Field(default=True, alias="validateSNI")
    sni_name: Text | None = None
    passive_health: PassiveHealth = Field(default_factory=PassiveHealth)  # probegate extension
    slow_start_in_sec: Annotated[int, between(0, 3600)] = 0  # probegate extension; 0: off


class ProbeMatch(Item):
    status_codes: list[str] = Field(default_factory=lambda: ["200-399"])
    body: Annotated[str, AfterValidator(body_length)] | None = None


class ProbeHeader(Item):
    """A request header every probe of this probe sends (probegate extension)."""

    name: Text
    value: str


class Probe(Named):
    protocol: ProtocolName
    host: Text | None = None
    path: Text = "/"
    port: Port | None = None
    interval: Seconds = 30
    timeout: Seconds = 30
    unhealthy_threshold: Annotated[int, between(0, 20)] = 3
    # probegate extension (Application Gateway for Containers' name): passes needed to leave
    # Unhealthy; 1 is the model's behaviour
    healthy_threshold: Annotated[int, between(1, 20)] = 1
    pick_host_name_from_backend_http_settings: bool = False
    min_servers: Annotated[int, at_least(0)] = 0
    match: ProbeMatch = Field(default_factory=ProbeMatch)
    headers: list[ProbeHeader] = Field(default_factory=list, max_length=32)


class CertificateFile(Named):
    """A trusted root (v2) or authentication certificate (v1): a file, or inline base64 `data`."""

    cert_file: Text | None = None
    data: Text | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CertificateFile:
        _exactly_one(self, "cert_file", "data")
        return self


# ------------------------------------------------------------------------ routing


class RequestRoutingRule(Named):
    rule_type: Annotated[RuleType, any_case(RuleType)]
    priority: Annotated[int, between(1, 20000)] | None = None
    http_listener: Text
    backend_address_pool: Text | None = None
    backend_http_settings: Text | None = None
    url_path_map: Text | None = None
    redirect_configuration: Text | None = None
    rewrite_rule_set: Text | None = None  # Basic rules; a path map names its own


class PathRule(Named):
    paths: Annotated[list[Text], Field(min_length=1)]
    backend_address_pool: Text | None = None
    backend_http_settings: Text | None = None
    redirect_configuration: Text | None = None
    rewrite_rule_set: Text | None = None


class UrlPathMap(Named):
    default_backend_address_pool: Text | None = None
    default_backend_http_settings: Text | None = None
    default_redirect_configuration: Text | None = None
    default_rewrite_rule_set: Text | None = None
    path_rules: Annotated[list[PathRule], Field(min_length=1)]


class RedirectConfiguration(Named):
    redirect_type: Annotated[RedirectType, any_case(RedirectType)]
    target_listener: Text | None = None
    target_url: Text | None = None
    include_path: bool = False
    include_query_string: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> RedirectConfiguration:
        _exactly_one(self, "target_listener", "target_url")
        return self


# ------------------------------------------------------------------------ the gateway


class Admin(Item):
    bind_address: str = "127.0.0.1"
    port: Annotated[int, between(0, 65535)] = 9090  # 0: any free port (printed at start)
    token: Text | None = None  # or "${env:NAME}": the value of that environment variable
    token_file: Text | None = None  # a file holding the token (relative to the config file)
    allowed_hosts: list[Text] = Field(default_factory=list)  # Host names accepted besides loopback

    @model_validator(mode="after")
    def _one_token(self) -> Admin:
        if self.token is not None and self.token_file is not None:
            raise PydanticCustomError("exactly_one", "give 'token' or 'tokenFile', not both")
        return self


class Limits(Item):
    """probegate extension: how much the front end accepts from clients, and for how long."""

    max_request_body_size_in_mb: Annotated[int, between(0, 1_048_576)] = 1024  # 0: no limit
    request_header_timeout_in_sec: Annotated[int, between(1, 3600)] = 20
    request_body_timeout_in_sec: Annotated[int, between(1, 3600)] = 60  # idle time between reads
    keep_alive_timeout_in_sec: Annotated[int, between(1, 3600)] = 75
    max_connections: Annotated[int, between(1, 1_000_000)] = 10_000
    drain_timeout_on_stop_in_sec: Annotated[int, between(0, 3600)] = 30


class AccessLog(Item):
    """probegate extension: one JSON object per request, with the model's access-log fields."""

    enabled: bool = False
    path: Text = "-"  # "-": standard output; otherwise a file, appended to


class History(Item):
    """probegate extension: every state change kept in an SQLite database across restarts."""

    path: Text | None = None  # default: `<configuration file>.history.sqlite` beside it
    retention_days: Annotated[int, between(1, 3650)] = 14


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Logging(Item):
    """probegate extension: the gateway's own log on stderr (`--log-level` / `--log-format` win)."""

    level: Annotated[LogLevel, any_case(LogLevel)] = LogLevel.INFO
    format: Annotated[LogFormat, any_case(LogFormat)] = LogFormat.TEXT


MAX_WORKERS = 256


def _workers(value: object) -> int | str:
    """A whole number of worker processes, or "auto" (any case)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WORKERS:
        return value
    raise PydanticCustomError(
        "workers",
        "give a number of workers (1-{most}) or 'auto', got {got}",
        {"most": MAX_WORKERS, "got": repr(value)},
    )


class GatewayConfig(Item):
    """The whole file. Collections default to empty so a partial file gets precise errors."""

    schema_: str | None = Field(default=None, alias="$schema")
    sku: SkuName = Sku.STANDARD_V2
    http_listeners: list[HttpListener] = Field(default_factory=list)
    ssl_certificates: list[SslCertificate] = Field(default_factory=list)
    ssl_policy: SslPolicy | None = None
    ssl_profiles: list[SslProfile] = Field(default_factory=list)
    trusted_client_certificates: list[CertificateFile] = Field(default_factory=list)
    backend_address_pools: list[BackendAddressPool] = Field(default_factory=list)
    backend_http_settings_collection: list[BackendHttpSettings] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    trusted_root_certificates: list[CertificateFile] = Field(default_factory=list)
    authentication_certificates: list[CertificateFile] = Field(default_factory=list)
    request_routing_rules: list[RequestRoutingRule] = Field(default_factory=list)
    url_path_maps: list[UrlPathMap] = Field(default_factory=list)
    redirect_configurations: list[RedirectConfiguration] = Field(default_factory=list)
    rewrite_rule_sets: list[RewriteRuleSet] = Field(default_factory=list)
    custom_error_configurations: list[CustomErrorConfiguration] = Field(default_factory=list)
    dns_servers: list[Text] | None = None
    # probegate extension: processes running the data path; "auto": one per CPU it may use
    workers: Annotated[int | str, PlainValidator(_workers)] = "auto"
    limits: Limits = Field(default_factory=Limits)
    access_log: AccessLog = Field(default_factory=AccessLog)
    history: History = Field(default_factory=History)
    logging: Logging = Field(default_factory=Logging)
    admin: Admin = Field(default_factory=Admin)

"""Listener TLS policies as the model defines them: the predefined policies as data, Custom and
CustomV2, what each listener ends up with, and the rules a file must follow (SPEC section 5).

Rules of this module:
- pure: data and functions of the raw document or the model, no `ssl`, no sockets; the proxy
  turns a `ListenerTls` into an OpenSSL context (`proxy/tlspolicy.py`);
- cipher suites are named as the model names them (IANA names); `OPENSSL_NAMES` maps each to the
  name OpenSSL knows; an unknown name is an error with the closest known one;
- TLS 1.3 follows the model: only the 2022 predefined policies and CustomV2 (v2 SKUs) enable it,
  and its two suites are implied by CustomV2 with a minimum of TLSv1_2 or TLSv1_3;
- the 2022/CustomV2 family and the older policies cannot be mixed on one gateway, as in the model;
- no policy at all is the model's current default, AppGwSslPolicy20220101.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probegate.config.document import LISTENERS, Doc, Issues, folded, text
from probegate.errors import ConfigIssue

SSL_POLICY = "sslPolicy"
SSL_PROFILES = "sslProfiles"

TLS10, TLS11, TLS12, TLS13 = "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"
VERSIONS = (TLS10, TLS11, TLS12, TLS13)

# IANA name → OpenSSL name. The first two are TLS 1.3 suites (OpenSSL keeps their IANA names).
OPENSSL_NAMES: dict[str, str] = {
    "TLS_AES_128_GCM_SHA256": "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384": "TLS_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384": "ECDHE-RSA-AES256-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": "DHE-RSA-AES256-GCM-SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": "DHE-RSA-AES128-GCM-SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA": "DHE-RSA-AES256-SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA": "DHE-RSA-AES128-SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256": "AES256-SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384": "ECDHE-ECDSA-AES256-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256": "DHE-DSS-AES256-SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256": "DHE-DSS-AES128-SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA": "DHE-DSS-AES256-SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA": "DHE-DSS-AES128-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA": "DHE-DSS-DES-CBC3-SHA",
}
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384")


def _suites(*short: str) -> tuple[str, ...]:
    """Suites written without the `TLS_` prefix, in the policy's order."""
    return tuple(f"TLS_{s}" for s in short)


_RSA_2017 = _suites(
    "ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "RSA_WITH_AES_256_GCM_SHA384", "RSA_WITH_AES_128_GCM_SHA256", "RSA_WITH_AES_256_CBC_SHA256",
    "RSA_WITH_AES_128_CBC_SHA256", "RSA_WITH_AES_256_CBC_SHA", "RSA_WITH_AES_128_CBC_SHA",
    "ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Predefined:
    min_version: str
    suites: tuple[str, ...]  # IANA names, in priority order; TLS 1.3 suites first when enabled
    family_2022: bool  # the TLS 1.3 family (v2 only, cannot be mixed with the older ones)
    retired: str = ""  # why the model no longer lets it be associated, when it does not


_RETIRED = "retired by the model on 31 August 2025 with TLS 1.0 and 1.1"

PREDEFINED: dict[str, Predefined] = {
    "AppGwSslPolicy20150501": Predefined(
        TLS10,
        tuple(s for s in OPENSSL_NAMES if s not in TLS13_SUITES),
        family_2022=False,
        retired=_RETIRED,
    ),
    "AppGwSslPolicy20170401": Predefined(TLS11, _RSA_2017, family_2022=False, retired=_RETIRED),
    "AppGwSslPolicy20170401S": Predefined(TLS12, _RSA_2017, family_2022=False),
    "AppGwSslPolicy20220101": Predefined(
        TLS12,
        TLS13_SUITES
        + _suites(
            "ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
            "ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        ),
        family_2022=True,
    ),
    "AppGwSslPolicy20220101S": Predefined(
        TLS12,
        TLS13_SUITES
        + _suites(
            "ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ),
        family_2022=True,
    ),
}
DEFAULT_POLICY = "AppGwSslPolicy20220101"


@dataclass(frozen=True, slots=True)
class ListenerTls:
    """What one HTTPS listener offers: versions, suites (IANA, in order) and the rule that decided."""

    min_version: str
    max_version: str
    suites: tuple[str, ...]
    rule: str

    @property
    def versions(self) -> tuple[str, ...]:
        return VERSIONS[VERSIONS.index(self.min_version) : VERSIONS.index(self.max_version) + 1]

    @property
    def openssl_ciphers(self) -> str:
        """The TLS 1.0-1.2 suites as an OpenSSL cipher list ('' when there are none)."""
        return ":".join(OPENSSL_NAMES[s] for s in self.suites if s not in TLS13_SUITES)

    @property
    def openssl_tls13(self) -> str:
        return ":".join(s for s in self.suites if s in TLS13_SUITES)


# ------------------------------------------------------------------------ effective policy


def listener_tls(policy: dict[str, Any] | None, source: str) -> ListenerTls:
    """The effective TLS of a listener whose policy (a valid `sslPolicy` object, as the file
    spells it) came from `source` ("gateway sslPolicy", "sslProfile 'x'")."""
    if not policy:
        return _predefined(DEFAULT_POLICY, f"no sslPolicy: the model's default, {DEFAULT_POLICY}")
    kind = folded(policy, "policyType") or ("predefined" if "policyName" in policy else "custom")
    if kind == "predefined":
        name = text(policy, "policyName") or DEFAULT_POLICY
        return _predefined(name, f"{source}: Predefined {name}")
    minimum = text(policy, "minProtocolVersion") or TLS10
    listed = tuple(s for s in _names(policy.get("cipherSuites")))
    if kind == "customv2":
        top = TLS13
        implied = TLS13_SUITES if minimum in (TLS12, TLS13) else ()
        suites = implied + tuple(s for s in listed if s not in TLS13_SUITES)
        if minimum == TLS13:
            suites = implied
        return ListenerTls(minimum, top, suites, f"{source}: CustomV2, minimum {minimum}")
    return ListenerTls(minimum, TLS12, listed, f"{source}: Custom, minimum {minimum}")


def _predefined(name: str, rule: str) -> ListenerTls:
    found = PREDEFINED[name]
    top = TLS13 if found.family_2022 else TLS12
    retired = f" ({found.retired})" if found.retired else ""
    return ListenerTls(found.min_version, top, found.suites, rule + retired)


def _names(value: object) -> Iterator[str]:
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            yield item.upper()


# ------------------------------------------------------------------------ rules of a file


def policy_problems(doc: Doc) -> Issues:
    """Every `sslPolicy` (the gateway's and each profile's), the profiles and their references."""
    policies = [(SSL_POLICY, doc.raw.get(SSL_POLICY))]
    profiles = doc.items(SSL_PROFILES)
    policies += [(f"{path}.{SSL_POLICY}", item.get(SSL_POLICY)) for path, item in profiles]
    families: dict[bool, str] = {}
    for path, policy in policies:
        if isinstance(policy, dict):
            yield from _policy(doc, path, policy)
            family = _family(policy)
            if family is not None:
                families.setdefault(family, path)
    if len(families) == 2:
        yield ConfigIssue(
            families[True],
            f"a 2022 or CustomV2 policy cannot be used beside an older one ({families[False]}) "
            "on one gateway, as in the model: move every policy to the 2022 family, or none",
        )
    yield from _profile_references(doc)
    yield from _one_policy_per_socket(doc)


def _family(policy: dict[str, Any]) -> bool | None:
    """True for the TLS 1.3 family (2022 predefined, CustomV2), False for the older ones."""
    kind = folded(policy, "policyType")
    if kind == "customv2":
        return True
    if kind == "custom":
        return False
    found = PREDEFINED.get(text(policy, "policyName") or "")
    return found.family_2022 if found is not None else None


def _policy(doc: Doc, path: str, policy: dict[str, Any]) -> Issues:
    kind = folded(policy, "policyType")
    name = text(policy, "policyName")
    if kind not in (None, "predefined", "custom", "customv2"):
        yield ConfigIssue(
            f"{path}.policyType",
            f"must be one of 'Predefined', 'Custom', 'CustomV2', got '{policy['policyType']}'",
        )
        return
    if kind == "predefined" or (kind is None and name is not None):
        yield from _predefined_problems(doc, path, policy, name)
    else:
        yield from _custom_problems(doc, path, policy, kind == "customv2")


def _predefined_problems(doc: Doc, path: str, policy: dict[str, Any], name: str | None) -> Issues:
    if name is None:
        yield ConfigIssue(f"{path}.policyName", "is required for a Predefined policy")
        return
    if name not in PREDEFINED:
        close = difflib.get_close_matches(name, list(PREDEFINED), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(PREDEFINED)})"
        yield ConfigIssue(f"{path}.policyName", f"'{name}' is not a predefined policy{hint}")
        return
    if PREDEFINED[name].family_2022 and not doc.is_v2:
        yield ConfigIssue(f"{path}.policyName", f"{name} needs a v2 SKU (sku is '{doc.sku}')")
    for key in ("minProtocolVersion", "cipherSuites"):
        if key in policy:
            yield ConfigIssue(f"{path}.{key}", "only a Custom or CustomV2 policy sets it")


def _custom_problems(doc: Doc, path: str, policy: dict[str, Any], v2: bool) -> Issues:
    kind = "CustomV2" if v2 else "Custom"
    if "policyName" in policy:
        yield ConfigIssue(f"{path}.policyName", f"a {kind} policy has no policyName")
    if v2 and not doc.is_v2:
        yield ConfigIssue(f"{path}.policyType", f"CustomV2 needs a v2 SKU (sku is '{doc.sku}')")
    minimum = text(policy, "minProtocolVersion")
    allowed = (TLS12, TLS13) if v2 else (TLS10, TLS11, TLS12)
    if minimum is not None and minimum not in allowed:
        yield ConfigIssue(
            f"{path}.minProtocolVersion",
            f"a {kind} policy takes {' or '.join(allowed)}, got '{minimum}'"
            + ("; TLS 1.3 needs CustomV2" if minimum == TLS13 else ""),
        )
    listed = policy.get("cipherSuites")
    if not isinstance(listed, list) or not listed:
        if not (v2 and minimum == TLS13):
            yield ConfigIssue(f"{path}.cipherSuites", f"a {kind} policy lists its cipher suites")
        return
    for i, suite in enumerate(listed):
        yield from _suite(f"{path}.cipherSuites[{i}]", suite, v2)


def _suite(path: str, suite: object, v2: bool) -> Issues:
    if not isinstance(suite, str):
        yield ConfigIssue(path, "must be a cipher suite name")
        return
    name = suite.upper()
    if name not in OPENSSL_NAMES:
        close = difflib.get_close_matches(name, list(OPENSSL_NAMES), n=1, cutoff=0.7)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        yield ConfigIssue(path, f"'{suite}' is not a cipher suite the model offers{hint}")
    elif name in TLS13_SUITES and not v2:
        yield ConfigIssue(path, f"{name} is a TLS 1.3 suite: only CustomV2 has it")


def _profile_references(doc: Doc) -> Issues:
    names = [n for _, item in doc.items(SSL_PROFILES) if isinstance(n := item.get("name"), str)]
    for path, listener in doc.items(LISTENERS):
        profile = listener.get("sslProfile")
        if not isinstance(profile, str):
            continue
        if folded(listener, "protocol") != "https":
            yield ConfigIssue(f"{path}.sslProfile", "only an Https listener takes an SSL profile")
        elif profile not in names:
            close = difflib.get_close_matches(profile, names, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            yield ConfigIssue(
                f"{path}.sslProfile", f"no item of '{SSL_PROFILES}' is named '{profile}'{hint}"
            )


def _one_policy_per_socket(doc: Doc) -> Issues:
    """Listeners sharing an address and port must offer one policy: OpenSSL settles versions and
    ciphers before the SNI callback picks a listener's certificate."""
    profiles = {item.get("name"): item for _, item in doc.items(SSL_PROFILES)}
    gateway = doc.raw.get(SSL_POLICY)
    first: dict[tuple[object, object], tuple[str, ListenerTls]] = {}
    for path, listener in doc.items(LISTENERS):
        if folded(listener, "protocol") != "https":
            continue
        profile = profiles.get(listener.get("sslProfile"))
        policy = profile.get(SSL_POLICY) if isinstance(profile, dict) else None
        policy = policy if isinstance(policy, dict) else gateway
        try:
            tls = listener_tls(policy if isinstance(policy, dict) else None, "")
        except KeyError:  # an unknown policy name: reported where it is written
            continue
        socket = (listener.get("bindAddress", "127.0.0.1"), listener.get("port"))
        seen = first.setdefault(socket, (path, tls))
        if seen[1].versions != tls.versions or seen[1].suites != tls.suites:
            yield ConfigIssue(
                f"{path}.sslProfile",
                f"shares its address and port with {seen[0]} but not its TLS policy; probegate "
                "applies one policy per socket (give them the same profile, or another port)",
            )


def retired_warnings(raw: dict[str, Any]) -> list[str]:
    """Predefined policies the model no longer lets a gateway use: accepted here, said aloud."""
    doc = Doc(raw, Path())
    found = []
    policies = [(SSL_POLICY, doc.raw.get(SSL_POLICY))]
    policies += [(f"{p}.{SSL_POLICY}", item.get(SSL_POLICY)) for p, item in doc.items(SSL_PROFILES)]
    for path, policy in policies:
        name = text(policy, "policyName") if isinstance(policy, dict) else None
        if name in PREDEFINED and PREDEFINED[name].retired:
            found.append(f"{path}.policyName: {name} is {PREDEFINED[name].retired}")
    return found

"""Ask every instance for its backend health at once; an instance that cannot answer becomes a
`Problem` (its reason code and a message in the language asked for), never an exception.

Rules: plain stdlib HTTP (urllib), one thread per instance (at most `MAX_PARALLEL`), each request
bounded by `timeout`; an `http_proxy` in the environment must not reroute an admin API; the
answers are handed to `join` as they are.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from probegate.fleet.instances import Instance
from probegate.fleet.join import Problem, Report
from probegate.i18n import Lang, Words

MAX_PARALLEL = 16
TIMEOUT = 10.0  # seconds for one instance's answer

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_WORDS = {
    "connection-refused": Words(
        "connection refused (is `probegate run` running there?)",
        "연결 거부됨 (그곳에서 `probegate run` 이 실행 중인지 확인하세요)",
    ),
    "timeout": Words("no answer within {seconds:g} s", "{seconds:g}초 안에 응답이 없습니다"),
    "unauthorized": Words(
        "401: the admin API wants its token: give it with --token, PROBEGATE_TOKEN or the "
        "entry's token in the instances file",
        "401: 관리 API 에 토큰이 필요합니다: --token, PROBEGATE_TOKEN 또는 인스턴스 파일의 항목 "
        "token 으로 지정하세요",
    ),
    "http-error": Words("{status}: {detail}", "{status}: {detail}"),
    "not-json": Words(
        "the answer is not a backend-health document (is this an admin API's address?)",
        "응답이 백엔드 상태 문서가 아닙니다 (관리 API 주소가 맞는지 확인하세요)",
    ),
    "unreachable": Words("cannot connect: {detail}", "연결할 수 없습니다: {detail}"),
}


def problem(code: str, lang: Lang, http_status: int | None = None, **facts: object) -> Problem:
    return Problem(code, _WORDS[code].in_(lang).format(**facts), http_status)


def ask_all(
    instances: Sequence[Instance], lang: Lang = Lang.EN, timeout: float = TIMEOUT
) -> list[Report]:
    """One report per instance, in the order given."""
    if not instances:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(instances))) as pool:
        return list(pool.map(lambda i: ask(i, lang, timeout), instances))


def ask(instance: Instance, lang: Lang = Lang.EN, timeout: float = TIMEOUT) -> Report:
    request = urllib.request.Request(f"{instance.url}/backendhealth?lang={lang.value}")
    request.add_header("Accept", "application/json")
    if instance.token:
        request.add_header("Authorization", f"Bearer {instance.token}")
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            document = json.load(response)
    except urllib.error.HTTPError as exc:
        return _failed(instance, _http_problem(exc, lang))
    except (urllib.error.URLError, OSError) as exc:
        return _failed(instance, _network_problem(exc, lang, timeout))
    except (ValueError, http.client.HTTPException):  # not JSON, or not even HTTP
        return _failed(instance, problem("not-json", lang))
    if not _is_health_document(document):
        return _failed(instance, problem("not-json", lang))
    return Report(instance.name, instance.url, document)


def _failed(instance: Instance, found: Problem) -> Report:
    return Report(instance.name, instance.url, None, found)


def _http_problem(exc: urllib.error.HTTPError, lang: Lang) -> Problem:
    if exc.code == 401:
        return problem("unauthorized", lang, 401)
    try:
        detail = str(json.load(exc)["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        detail = str(exc.reason)
    return problem("http-error", lang, exc.code, status=exc.code, detail=detail)


def _network_problem(exc: Exception, lang: Lang, timeout: float) -> Problem:
    reason: object = getattr(exc, "reason", exc)
    if isinstance(reason, ConnectionRefusedError):
        return problem("connection-refused", lang)
    if isinstance(reason, TimeoutError):
        return problem("timeout", lang, seconds=timeout)
    detail = getattr(reason, "strerror", None) or str(reason)
    return problem("unreachable", lang, detail=detail)


def _is_health_document(document: Any) -> bool:
    """The shape `join` reads: pools → settings → servers with address, health and reason."""
    try:
        for pool in document["backendAddressPools"]:
            str(pool["backendAddressPool"]["name"])
            for item in pool["backendHttpSettingsCollection"]:
                str(item["backendHttpSettings"]["name"])
                if not all({"address", "health", "reason"} <= set(s) for s in item["servers"]):
                    return False
    except (KeyError, TypeError):
        return False
    return True

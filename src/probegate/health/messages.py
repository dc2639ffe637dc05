"""The words of the reason vocabulary (SPEC section 4): each code's message and remedy, and each
warning's text, in English and Korean.

Rules of this module:
- a message is one sentence naming the observed facts; a remedy is the concrete steps to fix it;
- templates name facts as `{key}`; a missing fact renders as `?` rather than failing, so an
  incomplete observation still explains itself;
- the fact keys used here are the ones `evaluate.py` and `tlscheck.py` put into results;
- the codes themselves (stable API strings) and their states live in `codes.py`; this file only
  holds words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from probegate.health.codes import SELF_SIGNED_LEAF, Reason
from probegate.health.korean import attach_particles
from probegate.health.result import WarningCode
from probegate.i18n import Lang, Words


@dataclass(frozen=True, slots=True)
class Entry:
    message: Words
    remedy: Words


TABLE: dict[Reason, Entry] = {
    Reason.SUCCESS: Entry(
        Words(
            "{url} answered {status} in {duration_ms} ms.",
            "{url}(이/가) {duration_ms} ms 만에 {status}(을/를) 응답했습니다.",
        ),
        Words("Nothing to do.", "조치할 것이 없습니다."),
    ),
    Reason.BACKEND_SERVER_TIMEOUT: Entry(
        Words(
            "Connected to {address}, but {detail} (probe timeout {timeout_ms} ms).",
            "{address} 에 연결했지만 {detail} (프로브 제한 시간 {timeout_ms} ms).",
        ),
        Words(
            "Check why the application at {address} answers {path} slowly (its logs, CPU, the "
            "database it waits on). If the slowness is expected, raise the probe 'timeout' or point "
            "the probe at a cheaper health path.",
            "{address} 의 애플리케이션이 {path} 에 늦게 응답하는 원인(로그, CPU, 기다리는 DB 등)을 "
            "확인하세요. 느린 것이 정상이라면 프로브 'timeout' 을 늘리거나 더 가벼운 헬스 경로로 "
            "프로브를 바꾸세요.",
        ),
    ),
    Reason.DNS_RESOLUTION_ERROR: Entry(
        Words(
            "{name} could not be resolved: {resolver} answered {answer}, and no earlier answer is "
            "known.",
            "{name}(을/를) 해석할 수 없습니다: {resolver} 의 응답은 {answer} 이며, 이전에 받은 "
            "주소도 없습니다.",
        ),
        Words(
            "Check the member's spelling in backendAddresses, then ask the same resolver: "
            "`dig @{resolver_host} -p {resolver_port} {name}`. Create the record, or fix "
            "'dnsServers' if the wrong resolver is asked.",
            "backendAddresses 의 이름 철자를 확인하고, 같은 리졸버에 직접 물어보세요: "
            "`dig @{resolver_host} -p {resolver_port} {name}`. 레코드를 만들거나, 다른 리졸버에 "
            "묻고 있다면 'dnsServers' 를 고치세요.",
        ),
    ),
    Reason.TCP_CONNECT_ERROR: Entry(
        Words(
            "TCP connection to {address} failed: {detail}.",
            "{address} 로의 TCP 연결에 실패했습니다: {detail}.",
        ),
        Words(
            "Refused: start the service or fix the port in the settings (on the backend, "
            "`ss -ltnp` lists what listens). Timed out: the server is overloaded (full accept queue) "
            "or a firewall drops the packets. Unreachable: check the address and routes.",
            "거부됨: 서비스를 시작하거나 설정의 포트를 고치세요 (백엔드에서 `ss -ltnp` 로 "
            "리스닝 중인 포트를 확인). 시간 초과: 서버 과부하(accept 큐 가득 참) 또는 방화벽이 "
            "패킷을 버리는 경우입니다. 도달 불가: 주소와 라우팅을 확인하세요.",
        ),
    ),
    Reason.HTTP_STATUS_CODE_MISMATCH: Entry(
        Words(
            "GET {path} (Host: {host}) returned {received}; the probe expects {expected}.",
            "GET {path} (Host: {host}) 의 응답은 {received} 이며, 프로브는 {expected}(을/를) "
            "기대합니다.",
        ),
        Words(
            "Make {path} answer a status in {expected}, or add {received} to the probe's "
            "match.statusCodes if it means healthy.",
            "{path}(이/가) {expected} 범위의 상태 코드를 응답하게 하거나, {received}(이/가) 정상을 "
            "뜻한다면 프로브의 match.statusCodes 에 추가하세요.",
        ),
    ),
    Reason.HTTP_RESPONSE_BODY_MISMATCH: Entry(
        Words(
            'The response ({status}) does not contain "{expected_body}"; it begins: {excerpt}',
            '응답({status})에 "{expected_body}" 가 없습니다. 응답의 시작 부분: {excerpt}',
        ),
        Words(
            "Make {path} include the expected text (the match is a case-sensitive substring of the "
            "first 64 KiB, not a pattern), or correct the probe's match.body.",
            "{path} 의 응답에 기대하는 문자열이 들어가게 하거나 (대소문자를 구분하는 부분 문자열 "
            "비교이며, 앞 64 KiB 만 봅니다. 정규식이 아닙니다) 프로브의 match.body 를 고치세요.",
        ),
    ),
    Reason.CERTIFICATE_INVALID_CA: Entry(
        Words(
            "The chain of {subject} ends at the root {chain_root}, which the server sent and "
            "which is not a well-known CA.",
            "{subject} 의 체인은 서버가 함께 보낸 루트 {chain_root} 에서 끝나며, 이 루트는 잘 알려진 "
            "CA 가 아닙니다.",
        ),
        Words(
            "Upload the root of this chain as a trusted root certificate and list it in the "
            "settings' trustedRootCertificates, or install a certificate from a public CA on the "
            "backend.",
            "이 체인의 루트 인증서를 신뢰할 수 있는 루트 인증서로 올리고 설정의 "
            "trustedRootCertificates 에 추가하거나, 백엔드에 공인 CA 인증서를 설치하세요.",
        ),
    ),
    Reason.TRUSTED_ROOT_MISMATCH: Entry(
        Words(
            "The chain of {subject} ends at {chain_root}, which is none of the trusted roots "
            "({roots}).",
            "{subject} 의 체인은 {chain_root} 에서 끝나며, 신뢰할 수 있는 루트({roots}) 중 어느 "
            "것도 아닙니다.",
        ),
        Words(
            "Upload the root certificate that issued the backend's chain (export it from the "
            "backend: `openssl s_client -connect {address} -showcerts`), or install on the backend "
            "a certificate issued under one of the trusted roots.",
            "백엔드 체인을 발급한 루트 인증서를 올리거나 (백엔드에서 `openssl s_client -connect "
            "{address} -showcerts` 로 확인), 신뢰하는 루트 아래에서 발급된 인증서를 백엔드에 "
            "설치하세요.",
        ),
    ),
    Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED: Entry(
        Words(
            "The backend presented the root {chain_root} with {subject}, but that root is none "
            "of the trusted roots ({roots}).",
            "백엔드가 {subject} 와 함께 루트 {chain_root}(을/를) 제시했지만, 이 루트는 신뢰할 수 "
            "있는 루트({roots}) 중 어느 것도 아닙니다.",
        ),
        Words(
            "Upload the root the backend sends (the last certificate printed by `openssl s_client "
            "-connect {address} -showcerts`) as a trusted root certificate and list it in the "
            "settings' trustedRootCertificates, or install on the backend a chain issued under one "
            "of the uploaded roots.",
            "백엔드가 보내는 루트 인증서(`openssl s_client -connect {address} -showcerts` 출력의 "
            "마지막 인증서)를 신뢰할 수 있는 루트 인증서로 올리고 설정의 trustedRootCertificates 에 "
            "추가하거나, 올린 루트 아래에서 발급된 체인을 백엔드에 설치하세요.",
        ),
    ),
    Reason.INTERMEDIATE_NOT_WELL_KNOWN: Entry(
        Words(
            "The chain of {subject} stops at the intermediate {top_intermediate}, whose issuer "
            "{missing_issuer} is not a well-known CA.",
            "{subject} 의 체인은 중간 인증서 {top_intermediate} 에서 끝나며, 그 발급자 "
            "{missing_issuer}(은/는) 잘 알려진 CA 가 아닙니다.",
        ),
        Words(
            "For a private CA, upload its root ({missing_issuer}) as a trusted root certificate "
            "and list it in the settings' trustedRootCertificates; for a public CA, send the "
            "intermediates it is missing. Sending the root last in the backend's chain makes "
            "the chain easy to check.",
            "사설 CA 라면 그 루트({missing_issuer})를 신뢰할 수 있는 루트 인증서로 올리고 설정의 "
            "trustedRootCertificates 에 추가하세요. 공인 CA 라면 빠진 중간 인증서를 보내게 하세요. "
            "백엔드 체인의 마지막에 루트도 함께 보내면 확인하기 쉽습니다.",
        ),
    ),
    Reason.LEAF_MISSING: Entry(
        Words(
            "The server presented only CA certificates ({presented}); none of them is an "
            "end-entity (leaf) certificate for the server itself.",
            "서버가 CA 인증서만 제시했습니다({presented}). 그중 서버 자신을 위한 최종 엔터티(리프) "
            "인증서는 없습니다.",
        ),
        Words(
            "Install the server's own certificate (issued for its host name, without CA:TRUE) "
            "on the backend and send it first, followed by its intermediates; `openssl s_client "
            "-connect {address} -showcerts` shows what it sends now.",
            "호스트 이름으로 발급되고 CA:TRUE 가 없는 서버 자신의 인증서를 백엔드에 설치해 맨 앞에 "
            "보내고, 그 뒤에 중간 인증서를 보내세요. 지금 보내는 것은 `openssl s_client -connect "
            "{address} -showcerts` 로 확인할 수 있습니다.",
        ),
    ),
    Reason.INTERMEDIATE_MISSING: Entry(
        Words(
            "The server sent the certificate of {subject} without its issuer {missing_issuer}.",
            "서버가 {subject} 의 인증서를 보내면서 발급자 {missing_issuer} 인증서를 보내지 "
            "않았습니다.",
        ),
        Words(
            "Configure the backend to send the full chain: leaf first, then every intermediate "
            "(for nginx, put them in ssl_certificate after the leaf; for IIS, install the "
            "intermediates in the computer's Intermediate store).",
            "백엔드가 전체 체인을 보내도록 설정하세요: 리프 인증서 다음에 모든 중간 인증서 순서로 "
            "(nginx 는 ssl_certificate 파일에서 리프 뒤에 이어 붙이고, IIS 는 중간 인증 기관 "
            "저장소에 설치).",
        ),
    ),
    Reason.LEAF_NOT_TOPMOST: Entry(
        Words(
            "The server sent {first_subject} (a CA) first; the leaf {leaf_subject} must come first.",
            "서버가 CA 인 {first_subject}(을/를) 먼저 보냈습니다. 리프 인증서 {leaf_subject}(이/가) 맨 "
            "앞에 와야 합니다.",
        ),
        Words(
            "Reorder the backend's certificate file: the leaf first, then the intermediates, each "
            "followed by its issuer.",
            "백엔드 인증서 파일의 순서를 바꾸세요: 리프 인증서가 먼저, 그 다음 각 인증서의 발급자 "
            "순서로 중간 인증서를 두세요.",
        ),
    ),
    Reason.NAME_MISMATCH: Entry(
        Words(
            "The certificate names {presented}, but the probe expects {expected}.",
            "인증서에는 {presented}(이/가) 있지만 프로브는 {expected}(을/를) 기대합니다.",
        ),
        Words(
            "Issue the backend a certificate whose SAN includes {expected}, or change the name the "
            "probe uses (the probe's host, or the settings' hostName) to one the certificate holds.",
            "SAN 에 {expected}(이/가) 포함된 인증서를 백엔드에 발급하거나, 프로브가 쓰는 이름(프로브의 "
            "host 또는 설정의 hostName)을 인증서에 있는 이름으로 바꾸세요.",
        ),
    ),
    Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID: Entry(
        Words(
            "The certificate of {which} is {validity}: valid from {not_before} to {not_after}, "
            "checked at {now}.",
            "{which} 의 인증서는 {validity} 상태입니다: 유효 기간 {not_before} ~ {not_after}, "
            "확인 시각 {now}.",
        ),
        Words(
            "Renew the certificate on the backend (or fix the clock of whichever machine is wrong "
            "when it is not yet valid).",
            "백엔드의 인증서를 갱신하세요 (아직 유효하지 않은 경우라면 시계가 틀린 쪽 서버의 "
            "시간을 맞추세요).",
        ),
    ),
    Reason.AUTHENTICATION_CERTIFICATE_MISMATCH: Entry(
        Words(
            "The backend presented {subject} (SHA-256 {sha256}), which is none of the "
            "authentication certificates ({configured}).",
            "백엔드가 제시한 {subject} (SHA-256 {sha256}) 는 인증 인증서({configured}) 중 어느 "
            "것과도 같지 않습니다.",
        ),
        Words(
            "Upload the backend's current certificate as an authentication certificate (export "
            "its public part as .cer), or install the expected certificate on the backend.",
            "백엔드의 현재 인증서 공개 부분을 .cer 로 내보내 인증 인증서로 올리거나, 기대하는 "
            "인증서를 백엔드에 설치하세요.",
        ),
    ),
    Reason.CERTIFICATE_VERIFICATION_FAILED: Entry(
        Words(
            "Certificate verification failed: OpenSSL error {openssl_code} ({openssl_error}) at "
            "depth {depth}.",
            "인증서 검증에 실패했습니다: OpenSSL 오류 {openssl_code} ({openssl_error}), "
            "깊이 {depth}.",
        ),
        Words(
            "Inspect the chain with `probegate diagnose` or `openssl s_client -connect {address} "
            "-showcerts`, and replace the certificate the error points at.",
            "`probegate diagnose` 또는 `openssl s_client -connect {address} -showcerts` 로 "
            "체인을 살펴보고, 오류가 가리키는 인증서를 교체하세요.",
        ),
    ),
    Reason.TLS_HANDSHAKE_ERROR: Entry(
        Words(
            "The TLS handshake with {address} failed: {detail}.",
            "{address} 와의 TLS 핸드셰이크에 실패했습니다: {detail}.",
        ),
        Words(
            "Check that {address} serves TLS (a plain-HTTP port needs Http settings), and that it "
            "accepts TLS 1.2 or 1.3 with a modern cipher.",
            "{address}(이/가) TLS 를 제공하는지 (평문 HTTP 포트라면 설정을 Http 로), TLS 1.2 또는 "
            "1.3 과 최신 암호 스위트를 허용하는지 확인하세요.",
        ),
    ),
    Reason.INVALID_HTTP_RESPONSE: Entry(
        Words(
            "{address} did not answer with a valid HTTP/1.x response: {detail}.",
            "{address}(이/가) 올바른 HTTP/1.x 응답을 보내지 않았습니다: {detail}.",
        ),
        Words(
            "Check that the port in the settings is the application's HTTP port (not a database, "
            "a TLS port or an HTTP/2-only listener) and that the application does not crash while "
            "answering {path}.",
            "설정의 포트가 애플리케이션의 HTTP 포트인지 (DB, TLS 포트, HTTP/2 전용 리스너가 "
            "아닌지), {path} 에 응답하는 도중 애플리케이션이 죽지 않는지 확인하세요.",
        ),
    ),
    Reason.DNS_LAST_GOOD_LOST: Entry(
        Words(
            "{name} resolved before through {previous_resolver}, but {resolver} now answers "
            "{answer}; its last good addresses went with the resolver a reload replaced, so "
            "there is nothing to probe.",
            "{name}(은/는) 이전에 {previous_resolver} 에서 해석되었지만 지금 {resolver} 의 응답은 "
            "{answer} 입니다. 마지막으로 성공한 주소는 재적재로 바뀐 이전 리졸버와 함께 사라져, "
            "프로브할 주소가 없습니다.",
        ),
        Words(
            "Make the new resolver answer for the name (`dig @{resolver_host} -p {resolver_port} "
            "{name}`), or put back the dnsServers that answered. Reloads that keep dnsServers "
            "keep the last good addresses.",
            "새 리졸버가 이 이름에 응답하게 하거나 (`dig @{resolver_host} -p {resolver_port} "
            "{name}`), 응답하던 dnsServers 로 되돌리세요. dnsServers 를 바꾸지 않는 재적재는 "
            "마지막으로 성공한 주소를 유지합니다.",
        ),
    ),
    Reason.NOT_YET_PROBED: Entry(
        Words(
            "No probe result yet; the first probe starts within 2 seconds of start or reload.",
            "아직 프로브 결과가 없습니다. 첫 프로브는 시작 또는 재적재 후 2초 이내에 시작됩니다.",
        ),
        Words("Wait for the first probe.", "첫 프로브를 기다리세요."),
    ),
    Reason.PROBE_STALE: Entry(
        Words(
            "No probe result for more than 3 intervals ({interval} s each): the prober is stuck "
            "or overloaded.",
            "3회 주기(각 {interval} 초) 넘게 프로브 결과가 없습니다: 프로버가 멈췄거나 과부하 "
            "상태입니다.",
        ),
        Words(
            "This is a fault of the gateway, not of the backend: check the gateway's CPU and logs, "
            "and reduce the number of targets or lengthen intervals if it is overloaded.",
            "백엔드가 아니라 게이트웨이의 문제입니다: 게이트웨이의 CPU 와 로그를 확인하고, "
            "과부하라면 대상 수를 줄이거나 주기를 늘리세요.",
        ),
    ),
    Reason.DRAINING: Entry(
        Words(
            "Draining: no new requests; in-flight requests may finish within {drain_timeout} s.",
            "드레이닝 중: 새 요청은 받지 않으며, 진행 중인 요청은 {drain_timeout} 초 안에 "
            "끝날 수 있습니다.",
        ),
        Words("Nothing to do; the member leaves when draining ends.", "조치할 것이 없습니다."),
    ),
    Reason.PASSIVE_EJECTION: Entry(
        Words(
            "Taken out by live traffic: {what}; back after {until} UTC once its probe passes.",
            "실제 트래픽으로 제외됨: {first}–{last} UTC 사이에 연속 {count}회 실패({kinds}). "
            "{until} UTC 이후 프로브가 통과하면 돌아옵니다.",
        ),
        Words(
            "Its probe passes but real requests fail: look at the server's own log for those "
            "requests and at what differs from the probe's path. It returns once the ejection "
            "time has passed and its probe passes.",
            "프로브는 통과하지만 실제 요청이 실패합니다. 그 요청들에 대한 서버 로그와 프로브 경로와의 "
            "차이를 확인하세요. 제외 시간이 지나고 프로브가 통과하면 돌아옵니다.",
        ),
    ),
    Reason.RECOVERING: Entry(
        Words(
            "Passing again: {passes} of the {needed} passes in a row it needs to be Healthy "
            "(healthyThreshold); it takes no traffic until then.",
            "다시 통과 중: 정상이 되려면 연속 {needed}회 통과해야 하며(healthyThreshold) 지금까지 "
            "{passes}회 통과했습니다. 그때까지 트래픽을 받지 않습니다.",
        ),
        Words(
            "Nothing to do: it returns to rotation after {needed} passes in a row; a failure "
            "starts the count again.",
            "조치할 것이 없습니다. 연속 {needed}회 통과하면 다시 트래픽을 받으며, 실패하면 "
            "처음부터 다시 셉니다.",
        ),
    ),
}

# Chain shapes that one code covers but that need their own words: the model's guide files a
# self-signed certificate without CA:TRUE under intermediate-certificate-missing (it is taken for
# a leaf whose issuer is missing), and the operator must be told that is what it is.
SHAPES: dict[tuple[Reason, str], Entry] = {
    (Reason.INTERMEDIATE_MISSING, SELF_SIGNED_LEAF): Entry(
        Words(
            "The certificate of {subject} is self-signed but not a CA (no CA:TRUE basic "
            "constraint), so it is judged as a leaf whose issuing certificate was not sent.",
            "{subject} 의 인증서는 자체 서명되었지만 CA 가 아닙니다 (기본 제약 CA:TRUE 없음). 그래서 "
            "발급자 인증서가 오지 않은 리프 인증서로 판정됩니다.",
        ),
        Words(
            "Make a proper chain: create a root CA certificate with basicConstraints CA:TRUE "
            "(`openssl req -x509 -new -key root.key -subj /CN=my-root -addext "
            "basicConstraints=critical,CA:TRUE -out root.crt`), issue the server's certificate "
            "from it (`openssl x509 -req -in server.csr -CA root.crt -CAkey root.key -out "
            "server.crt`), install server.crt on the backend and upload root.crt as a trusted "
            "root certificate of the settings.",
            "올바른 체인을 만드세요: basicConstraints CA:TRUE 인 루트 CA 인증서를 만들고 (`openssl "
            "req -x509 -new -key root.key -subj /CN=my-root -addext "
            "basicConstraints=critical,CA:TRUE -out root.crt`), 그 루트로 서버 인증서를 발급한 뒤 "
            "(`openssl x509 -req -in server.csr -CA root.crt -CAkey root.key -out server.crt`), "
            "server.crt 를 백엔드에 설치하고 root.crt 를 설정의 신뢰할 수 있는 루트 인증서로 "
            "올리세요.",
        ),
    ),
}


def _entry(reason: Reason, facts: Mapping[str, str]) -> Entry:
    return SHAPES.get((reason, facts.get("shape", "")), TABLE[reason])


# Status-specific remedies for http-status-code-mismatch (SPEC section 11, row 7). Those in
# COMPLETE_REMEDIES already say to add the status to match.statusCodes; the others are followed
# by the general remedy, which does.
COMPLETE_REMEDIES = frozenset({401, 403})
STATUS_REMEDIES: dict[int, Words] = {
    401: Words(
        "The probe sends no credentials. Probe a path that needs no authentication, or add 401 to "
        "match.statusCodes if a 401 proves the application is up.",
        "프로브는 인증 정보를 보내지 않습니다. 인증이 필요 없는 경로를 프로브하거나, 401 도 "
        "애플리케이션이 살아 있다는 뜻이면 match.statusCodes 에 401 을 추가하세요.",
    ),
    403: Words(
        "The backend forbids the probe: allow requests from the gateway's address and Host {host} "
        "on {path} (IP allow-lists, WAF rules), or add 403 to match.statusCodes.",
        "백엔드가 프로브를 거부합니다: {path} 에 대해 게이트웨이 주소와 Host {host} 의 요청을 "
        "허용하거나 (IP 허용 목록, WAF 규칙), match.statusCodes 에 403 을 추가하세요.",
    ),
    404: Words(
        "Path {path} does not exist for Host {host}: fix the probe's path (or the settings' host "
        "name, if the backend routes by Host).",
        "Host {host} 에 {path} 경로가 없습니다: 프로브의 path 를 고치세요 (백엔드가 Host 로 "
        "라우팅한다면 설정의 호스트 이름도).",
    ),
    405: Words(
        "Probes always use GET: make {path} accept GET, or probe a path that does.",
        "프로브는 항상 GET 을 씁니다: {path}(이/가) GET 을 받도록 하거나 GET 을 받는 경로를 "
        "프로브하세요.",
    ),
    500: Words(
        "The application failed while answering {path}: read its error log on the backend.",
        "애플리케이션이 {path} 응답 중 오류를 냈습니다: 백엔드의 오류 로그를 확인하세요.",
    ),
    502: Words(
        "Something behind the backend (its own upstream) failed: check the service it proxies to.",
        "백엔드 뒤의 업스트림이 실패했습니다: 백엔드가 프록시하는 서비스를 확인하세요.",
    ),
    503: Words(
        "The application says it is unavailable (starting, overloaded or in maintenance): check "
        "its readiness and capacity.",
        "애플리케이션이 사용 불가라고 응답합니다 (기동 중, 과부하, 점검 중): 준비 상태와 "
        "용량을 확인하세요.",
    ),
}


class _Facts(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, facts: Mapping[str, str]) -> str:
    if "(" in template:  # Korean `{fact}(이/가)` markers: the particle follows the value
        template = attach_particles(template, dict(facts))
    return template.format_map(_Facts(facts))


# The runner and the certificate check describe what they saw in English words; a Korean
# message translates those words instead of carrying English inside a Korean sentence.
_KO_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"^refused$", "연결이 거부됨"),
        (r"^reset$", "연결이 리셋됨"),
        (r"^timed out after (\d+) ms$", r"\1 ms 후 시간 초과"),
        (r"^timed out \(the operating system gave up\)$", "시간 초과 (운영체제가 연결을 포기함)"),
        (r"^host unreachable$", "호스트에 도달할 수 없음"),
        (r"^network unreachable$", "네트워크에 도달할 수 없음"),
        (r"^no response head within (\d+) ms$", r"\1 ms 안에 응답 헤더가 오지 않음"),
        (r"^body incomplete after (\d+) ms$", r"\1 ms 후에도 응답 본문이 끝나지 않음"),
        (
            r"^TLS handshake not complete after (\d+) ms$",
            r"\1 ms 후에도 TLS 핸드셰이크가 끝나지 않음",
        ),
        (
            r"^reset by the backend during the TLS handshake(.*)$",
            r"TLS 핸드셰이크 중 백엔드가 연결을 리셋함\1",
        ),
        (
            r"^closed by the backend during the TLS handshake(.*)$",
            r"TLS 핸드셰이크 중 백엔드가 연결을 닫음\1",
        ),
        (
            r"^reset by the backend before the response head(.*)$",
            r"응답 헤더 전에 백엔드가 연결을 리셋함\1",
        ),
        (
            r"^closed by the backend before the response head(.*)$",
            r"응답 헤더 전에 백엔드가 연결을 닫음\1",
        ),
        (r"^expired$", "만료됨"),
        (r"^not yet valid$", "아직 유효하지 않음"),
        (r"^\(empty body\)$", "(빈 본문)"),
    )
)
_TRIED = re.compile(r"^(.*) \(tried (.*)\)$")
_TRANSLATED = ("detail", "validity", "excerpt")


def _korean(text: str) -> str:
    tried = _TRIED.match(text)
    if tried:
        return f"{_korean(tried.group(1))} (시도한 주소: {tried.group(2)})"
    for pattern, words in _KO_DETAILS:
        if pattern.match(text):
            return pattern.sub(words, text)
    return text


def _in(lang: Lang, facts: Mapping[str, str]) -> Mapping[str, str]:
    if lang is not Lang.KO or not any(key in facts for key in _TRANSLATED):
        return facts
    return {k: _korean(v) if k in _TRANSLATED else v for k, v in facts.items()}


def message(reason: Reason, facts: Mapping[str, str], lang: Lang = Lang.EN) -> str:
    return _fill(_entry(reason, facts).message.in_(lang), _in(lang, facts))


# Cause-specific remedies for tcp-connect-error, chosen by how the connect ended.
CONNECT_REMEDIES: dict[str, Words] = {
    "refused": Words(
        "Nothing listens on {address}: start the service, or fix the port in the settings (on the "
        "backend, `ss -ltnp` lists what listens where).",
        "{address} 에서 리스닝하는 프로세스가 없습니다: 서비스를 시작하거나 설정의 포트를 고치세요 "
        "(백엔드에서 `ss -ltnp` 로 리스닝 중인 포트를 확인).",
    ),
    "timed": Words(
        "{address} did not complete the TCP handshake: the server is overloaded (a full accept "
        "queue) or a firewall drops the packets. Check its load and firewall rules.",
        "{address}(이/가) TCP 핸드셰이크를 끝내지 않았습니다: 서버 과부하(accept 큐 가득 참)이거나 "
        "방화벽이 패킷을 버립니다. 부하와 방화벽 규칙을 확인하세요.",
    ),
    "reset": Words(
        "{address} reset the connection: a firewall or the service refuses the gateway's address.",
        "{address}(이/가) 연결을 리셋했습니다: 방화벽이나 서비스가 게이트웨이의 주소를 거부합니다.",
    ),
    "unreachable": Words(
        "{address} cannot be reached: check the address and the routes between the gateway and it.",
        "{address} 에 도달할 수 없습니다: 주소와 게이트웨이와의 라우팅을 확인하세요.",
    ),
}


def _connect_cause(detail: str) -> str:
    first = detail.split(" ", 1)[0]
    return "unreachable" if "unreachable" in detail.split("(", maxsplit=1)[0] else first


def remedy(reason: Reason, facts: Mapping[str, str], lang: Lang = Lang.EN) -> str:
    if reason is Reason.TCP_CONNECT_ERROR:
        cause = CONNECT_REMEDIES.get(_connect_cause(facts.get("detail", "")))
        if cause is not None:
            return _fill(cause.in_(lang), facts)
    facts = _in(lang, facts)
    words = _entry(reason, facts).remedy
    if reason is Reason.HTTP_STATUS_CODE_MISMATCH:
        received = facts.get("received", "")
        specific = STATUS_REMEDIES.get(int(received)) if received.isdigit() else None
        if specific is not None and int(received) in COMPLETE_REMEDIES:
            return _fill(specific.in_(lang), facts)
        if specific is not None:
            return _fill(specific.in_(lang), facts) + " " + _fill(words.in_(lang), facts)
    return _fill(words.in_(lang), facts)


WARNINGS: dict[WarningCode, Words] = {
    WarningCode.CERTIFICATE_EXPIRING: Words(
        "The certificate of {subject} expires on {not_after} ({days_left} days left): renew it "
        "before it does.",
        "{subject} 의 인증서가 {not_after} 에 만료됩니다 ({days_left}일 남음). 만료 전에 "
        "갱신하세요.",
    ),
    WarningCode.DNS_LAST_GOOD: Words(
        "{resolver} now answers {answer} for {name}; probing the last good addresses "
        "({addresses}) until it resolves again.",
        "{resolver}(이/가) {name} 에 대해 지금 {answer}(을/를) 응답합니다. 다시 해석될 때까지 마지막으로 "
        "성공한 주소({addresses})로 프로브합니다.",
    ),
    WarningCode.INSECURE_SKIP_VERIFY: Words(
        "insecureSkipVerify is on: the backend's certificate is not verified (lab use only).",
        "insecureSkipVerify 가 켜져 있습니다: 백엔드 인증서를 검증하지 않습니다 (실험용으로만 "
        "쓰세요).",
    ),
    WarningCode.CHAIN_NOT_VALIDATED: Words(
        "validateCertChainAndExpiry is false: the backend's chain, its trust and its dates are "
        "not checked.",
        "validateCertChainAndExpiry 가 false 입니다: 백엔드 인증서 체인, 신뢰 여부, 유효 기간을 "
        "확인하지 않습니다.",
    ),
    WarningCode.NAME_NOT_VALIDATED: Words(
        "validateSNI is false: the backend certificate's name is not checked against the server "
        "name.",
        "validateSNI 가 false 입니다: 백엔드 인증서의 이름을 서버 이름과 비교하지 않습니다.",
    ),
}


def warning_text(code: WarningCode, facts: Mapping[str, str], lang: Lang = Lang.EN) -> str:
    return _fill(WARNINGS[code].in_(lang), facts)

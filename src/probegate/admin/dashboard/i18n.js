// The dashboard's own words in English and Korean, and how times and durations are written.
// Messages and remedies are not here: the API renders them (`?lang=ko`) from the reason table.

const WORDS = {
  en: {
    title: 'Backend health',
    skip: 'Skip to the tables',
    gateway: 'probegate {version} · {targets} probe targets',
    proberStopped: 'The prober has stopped: backend health is no longer measured.',
    language: 'Language',
    problemsOnly: 'Show problems only',
    live: 'Live updates',
    updated: 'Updated {time} · refreshes every {seconds} s',
    updatedLive: 'Updated {time} · live: state changes at once, details every {seconds} s',
    paused: 'Paused at {time} · press “Live updates” to resume',
    loading: 'Loading backend health…',
    unreachable: 'Cannot reach the admin API ({error}); retrying…',
    empty: 'No probe targets: no routing rule binds a backend pool to backend settings.',
    allGood: 'No problems: every server is healthy.',
    'state.Healthy': 'Healthy',
    'state.Unhealthy': 'Unhealthy',
    'state.Unknown': 'Unknown',
    'state.Draining': 'Draining',
    warnings: 'Warnings',
    summary: 'Summary',
    certWarnings: 'Certificate warnings',
    pool: 'Backend pool',
    settings: 'Backend settings',
    probeMeta: '{protocol} · probe {name} · {url}',
    probeTiming: 'every {interval} s · timeout {timeout} s · unhealthy after {threshold}',
    defaultProbe: '(default)',
    healthyCount: '{healthy} of {total} healthy',
    noRoutable: 'No server takes traffic: requests routed to this pair get 502.',
    caption: 'Servers of backend pool {pool} with backend settings {settings}',
    'col.server': 'Server',
    'col.health': 'Health',
    'col.details': 'Details',
    'col.reason': 'Reason',
    'col.last': 'Last probe',
    'col.failures': 'Failures',
    'col.history': 'History',
    'col.result': 'Result',
    'col.duration': 'Duration',
    remedy: 'How to fix',
    traffic: 'takes traffic',
    noTraffic: 'no traffic',
    byMinServers: 'takes traffic (minServers)',
    passes: '{n} / {of} passes',
    timelineLabel: 'Last 24 h: {n} state changes',
    timelineQuiet: 'Last 24 h: {state}, no change',
    timelineNone: 'not probed yet',
    rampingUp: 'takes traffic, ramping up: {share} % of its share (slow start)',
    warmingUp: 'takes traffic, warming up: on its verdict from before the reload until its new probe answers',
    removedServing: 'removed by the reload; takes traffic until a new server of this pool passes',
    for: 'for {d}',
    ago: '{d} ago',
    never: 'not yet',
    certUntil: 'certificate until {date}',
    pending: 'failing',
    pendingTitle: 'Still routable: it goes down when the failures reach the threshold.',
    historyLabel: 'Last {n} probes, oldest first: {passed} passed, {failed} failed',
    noHistory: 'no results yet',
    'phase.resolve': 'DNS',
    'phase.connect': 'connect',
    'phase.tls': 'TLS',
    'phase.response': 'response',
    probeNow: 'Probe now',
    probing: 'Probing…',
    options: 'Options',
    optionsTitle: 'Override the probe for this run only',
    path: 'Path',
    host: 'Host',
    statusCodes: 'Expected status',
    asConfigured: 'as configured',
    ondemandTitle: 'On-demand probe at {time}',
    ondemandNote: 'A one-off probe: it changes no state.',
    overrides: 'With overrides: {list}.',
    ondemandCaption: 'On-demand probe of backend pool {pool} with backend settings {settings}',
    ondemandDone: 'On-demand probe of {pool} / {settings}: {healthy} of {total} healthy',
    ondemandFailed: 'The probe could not run: {message}',
    dismiss: 'Dismiss',
    tokenNeeded: 'This gateway’s admin API needs its token.',
    tokenRefused: 'The admin API refused this token.',
    tokenLabel: 'Admin token',
    tokenUse: 'Use token',
    tokenNote: 'Kept in this browser tab only (sessionStorage) and sent as “Authorization: Bearer”.',
    tokenForget: 'Forget token',
    api: 'JSON API',
    openapi: 'OpenAPI document',
    fleetTitle: 'Fleet backend health',
    fleetGateway: '{reachable} of {instances} instances answering · {servers} servers · {disagreements} with a disagreement',
    fleetInstances: 'Instances',
    fleetAnswering: 'answering',
    fleetUnreachable: 'unreachable',
    fleetNotConfigured: 'not configured',
    fleetCaption: 'Each server’s health on each instance',
    'col.verdict': 'Verdict',
    fleetVerdict: '{state} on {count} of {of} instances',
    fleetAbsent: ' · not configured on {count}',
    fleetUpdated: 'Updated {time} · refreshes every {seconds} s',
    fleetLoading: 'Asking every instance…',
    fleetUnreachableAll: 'Cannot reach the fleet dashboard ({error}); retrying…',
    fleetEmpty: 'No probe targets on any instance that answered.',
    fleetTokenNeeded: 'This fleet dashboard needs the token `probegate dashboard` printed.',
    fleetTokenRefused: 'The fleet dashboard refused this token.',
    fleetTokenLabel: 'Dashboard token',
  },
  ko: {
    title: '백엔드 상태',
    skip: '표로 건너뛰기',
    gateway: 'probegate {version} · 프로브 대상 {targets}개',
    proberStopped: '프로버가 멈췄습니다: 백엔드 상태를 더 이상 측정하지 않습니다.',
    language: '언어',
    problemsOnly: '문제만 보기',
    live: '실시간 갱신',
    updated: '{time} 갱신 · {seconds}초마다 새로 고침',
    updatedLive: '{time} 갱신 · 실시간: 상태 변화는 즉시, 세부 정보는 {seconds}초마다',
    paused: '{time} 에 일시 중지됨 · “실시간 갱신” 을 누르면 다시 시작합니다',
    loading: '백엔드 상태를 불러오는 중…',
    unreachable: '관리 API 에 연결할 수 없습니다 ({error}). 다시 시도하는 중…',
    empty: '프로브 대상이 없습니다: 백엔드 풀과 백엔드 설정을 묶는 라우팅 규칙이 없습니다.',
    allGood: '문제가 없습니다: 모든 서버가 정상입니다.',
    'state.Healthy': '정상',
    'state.Unhealthy': '비정상',
    'state.Unknown': '알 수 없음',
    'state.Draining': '드레이닝',
    warnings: '경고',
    summary: '요약',
    certWarnings: '인증서 경고',
    pool: '백엔드 풀',
    settings: '백엔드 설정',
    probeMeta: '{protocol} · 프로브 {name} · {url}',
    probeTiming: '{interval}초 주기 · 제한 시간 {timeout}초 · {threshold}회 실패 시 비정상',
    defaultProbe: '(기본)',
    healthyCount: '{total}개 중 {healthy}개 정상',
    noRoutable: '트래픽을 받는 서버가 없습니다: 이 조합으로 라우팅된 요청은 502 를 받습니다.',
    caption: '백엔드 풀 {pool}, 백엔드 설정 {settings} 의 서버',
    'col.server': '서버',
    'col.health': '상태',
    'col.details': '세부 정보',
    'col.reason': '원인 코드',
    'col.last': '마지막 프로브',
    'col.failures': '연속 실패',
    'col.history': '기록',
    'col.result': '결과',
    'col.duration': '소요 시간',
    remedy: '해결 방법',
    traffic: '트래픽 받음',
    noTraffic: '트래픽 없음',
    byMinServers: '트래픽 받음 (minServers)',
    passes: '{n} / {of} 통과',
    timelineLabel: '최근 24시간: 상태 변화 {n}회',
    timelineQuiet: '최근 24시간: {state}, 변화 없음',
    timelineNone: '아직 프로브 안 됨',
    rampingUp: '트래픽 받음, 점진 증가: 몫의 {share}% (slow start)',
    warmingUp: '트래픽 받음, 준비 중: 새 프로브가 응답할 때까지 재적용 전 판정을 따름',
    removedServing: '재적용으로 제거됨; 이 풀의 새 서버가 프로브를 통과할 때까지 트래픽 받음',
    for: '{d}째',
    ago: '{d} 전',
    never: '아직 없음',
    certUntil: '인증서 만료 {date}',
    pending: '실패 중',
    pendingTitle: '아직 트래픽을 받습니다: 연속 실패가 임계값에 이르면 비정상이 됩니다.',
    historyLabel: '최근 {n}회 프로브 (오래된 것부터): 성공 {passed}회, 실패 {failed}회',
    noHistory: '결과 없음',
    'phase.resolve': 'DNS',
    'phase.connect': '연결',
    'phase.tls': 'TLS',
    'phase.response': '응답',
    probeNow: '지금 프로브',
    probing: '프로브 중…',
    options: '옵션',
    optionsTitle: '이번 프로브에만 적용할 값',
    path: '경로',
    host: '호스트',
    statusCodes: '기대 상태 코드',
    asConfigured: '설정값 그대로',
    ondemandTitle: '{time} 즉시 프로브 결과',
    ondemandNote: '한 번만 실행하는 프로브이며 상태를 바꾸지 않습니다.',
    overrides: '적용한 값: {list}.',
    ondemandCaption: '백엔드 풀 {pool}, 백엔드 설정 {settings} 의 즉시 프로브 결과',
    ondemandDone: '{pool} / {settings} 즉시 프로브: {total}개 중 {healthy}개 정상',
    ondemandFailed: '프로브를 실행할 수 없습니다: {message}',
    dismiss: '닫기',
    tokenNeeded: '이 게이트웨이의 관리 API 에는 토큰이 필요합니다.',
    tokenRefused: '관리 API 가 이 토큰을 거부했습니다.',
    tokenLabel: '관리 토큰',
    tokenUse: '토큰 사용',
    tokenNote: '이 브라우저 탭에만 보관되며 (sessionStorage) “Authorization: Bearer” 로 보냅니다.',
    tokenForget: '토큰 지우기',
    api: 'JSON API',
    openapi: 'OpenAPI 문서',
    fleetTitle: '인스턴스 전체의 백엔드 상태',
    fleetGateway: '인스턴스 {instances}개 중 {reachable}개 응답 · 서버 {servers}개 · 불일치 {disagreements}개',
    fleetInstances: '인스턴스',
    fleetAnswering: '응답함',
    fleetUnreachable: '연결 불가',
    fleetNotConfigured: '구성에 없음',
    fleetCaption: '인스턴스별 각 서버의 상태',
    'col.verdict': '판정',
    fleetVerdict: '인스턴스 {of}개 중 {count}개에서 {state}',
    fleetAbsent: ' · {count}개에는 구성 없음',
    fleetUpdated: '{time} 갱신 · {seconds}초마다 새로 고침',
    fleetLoading: '모든 인스턴스에 묻는 중…',
    fleetUnreachableAll: '인스턴스 대시보드에 연결할 수 없습니다 ({error}). 다시 시도하는 중…',
    fleetEmpty: '응답한 인스턴스 어디에도 프로브 대상이 없습니다.',
    fleetTokenNeeded: '이 대시보드에는 `probegate dashboard` 가 출력한 토큰이 필요합니다.',
    fleetTokenRefused: '대시보드가 이 토큰을 거부했습니다.',
    fleetTokenLabel: '대시보드 토큰',
  },
}

const UNITS = {
  en: { s: ' s', min: ' min', h: ' h', d: ' d' },
  ko: { s: '초', min: '분', h: '시간', d: '일' },
}

export const LANGS = Object.keys(WORDS)
let current = 'en'

export function setLang(lang) {
  current = LANGS.includes(lang) ? lang : 'en'
  return current
}

export function lang() {
  return current
}

export function t(key, vars = {}) {
  const text = WORDS[current][key] ?? WORDS.en[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''))
}

export function stateLabel(health) {
  return WORDS[current][`state.${health}`] ?? health
}

const two = (n) => String(n).padStart(2, '0')

/** HH:MM:SS in the browser's time zone: the same in both languages. */
export function clock(when) {
  const d = new Date(when)
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}

export function day(when) {
  const d = new Date(when)
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
}

/** A length of time in its largest whole unit: "12 s", "5 min" / "12초", "5분". */
export function span(seconds) {
  const units = UNITS[current]
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}${units.s}`
  if (s < 3600) return `${Math.floor(s / 60)}${units.min}`
  if (s < 86400) return `${Math.floor(s / 3600)}${units.h}`
  return `${Math.floor(s / 86400)}${units.d}`
}

export function since(iso, now = Date.now()) {
  return (now - Date.parse(iso)) / 1000
}

export function ms(value) {
  if (value === null || value === undefined) return ''
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`
}

// Calls to the admin API. Paths are relative to the page, so the dashboard also works behind a
// reverse proxy that mounts the admin listener under a prefix.
// The token (when the gateway has one) lives in sessionStorage: this tab only, gone when it closes.

const TOKEN_KEY = 'probegate.adminToken'
const TIMEOUT_MS = 10000

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message)
    this.status = status
    this.body = body
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  else sessionStorage.removeItem(TOKEN_KEY)
}

async function call(path, { lang, method = 'GET', body } = {}) {
  const url = new URL(path, document.baseURI)
  if (lang) url.searchParams.set('lang', lang)
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (token()) headers.Authorization = `Bearer ${token()}`
  let response
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (error) {
    throw new ApiError(0, error.name === 'TimeoutError' ? 'timed out' : error.message)
  }
  const data = await response.json().catch(() => null)
  if (!response.ok) {
    const message = data?.error?.message ?? data?.problem ?? `HTTP ${response.status}`
    throw new ApiError(response.status, message, data)
  }
  return data
}

/** `probegate dashboard`: every instance's backend health, joined (GET /fleet). */
export function fleet(lang) {
  return call('fleet', { lang })
}

export function backendHealth(lang) {
  return call('backendhealth?expand=history', { lang })
}

/** State changes of the last `since` (e.g. '24h') from the lasting history; [] if unavailable. */
export async function events(since) {
  try {
    return (await call(`backendhealth/events?since=${encodeURIComponent(since)}`)).events
  } catch {
    return []
  }
}

/** The gateway itself; a 503 still answers (the prober stopped) and is returned as such. */
export async function gateway() {
  try {
    return await call('healthz')
  } catch (error) {
    if (error.status === 503 && error.body) return error.body
    throw error
  }
}

export function probeNow(request, lang) {
  return call('backendhealth/ondemand', { lang, method: 'POST', body: request })
}

/**
 * Follow GET /backendhealth/stream (Server-Sent Events) and call `onChange` for every state change.
 * fetch rather than EventSource, because EventSource cannot send the Authorization header that a
 * token-protected gateway needs. Resolves when the stream ends; rejects when it cannot be opened.
 */
export async function watch(onChange, onOpen, signal) {
  const headers = { Accept: 'text/event-stream' }
  if (token()) headers.Authorization = `Bearer ${token()}`
  const response = await fetch(new URL('backendhealth/stream', document.baseURI), { headers, cache: 'no-store', signal })
  if (!response.ok || !response.body) throw new ApiError(response.status, `HTTP ${response.status}`)
  onOpen()
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffered += value
    let end
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const message = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      if (message.split('\n').some((line) => line === 'event: health')) onChange()
    }
  }
}

// The dashboard's entry point: language, controls, the admin token, and the refresh loop.
// It follows GET /backendhealth/stream (server-sent events, read with fetch so a token can be
// sent) and refreshes GET /backendhealth?expand=history at once on every state change, and every
// 10 s for the per-probe details (last probe, history strip); without the stream it polls every
// 2 s. It pauses while the tab is hidden or when the operator turns live updates off, and never
// runs two requests at once.

import * as api from './api.js'
import { h, setText } from './dom.js'
import { clock, LANGS, setLang, stateLabel, t } from './i18n.js'
import { createOndemand } from './ondemand.js'
import { createBoard } from './render.js'

const POLL_MS = 2000 // without the event stream
const STREAMING_POLL_MS = 10000 // with it: state changes arrive as they happen
const RECONNECT_MS = 5000
const STATES = ['Healthy', 'Unhealthy', 'Unknown', 'Draining']
const $ = (id) => document.getElementById(id)

const state = { live: true, timer: 0, generation: 0, lastDocument: null, lastGateway: null, streaming: false, stream: null }
const announce = (text) => setText($('announcer'), text)
const board = createBoard($('pools'), createOndemand({ announce, unauthorized: () => askForToken() }))

function chooseLanguage(lang) {
  setLang(lang)
  localStorage.setItem('probegate.lang', lang)
  const url = new URL(location.href)
  url.searchParams.set('lang', lang)
  history.replaceState(null, '', url)
  document.documentElement.lang = lang
  for (const el of document.querySelectorAll('[data-i18n]')) setText(el, t(el.dataset.i18n))
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === lang))
  }
  document.title = `${t('title')} · probegate`
  const open = [...document.querySelectorAll('details.remedy[open]')].map((d) => d.dataset.key)
  board.reset() // the tables are rebuilt with the new words; the open panels stay open
  if (state.lastDocument) showHealth(state.lastDocument)
  for (const key of open) document.querySelector(`details.remedy[data-key="${CSS.escape(key)}"]`)?.setAttribute('open', '')
  if (state.lastGateway) showGateway(state.lastGateway)
  refresh() // and fetched again, for the messages and remedies in that language
}

function initialLanguage() {
  const asked = new URL(location.href).searchParams.get('lang') ?? localStorage.getItem('probegate.lang')
  if (LANGS.includes(asked)) return asked
  return navigator.languages.some((l) => l.toLowerCase().startsWith('ko')) ? 'ko' : 'en'
}

async function refresh() {
  const generation = ++state.generation
  clearTimeout(state.timer)
  try {
    const [health, gateway, changes] = await Promise.all([api.backendHealth(currentLang()), api.gateway(), api.events('24h')])
    attachTimelines(health, changes)
    if (generation !== state.generation) return // a newer refresh (or a language switch) won
    $('problem').hidden = true
    $('pools').classList.remove('stale')
    showHealth(health)
    showGateway(gateway)
    const now = clock(Date.now())
    const updated = state.streaming ? 'updatedLive' : 'updated'
    setText($('freshness'), state.live ? t(updated, { time: now, seconds: pollMs() / 1000 }) : t('paused', { time: now }))
  } catch (error) {
    if (generation !== state.generation) return
    if (error.status === 401) return askForToken()
    setText($('problem'), t('unreachable', { error: error.message }))
    $('problem').hidden = false
    $('pools').classList.add('stale')
  }
  schedule()
}

function schedule() {
  clearTimeout(state.timer)
  if (state.live && !document.hidden) state.timer = setTimeout(refresh, pollMs())
  if (state.live && !document.hidden && !state.stream) follow()
}

const pollMs = () => (state.streaming ? STREAMING_POLL_MS : POLL_MS)

// One stream at a time; when it ends or fails, polling takes over until it reconnects.
function follow() {
  const controller = new AbortController()
  state.stream = controller
  api
    .watch(refresh, () => streaming(true), controller.signal)
    .catch(() => {})
    .finally(() => {
      if (state.stream === controller) state.stream = null
      streaming(false)
      if (!controller.signal.aborted) setTimeout(() => state.live && !document.hidden && !state.stream && follow(), RECONNECT_MS)
    })
}

// `data-stream` on <body> says whether state changes are pushed (tests and curious operators).
function streaming(on) {
  state.streaming = on
  document.body.dataset.stream = on ? 'live' : 'polling'
}

function unfollow() {
  state.stream?.abort()
  state.stream = null
  streaming(false)
}

const currentLang = () => document.documentElement.lang

// Each server gets the state changes of its last 24 h (the timeline under its history strip).
function attachTimelines(health, changes) {
  const byTarget = new Map()
  for (const e of changes) {
    const key = `${e.backendAddressPool}~${e.backendHttpSettings}~${e.server}`
    if (!byTarget.has(key)) byTarget.set(key, [])
    byTarget.get(key).push(e)
  }
  for (const pool of health.backendAddressPools) {
    for (const item of pool.backendHttpSettingsCollection) {
      for (const s of item.servers) s.timeline = byTarget.get(`${pool.backendAddressPool.name}~${item.backendHttpSettings.name}~${s.address}`) ?? []
    }
  }
}

function showHealth(health) {
  state.lastDocument = health
  const servers = health.backendAddressPools.flatMap((p) => p.backendHttpSettingsCollection.flatMap((i) => i.servers))
  $('overview').hidden = false
  $('empty').hidden = servers.length > 0
  board.update(health)
  showTiles(servers)
  showCertificates(health)
  $('all-good').hidden = !document.body.classList.contains('problems-only') || servers.some(isProblem)
}

const isProblem = (s) => !(s.health === 'Healthy' && s.reason === 'success' && s.warnings.length === 0)

function showTiles(servers) {
  const warnings = servers.reduce((n, s) => n + s.warnings.length, 0)
  const tiles = [
    ...STATES.map((name) => [name.toLowerCase(), stateLabel(name), servers.filter((s) => s.health === name).length]),
    ['warnings', t('warnings'), warnings],
  ]
  const signature = JSON.stringify(tiles)
  if ($('tiles').dataset.drawn === signature) return
  $('tiles').dataset.drawn = signature
  $('tiles').replaceChildren(
    ...tiles.map(([kind, label, n]) =>
      h('li', { class: `tile tile-${kind}${n === 0 ? ' zero' : ''}` }, h('span', { class: 'num', text: String(n) }), h('span', { class: 'label', text: label })),
    ),
  )
}

function showCertificates(health) {
  const found = health.backendAddressPools.flatMap((p) =>
    p.backendHttpSettingsCollection.flatMap((i) =>
      i.servers.flatMap((s) =>
        s.warnings
          .filter((w) => w.code === 'certificate-expiring-soon')
          .map((w) => [`${p.backendAddressPool.name} / ${i.backendHttpSettings.name} / ${s.address}`, w.message]),
      ),
    ),
  )
  $('certs').hidden = found.length === 0
  const signature = JSON.stringify(found)
  if ($('cert-list').dataset.drawn === signature) return
  $('cert-list').dataset.drawn = signature
  $('cert-list').replaceChildren(...found.map(([where, text]) => h('li', {}, h('strong', { text: where }), ' ', h('span', { text }))))
}

function showGateway(gateway) {
  state.lastGateway = gateway
  setText($('gateway'), t('gateway', { version: gateway.version, targets: gateway.targets }))
  $('stopped').hidden = gateway.status !== 'failing'
}

function askForToken() {
  clearTimeout(state.timer)
  const had = Boolean(api.token())
  state.lastDocument = null
  board.reset()
  $('overview').hidden = true
  $('auth').hidden = false
  $('auth-refused').hidden = !had
  $('forget').hidden = true
  setText($('freshness'), '')
  $('token').focus()
  api.gateway().then(showGateway, () => {}) // /healthz needs no token
}

function wireControls() {
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => chooseLanguage(button.dataset.lang))
  }
  $('problems-only').addEventListener('change', (event) => {
    document.body.classList.toggle('problems-only', event.target.checked)
    if (state.lastDocument) showHealth(state.lastDocument)
  })
  $('live').addEventListener('click', () => {
    state.live = !state.live
    $('live').setAttribute('aria-pressed', String(state.live))
    if (state.live) return refresh()
    state.generation += 1 // an answer already on its way is dropped
    clearTimeout(state.timer)
    unfollow()
    setText($('freshness'), t('paused', { time: clock(Date.now()) }))
  })
  $('auth').addEventListener('submit', (event) => {
    event.preventDefault()
    api.setToken($('token').value.trim())
    $('token').value = ''
    $('auth').hidden = true
    $('forget').hidden = false
    refresh()
  })
  $('forget').addEventListener('click', () => {
    api.setToken('')
    $('forget').hidden = true
    refresh()
  })
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(state.timer)
      unfollow()
    } else if (state.live) refresh()
  })
}

wireControls()
$('forget').hidden = !api.token()
chooseLanguage(initialLanguage())

// The fleet view (`probegate dashboard --url A --url B …`): one table, a row per server, a column
// per instance and the joined verdict, refreshed every 5 s while the tab is shown from GET /fleet,
// which the dashboard's own server fills by asking every instance (a browser may not read other
// origins' admin APIs).
// The token `probegate dashboard` printed arrives in the URL's fragment (#token=…): it is moved to
// sessionStorage at once and the fragment dropped, so it stays out of the history.

import * as api from './api.js'
import { codeWords, h, setText } from './dom.js'
import { clock, LANGS, setLang, stateLabel, t } from './i18n.js'

const POLL_MS = 5000
const $ = (id) => document.getElementById(id)
const state = { timer: 0, generation: 0, last: null }

function takeTokenFromFragment() {
  const found = new URLSearchParams(location.hash.slice(1)).get('token')
  if (!found) return
  api.setToken(found)
  history.replaceState(null, '', location.pathname + location.search)
}

function chooseLanguage(lang) {
  setLang(lang)
  localStorage.setItem('probegate.lang', lang)
  document.documentElement.lang = lang
  for (const el of document.querySelectorAll('[data-i18n]')) setText(el, t(el.dataset.i18n))
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === lang))
  }
  document.title = `${t('fleetTitle')} · probegate`
  if (state.last) show(state.last)
  refresh() // the verdicts, reasons' messages and instance problems come in that language
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
    const fleet = await api.fleet(document.documentElement.lang)
    if (generation !== state.generation) return
    $('problem').hidden = true
    $('fleet-view').classList.remove('stale')
    show(fleet)
    setText($('freshness'), t('fleetUpdated', { time: clock(Date.now()), seconds: POLL_MS / 1000 }))
  } catch (error) {
    if (generation !== state.generation) return
    if (error.status === 401) return askForToken()
    setText($('problem'), t('fleetUnreachableAll', { error: error.message }))
    $('problem').hidden = false
    $('fleet-view').classList.add('stale')
  }
  if (!document.hidden) state.timer = setTimeout(refresh, POLL_MS)
}

function show(fleet) {
  state.last = fleet
  $('auth').hidden = true
  $('fleet-view').hidden = false
  setText($('gateway'), t('fleetGateway', fleet.summary))
  $('instances').replaceChildren(...fleet.instances.map(instanceItem))
  $('empty').hidden = fleet.servers.length > 0 || fleet.summary.reachable === 0
  $('fleet').hidden = fleet.servers.length === 0
  $('fleet-head').replaceChildren(
    h('th', { scope: 'col', class: 'col-server', text: t('col.server') }),
    ...fleet.instances.map((i) => h('th', { scope: 'col', class: i.reachable ? '' : 'down', text: i.name })),
    h('th', { scope: 'col', class: 'col-verdict', text: t('col.verdict') }),
  )
  $('fleet-rows').replaceChildren(...fleet.servers.map(serverRow))
}

function instanceItem(instance) {
  const status = instance.reachable
    ? h('span', { class: 'badge healthy', text: t('fleetAnswering') })
    : h('span', { class: 'badge unhealthy', text: t('fleetUnreachable') })
  const why = instance.problem
    ? [' ', h('code', { class: 'reason', text: instance.problem.code }), ' ', h('span', { class: 'message', text: instance.problem.message })]
    : []
  return h('li', { class: instance.reachable ? 'instance' : 'instance down', 'data-instance': instance.name },
    h('strong', { text: instance.name }), ' ', h('span', { class: 'url', text: instance.url }), ' ', status, ...why)
}

function serverRow(server) {
  const where = h('th', { scope: 'row', class: 'col-server' },
    h('span', { class: 'kicker', text: `${server.backendAddressPool} · ${server.backendHttpSettings}` }), h('br'), server.address)
  const cells = server.instances.map((cell) => instanceCell(cell, server.agree))
  const verdict = h('td', { class: `col-verdict verdict${server.agree ? '' : ' disagree'}`, text: verdictWords(server) })
  return h('tr', { class: server.agree ? `agree state-${server.state.toLowerCase()}` : 'disagree', 'data-address': server.address }, where, ...cells, verdict)
}

// The API's `verdict` in the page's words: the dashboard names states in the language shown.
function verdictWords(server) {
  const one = server.state !== 'Mixed'
  const state = stateLabel(one ? server.state : 'Healthy')
  const absent = server.instances.filter((c) => c.missing === 'not-configured').length
  const said = t('fleetVerdict', { state, count: one ? server.reportedBy : server.healthyOn, of: server.reportedBy })
  return absent ? said + t('fleetAbsent', { count: absent }) : said
}

function instanceCell(cell, agree) {
  if (cell.missing) {
    const key = cell.missing === 'unreachable' ? 'fleetUnreachable' : 'fleetNotConfigured'
    return h('td', { class: 'missing', 'data-instance': cell.instance, text: t(key) })
  }
  const badge = h('span', { class: `badge ${cell.health.toLowerCase()}`, text: stateLabel(cell.health) })
  const showWhy = !agree || cell.reason !== 'success'
  return h('td', { 'data-instance': cell.instance }, badge,
    showWhy ? h('div', {}, h('code', { class: 'reason' }, codeWords(cell.reason))) : null,
    showWhy && cell.message ? h('div', { class: 'message', text: cell.message }) : null)
}

function askForToken() {
  clearTimeout(state.timer)
  const had = Boolean(api.token())
  state.last = null
  $('fleet-view').hidden = true
  $('auth').hidden = false
  $('auth-refused').hidden = !had
  setText($('freshness'), '')
  $('token').focus()
}

for (const button of document.querySelectorAll('[data-lang]')) {
  button.addEventListener('click', () => chooseLanguage(button.dataset.lang))
}
$('auth').addEventListener('submit', (event) => {
  event.preventDefault()
  api.setToken($('token').value.trim())
  $('token').value = ''
  refresh()
})
// A hidden tab asks no instance; it asks again as soon as it is shown.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearTimeout(state.timer)
    state.generation += 1 // an answer on its way is dropped
  } else refresh()
})
takeTokenFromFragment()
chooseLanguage(initialLanguage())

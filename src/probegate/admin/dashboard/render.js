// The backend-health tables: one section per pool, one table per (pool, settings) pair, one row per
// server. Each is built once and then updated in place, so that the 2-second refresh keeps the
// keyboard focus, open "How to fix" panels and any text the operator is selecting.

import { codeWords, h, nextId, redraw, setAttr, setClass, setText } from './dom.js'
import { clock, day, ms, since, span, stateLabel, t } from './i18n.js'

const COLUMNS = ['server', 'health', 'details', 'reason', 'last', 'failures', 'history']
const HISTORY_SLOTS = 20
const PHASES = ['resolve', 'connect', 'tls', 'response']

/** `ondemand(pool, settings)` gives the probe form and result panel of a pair. */
export function createBoard(root, ondemand) {
  const pools = new Map()

  function update(health) {
    const wanted = health.backendAddressPools.map((entry) => {
      const name = entry.backendAddressPool.name
      if (!pools.has(name)) pools.set(name, createPool(name))
      const pool = pools.get(name)
      const groups = entry.backendHttpSettingsCollection.map((item) => {
        const settings = item.backendHttpSettings.name
        if (!pool.groups.has(settings)) pool.groups.set(settings, createGroup(name, settings, ondemand))
        const group = pool.groups.get(settings)
        updateGroup(group, item.servers)
        return [settings, group]
      })
      keepOnly(pool.groups, groups, pool.body)
      setClass(pool.section, pool.body.querySelector('.group:not(.all-ok)') ? 'pool' : 'pool all-ok')
      return [name, pool]
    })
    keepOnly(pools, wanted, root)
  }

  function reset() {
    pools.clear()
    root.replaceChildren()
  }

  return { update, reset }
}

/** Drop the entries not wanted; put the wanted ones in order (moving nodes only when needed). */
function keepOnly(map, wanted, parent) {
  const keys = new Set(wanted.map(([key]) => key))
  for (const [key, value] of map) {
    if (!keys.has(key)) {
      value.section.remove()
      map.delete(key)
    }
  }
  wanted.forEach(([, value], i) => {
    if (parent.children[i] !== value.section) parent.insertBefore(value.section, parent.children[i] ?? null)
  })
}

function createPool(name) {
  const id = nextId('pool')
  const body = h('div', { class: 'groups' })
  const heading = h('h2', { id }, h('span', { class: 'kicker', text: t('pool') }), ' ', h('span', { text: name }))
  return { section: h('section', { class: 'pool', 'aria-labelledby': id }, heading, body), body, groups: new Map() }
}

function createGroup(pool, settings, ondemand) {
  const id = nextId('group')
  const tools = ondemand(pool, settings)
  const count = h('span', { class: 'count' })
  const meta = h('p', { class: 'meta' })
  const timing = h('p', { class: 'meta' })
  const alarm = h('p', { class: 'alarm', hidden: true, text: t('noRoutable') })
  const head = h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', class: `col-${c}`, text: t(`col.${c}`) })))
  const rows = h('tbody')
  const table = h(
    'table',
    { class: 'servers' },
    h('caption', { class: 'visually-hidden', text: t('caption', { pool, settings }) }),
    h('thead', {}, head),
    rows,
  )
  const title = h('h3', { id }, h('span', { class: 'kicker', text: t('settings') }), ' ', h('span', { text: settings }), ' ', count)
  const header = h('header', { class: 'group-head' }, h('div', { class: 'group-title' }, title, meta, timing), tools.form)
  const section = h('section', { class: 'group', 'aria-labelledby': id }, header, alarm, h('div', { class: 'table-wrap' }, table), tools.panel)
  return { key: `${pool}~${settings}`, section, count, meta, timing, alarm, rows, servers: new Map() }
}

function updateGroup(group, servers) {
  const healthy = servers.filter((s) => s.health === 'Healthy').length
  setText(group.count, t('healthyCount', { healthy, total: servers.length }))
  setClass(group.count, `count ${healthy === servers.length ? 'good' : healthy === 0 ? 'bad' : 'mixed'}`)
  const first = servers[0]
  if (first) {
    const probe = first.probe
    setText(group.meta, t('probeMeta', { protocol: probe.protocol?.toUpperCase(), name: probe.name ?? t('defaultProbe'), url: pathOf(probe.url) }))
    setText(group.timing, t('probeTiming', { interval: probe.interval, timeout: probe.timeout, threshold: first.unhealthyThreshold }))
  }
  group.alarm.hidden = servers.length === 0 || servers.some((s) => s.routable)
  const wanted = servers.map((server) => {
    if (!group.servers.has(server.address)) group.servers.set(server.address, createRow(`${group.key}~${server.address}`))
    const row = group.servers.get(server.address)
    updateRow(row, server)
    return [server.address, row]
  })
  keepOnly(group.servers, wanted, group.rows)
  setClass(group.section, wanted.every(([, row]) => row.ok) ? 'group all-ok' : 'group')
}

function pathOf(url) {
  try {
    const parsed = new URL(url)
    return `${parsed.pathname}${parsed.search}`
  } catch {
    return url ?? ''
  }
}

function createRow(key) {
  const r = {
    address: h('span', { class: 'address' }),
    traffic: h('span'),
    badge: h('span'),
    since: h('span', { class: 'since' }),
    message: h('p', { class: 'message' }),
    warnings: h('ul', { class: 'warnings' }),
    remedyText: h('p'),
    reason: h('code', { class: 'reason' }),
    when: h('time'),
    took: h('span', { class: 'took' }),
    phases: h('span', { class: 'phases' }),
    cert: h('span', { class: 'cert' }),
    failures: h('span', { class: 'failures' }),
    pending: h('span', { class: 'pending', text: t('pending'), title: t('pendingTitle') }),
    history: h('span', { class: 'history', role: 'img' }),
    timeline: h('span', { class: 'timeline', role: 'img' }),
  }
  r.remedy = h('details', { class: 'remedy', 'data-key': key }, h('summary', { text: t('remedy') }), r.remedyText)
  r.section = h(
    'tr',
    {},
    h('th', { scope: 'row' }, r.address, r.traffic),
    h('td', { class: 'col-health' }, r.badge, r.since),
    h('td', { class: 'col-details' }, r.message, r.warnings, r.remedy),
    h('td', { class: 'col-reason' }, r.reason),
    h('td', { class: 'col-last' }, r.when, r.took, r.phases, r.cert),
    h('td', { class: 'col-failures' }, r.failures, r.pending),
    h('td', { class: 'col-history' }, r.history, r.timeline),
  )
  return r
}

function updateRow(r, s) {
  const state = s.health.toLowerCase()
  r.ok = s.health === 'Healthy' && s.reason === 'success' && s.warnings.length === 0
  setClass(r.section, `state-${state}${r.ok ? ' ok' : ''}`)
  setText(r.address, s.address)
  setText(r.traffic, trafficLabel(s))
  setClass(r.traffic, `traffic ${s.routable ? 'yes' : 'no'}`)
  setText(r.badge, stateLabel(s.health))
  setClass(r.badge, `badge ${state}`)
  setText(r.since, s.since ? t('for', { d: span(since(s.since)) }) : '')
  setText(r.message, s.healthProbeLog)
  redraw(r.warnings, JSON.stringify(s.warnings), () => s.warnings.map(warningItem))
  setText(r.remedyText, s.remedy)
  r.remedy.hidden = s.reason === 'success' || !s.remedy
  redraw(r.reason, s.reason, () => codeWords(s.reason))
  updateLastProbe(r, s.lastProbe)
  // recovering (healthyThreshold): the passes so far instead of the failures
  const recovering = s.reason === 'recovering'
  setText(r.failures, recovering ? t('passes', { n: s.consecutiveSuccesses, of: s.healthyThreshold }) : `${s.consecutiveFailures} / ${s.unhealthyThreshold}`)
  setClass(r.failures, `failures${s.consecutiveFailures > 0 ? ' some' : ''}`)
  r.pending.hidden = !(s.health === 'Healthy' && s.consecutiveFailures > 0)
  updateHistory(r.history, s.history ?? [])
  updateTimeline(r.timeline, s.timeline ?? [], s.health)
}

export function warningItem(warning) {
  const cert = warning.code === 'certificate-expiring-soon'
  return h('li', { class: cert ? 'warning cert' : 'warning', 'data-code': warning.code, text: warning.message })
}

function updateLastProbe(r, last) {
  if (!last) {
    setText(r.when, t('never'))
    setAttr(r.when, 'datetime', null)
    for (const el of [r.took, r.phases, r.cert]) setText(el, '')
    return
  }
  setText(r.when, t('ago', { d: span(since(last.time)) }))
  setAttr(r.when, 'datetime', last.time)
  setAttr(r.when, 'title', `${day(last.time)} ${clock(last.time)}`)
  setText(r.took, [ms(last.durationMs), last.status ? `HTTP ${last.status}` : ''].filter(Boolean).join(' · '))
  const phases = PHASES.filter((p) => last.phases?.[p] !== null && last.phases?.[p] !== undefined)
  setText(r.phases, phases.map((p) => `${t(`phase.${p}`)} ${ms(last.phases[p])}`).join(' · '))
  setText(r.cert, last.certificateExpiry ? t('certUntil', { date: day(last.certificateExpiry) }) : '')
}

const DAY_MS = 24 * 3600 * 1000

// The last 24 h as segments, one per state the server was in, sized by how long it lasted. Before
// its first change in the window a server was in that change's `from` state (blank when that
// was Unknown: nothing was decided yet); with no change at all, in the state it shows now.
function updateTimeline(strip, changes, now) {
  const end = Date.now()
  const start = end - DAY_MS
  const spans = []
  let state = changes.length ? changes[0].from : now
  if (changes.length && changes[0].from === 'Unknown') state = 'none'
  let from = start
  for (const change of changes) {
    const at = Math.max(Date.parse(change.time), start)
    spans.push([state, from, at])
    state = change.to
    from = at
  }
  spans.push([state, from, end])
  const label = changes.length ? t('timelineLabel', { n: changes.length }) : t('timelineQuiet', { state: stateLabel(now) })
  setAttr(strip, 'aria-label', label)
  setAttr(strip, 'title', label)
  const signature = `${changes.length}${changes.at(-1)?.time}${now}${Math.floor(end / 60000)}`
  redraw(strip, signature, () =>
    spans.filter(([, a, b]) => b > a).map(([s, a, b]) => {
      const what = s === 'none' ? t('timelineNone') : stateLabel(s)
      const segment = h('span', { class: `segment ${s.toLowerCase()}`, title: `${what} ${clock(a)}–${clock(b)}` })
      segment.style.width = `${((b - a) / DAY_MS) * 100}%`
      return segment
    }),
  )
}

function updateHistory(strip, history) {
  const shown = history.slice(0, HISTORY_SLOTS).reverse() // the API lists the newest first
  const passed = shown.filter((r) => r.passed).length
  const label = shown.length
    ? t('historyLabel', { n: shown.length, passed, failed: shown.length - passed })
    : t('noHistory')
  setAttr(strip, 'aria-label', label)
  setAttr(strip, 'title', label)
  const signature = shown.map((r) => `${r.time}${r.passed}`).join() + label
  redraw(strip, signature, () => [
    ...Array.from({ length: HISTORY_SLOTS - shown.length }, () => h('span', { class: 'tick empty' })),
    ...shown.map((r) => h('span', { class: `tick ${r.passed ? 'pass' : 'fail'}`, title: `${clock(r.time)} · ${r.reason} · ${ms(r.durationMs)}` })),
  ])
}

// What the traffic column says: warming up (routed on the verdict from before a reload) and
// minServers come before the plain yes/no.
function trafficLabel(s) {
  if (s.warmingUp && s.removedByReload) return t('removedServing')
  if (s.warmingUp) return t('warmingUp')
  if (s.rampingUp !== null && s.rampingUp !== undefined) return t('rampingUp', { share: Math.round(s.rampingUp * 100) })
  if (s.routableByMinServers) return t('byMinServers')
  return t(s.routable ? 'traffic' : 'noTraffic')
}

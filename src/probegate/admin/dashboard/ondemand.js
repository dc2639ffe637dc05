// "Probe now": one form per (pool, settings) pair posting to /backendhealth/ondemand, and a panel
// showing the answer. Answers are kept here, outside the tables (which a language switch rebuilds),
// until the operator dismisses them or switches language: a probe is an action, so it is not
// re-run behind the operator's back just to reword its answer.

import { ApiError, probeNow } from './api.js'
import { codeWords, h, nextId } from './dom.js'
import { clock, lang, ms, stateLabel, t } from './i18n.js'
import { warningItem } from './render.js'

/** `hooks.announce(text)` speaks through the page's live region; `hooks.unauthorized()` asks for
 * the token. Returns the factory that render.js calls for each pair. */
export function createOndemand(hooks) {
  const answers = new Map() // "pool~settings" → {at, lang, body, answer} or {…, error}

  return function ondemand(pool, settings) {
    const key = `${pool}~${settings}`
    const panel = h('div', { class: 'ondemand-slot' })
    const button = h('button', { type: 'submit', class: 'primary', text: t('probeNow') })
    const fields = ['path', 'host', 'statusCodes'].map((name) => field(name))
    const options = h(
      'details',
      { class: 'options' },
      h('summary', { text: t('options') }),
      h('fieldset', {}, h('legend', { text: t('optionsTitle') }), fields.map((f) => f.label)),
    )
    const form = h('form', { class: 'probe', 'aria-label': `${t('probeNow')}: ${pool} / ${settings}` }, button, options)
    const show = () => {
      if (answers.get(key)?.lang !== lang()) answers.delete(key) // worded in the other language
      panel.replaceChildren(...(answers.has(key) ? [result(pool, settings, answers.get(key), dismiss)] : []))
    }
    const dismiss = () => {
      answers.delete(key)
      show()
      button.focus()
    }

    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      if (button.getAttribute('aria-disabled') === 'true') return
      button.setAttribute('aria-disabled', 'true') // not `disabled`: the button keeps the focus
      button.textContent = t('probing')
      panel.setAttribute('aria-busy', 'true')
      const at = new Date()
      const asked = lang()
      const body = request(pool, settings, fields)
      try {
        const answer = await probeNow(body, asked)
        answers.set(key, { at, lang: asked, body, answer })
        const servers = answer.backendHealthHttpSettings.servers
        const healthy = servers.filter((s) => s.health === 'Healthy').length
        hooks.announce(t('ondemandDone', { pool, settings, healthy, total: servers.length }))
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) hooks.unauthorized()
        answers.set(key, { at, lang: asked, body, error: error.message })
        hooks.announce(t('ondemandFailed', { message: error.message }))
      } finally {
        button.removeAttribute('aria-disabled')
        button.textContent = t('probeNow')
        panel.removeAttribute('aria-busy')
      }
      show()
    })
    show()
    return { form, panel }
  }
}

function field(name) {
  const input = h('input', { name, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: name === 'statusCodes' ? '200-399' : t('asConfigured') })
  return { name, input, label: h('label', {}, h('span', { text: t(name) }), input) }
}

/** The body ondemand_request.py takes: the pair, and only the overrides the operator filled in. */
function request(pool, settings, fields) {
  const body = { backendAddressPool: pool, backendHttpSettings: settings }
  for (const { name, input } of fields) {
    const value = input.value.trim()
    if (!value) continue
    if (name === 'statusCodes') body.match = { statusCodes: value.split(/[\s,]+/).filter(Boolean) }
    else body[name] = value
  }
  return body
}

/** The overrides of a request in words, e.g. "With overrides: path /ready, expected status 500." */
function overrides(body) {
  const said = [
    body.path && `${t('path')} ${body.path}`,
    body.host && `${t('host')} ${body.host}`,
    body.match && `${t('statusCodes')} ${body.match.statusCodes.join(', ')}`,
  ].filter(Boolean)
  return said.length ? t('overrides', { list: said.join(' · ') }) : ''
}

function result(pool, settings, stored, dismiss) {
  const id = nextId('ondemand')
  const header = h(
    'header',
    {},
    h('h4', { id, text: t('ondemandTitle', { time: clock(stored.at) }) }),
    h('p', { class: 'note', text: [t('ondemandNote'), overrides(stored.body)].filter(Boolean).join(' ') }),
    h('button', { type: 'button', class: 'quiet', text: t('dismiss'), onclick: dismiss }),
  )
  if (stored.error) {
    return h('section', { class: 'ondemand failed', 'aria-labelledby': id }, header, h('p', { class: 'alarm', text: t('ondemandFailed', { message: stored.error }) }))
  }
  const columns = ['server', 'result', 'reason', 'details', 'duration']
  const table = h(
    'table',
    { class: 'results' },
    h('caption', { class: 'visually-hidden', text: t('ondemandCaption', { pool, settings }) }),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: t(`col.${c}`) })))),
    h('tbody', {}, stored.answer.backendHealthHttpSettings.servers.map((s) => serverRow(s, stored.lang))),
  )
  return h('section', { class: 'ondemand', 'aria-labelledby': id }, header, h('div', { class: 'table-wrap' }, table))
}

function serverRow(s, answerLang) {
  const remedy = s.reason === 'success' ? null : h('details', { class: 'remedy' }, h('summary', { text: t('remedy') }), h('p', { lang: answerLang, text: s.remedy }))
  return h(
    'tr',
    { class: `state-${s.health.toLowerCase()}` },
    h('th', { scope: 'row' }, h('span', { class: 'address', text: s.address })),
    h('td', {}, h('span', { class: `badge ${s.health.toLowerCase()}`, text: stateLabel(s.health) })),
    h('td', {}, h('code', { class: 'reason' }, codeWords(s.reason))),
    h('td', { class: 'col-details' }, h('p', { class: 'message', lang: answerLang, text: s.healthProbeLog }), h('ul', { class: 'warnings' }, s.warnings.map(warningItem)), remedy),
    h('td', {}, [ms(s.lastProbe?.durationMs), s.lastProbe?.status ? `HTTP ${s.lastProbe.status}` : ''].filter(Boolean).join(' · ')),
  )
}

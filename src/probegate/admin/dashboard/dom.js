// Building and updating DOM nodes without a framework.
// Rules: text goes in through textContent only (never innerHTML), so API strings cannot inject
// markup; updates touch a node only when its value changed, so a refresh keeps focus and selection.

let counter = 0

/** A fresh id for aria-labelledby links (config names may hold any character). */
export function nextId(prefix = 'pg') {
  counter += 1
  return `${prefix}-${counter}`
}

/** h('td', {class: 'x', text: 'y'}, child, ...) — attributes, listeners (onclick) and children. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue
    if (key === 'class') el.className = value
    else if (key === 'text') el.textContent = value
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else el.setAttribute(key, value === true ? '' : String(value))
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false))
  return el
}

export function setText(el, text) {
  const value = text ?? ''
  if (el.textContent !== value) el.textContent = value
}

export function setClass(el, name) {
  if (el.className !== name) el.className = name
}

export function setAttr(el, name, value) {
  if (value === null || value === undefined) el.removeAttribute(name)
  else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value))
}

/** Replace the children only when `signature` differs from the last one drawn. */
export function redraw(el, signature, build) {
  if (el.dataset.drawn === signature) return
  el.dataset.drawn = signature
  el.replaceChildren(...build())
}

/** A reason code that may wrap after its hyphens (long codes in a narrow column). */
export function codeWords(code) {
  const parts = String(code).split('-')
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [`${part}-`, h('wbr')] : [part]))
}

/**
 * Small DOM helpers shared by the console modules. No framework: plain DOM,
 * text only (never innerHTML with data from the network).
 * @module ui
 */

/**
 * Find an element by id, failing loudly when the page and the code disagree.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`élément #${id} introuvable`);
  return el;
}

/**
 * Show or hide an element with the `hidden` attribute.
 * @param {HTMLElement} el
 * @param {boolean} visible
 */
export function setVisible(el, visible) {
  el.hidden = !visible;
}

/**
 * Create an element with optional class and text content.
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

let announceTimer = 0;

/**
 * Read a state change out to screen-reader users through the polite live region.
 * @param {string} message
 */
export function announce(message) {
  const region = document.getElementById('gc-announcer');
  if (!region) return;
  // Clearing first makes a repeated identical message be read again.
  region.textContent = '';
  clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => { region.textContent = message; }, 50);
}

/**
 * Format a number of seconds as m:ss (or h:mm:ss past an hour).
 * @param {number} seconds
 * @returns {string}
 */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Human French text for an estimated wait in seconds ("moins d'une minute", "environ 4 min").
 * @param {number} seconds
 * @returns {string}
 */
export function formatEstimate(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return 'aucune attente';
  if (seconds < 60) return "moins d'une minute";
  const min = Math.round(seconds / 60);
  if (min < 60) return `environ ${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return rest ? `environ ${h} h ${String(rest).padStart(2, '0')}` : `environ ${h} h`;
}

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames(['fr'], { type: 'language' });
} catch {
  languageNames = null;
}

/**
 * French name of a language code ("ar" -> "arabe"), falling back to the code.
 * @param {string} code
 * @returns {string}
 */
export function languageName(code) {
  if (!code) return '';
  try {
    const name = languageNames ? languageNames.of(code) : '';
    return name && name !== code ? name : code;
  } catch {
    return code;
  }
}

/**
 * A new random identifier fitting the wire `Id` pattern.
 * @returns {string}
 */
export function newId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Rendering of the queues panel: one card per service the agent may answer,
 * with its waiting citizens and live "waiting for m:ss" counters.
 * @module queues
 */
import { el, formatClock, formatEstimate, languageName } from './ui.js';

/**
 * @typedef {{ticket_id: string, booth_name: string, language: string, waiting_since: number}} WaitingCitizen
 * @typedef {{service_id: string, name: string, open_now: boolean, agents_available: number,
 *   estimated_wait_s: number, waiting: WaitingCitizen[]}} ServiceQueue
 */

/**
 * Seconds a citizen has waited, on the server's clock.
 * @param {number} waitingSince  server Unix time (s) when the citizen joined
 * @param {number} clockOffset   server time minus local time, in seconds
 * @returns {number}
 */
export function waitedSeconds(waitingSince, clockOffset) {
  return Date.now() / 1000 + clockOffset - waitingSince;
}

/**
 * Total number of waiting citizens.
 * @param {ServiceQueue[]} services
 * @returns {number}
 */
export function totalWaiting(services) {
  return services.reduce((n, s) => n + s.waiting.length, 0);
}

function plural(n, one, many) {
  return `${n} ${n <= 1 ? one : many}`;
}

/**
 * Redraw the list of queues. Keeps keyboard focus on the same button across redraws.
 * @param {HTMLElement} list  the `<ul>` holding the cards
 * @param {ServiceQueue[]} services
 * @param {object} opts
 * @param {boolean} opts.canAnswer  whether answering is possible right now (not in a call, online)
 * @param {number} opts.clockOffset server time minus local time, seconds
 * @param {(serviceId: string) => void} opts.onAnswer
 * @param {boolean} [opts.readOnly]  no answer buttons at all (the supervisor's view)
 */
export function renderQueues(list, services, { canAnswer, clockOffset, onAnswer, readOnly = false }) {
  const focused = document.activeElement;
  const focusKey = focused && list.contains(focused) ? focused.getAttribute('data-service-id') : null;
  list.replaceChildren();
  for (const svc of services) {
    const item = el('li', 'gc-queue');
    item.dataset.serviceId = svc.service_id;
    const head = el('div', 'gc-queue-head');
    const h = el('h3', 'gc-h3', svc.name);
    h.id = `gc-q-${svc.service_id}`;
    head.append(h);
    const badge = el('span', svc.open_now ? 'gc-badge gc-badge-open' : 'gc-badge gc-badge-closed',
      svc.open_now ? 'Ouvert' : 'Fermé');
    head.append(badge);

    const btn = el('button', 'gc-btn gc-btn-secondary gc-btn-sm', 'Répondre au suivant');
    btn.type = 'button';
    btn.setAttribute('data-service-id', svc.service_id);
    btn.setAttribute('aria-label', `Répondre au suivant — ${svc.name}`);
    btn.disabled = !canAnswer || svc.waiting.length === 0;
    btn.addEventListener('click', () => onAnswer(svc.service_id));
    item.append(head);

    const facts = el('dl', 'gc-queue-facts');
    const fact = (label, value, cls) => {
      const wrap = el('div', `gc-fact ${cls}`);
      wrap.append(el('dt', '', label), el('dd', '', value));
      facts.append(wrap);
    };
    fact('En attente', String(svc.waiting.length), 'gc-fact-waiting');
    fact('Attente estimée', formatEstimate(svc.estimated_wait_s), 'gc-fact-estimate');
    fact('Agents disponibles', String(svc.agents_available), 'gc-fact-agents');
    item.append(facts);

    if (svc.waiting.length === 0) {
      item.append(el('p', 'gc-queue-empty', "Personne n'attend."));
    } else {
      const people = el('ol', 'gc-citizens');
      people.setAttribute('aria-labelledby', h.id);
      for (const c of svc.waiting) {
        const li = el('li', 'gc-citizen');
        li.dataset.ticketId = c.ticket_id;
        li.append(el('span', 'gc-citizen-booth', c.booth_name));
        li.append(el('span', 'gc-citizen-lang', languageName(c.language)));
        const since = el('span', 'gc-citizen-wait');
        since.append('attend depuis ');
        const clock = el('time', 'gc-wait-clock', formatClock(waitedSeconds(c.waiting_since, clockOffset)));
        clock.dataset.since = String(c.waiting_since);
        since.append(clock);
        li.append(since);
        people.append(li);
      }
      item.append(people);
    }
    if (!readOnly) {
      const foot = el('div', 'gc-queue-foot');
      foot.append(btn);
      item.append(foot);
    }
    list.append(item);
  }
  if (focusKey) {
    const again = list.querySelector(`button[data-service-id="${CSS.escape(focusKey)}"]`);
    if (again && !again.disabled) again.focus();
  }
}

/**
 * Update every "waiting for" counter in place (called each second).
 * @param {HTMLElement} list
 * @param {number} clockOffset
 */
export function tickWaiting(list, clockOffset) {
  for (const clock of list.querySelectorAll('time.gc-wait-clock')) {
    const since = Number(clock.dataset.since);
    if (Number.isFinite(since)) clock.textContent = formatClock(waitedSeconds(since, clockOffset));
  }
}

/**
 * One-line French summary of the queues ("3 citoyens en attente dans 2 files").
 * @param {ServiceQueue[]} services
 * @returns {string}
 */
export function summary(services) {
  if (services.length === 0) return "Vous n'êtes habilité·e à répondre à aucun service.";
  const n = totalWaiting(services);
  const files = plural(services.length, 'file', 'files');
  if (n === 0) return `Personne n'attend (${files}).`;
  return `${plural(n, 'citoyen en attente', 'citoyens en attente')} · ${files}`;
}

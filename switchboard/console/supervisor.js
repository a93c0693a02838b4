/**
 * Supervisor view: queues and ongoing calls of the supervisor's services, read-only.
 * Polls GET /api/v1/supervisor/overview; no WebSocket, no media, no call controls.
 * @module supervisor
 */
import { isSupervisorOnly, logout, me } from './api.js';
import { renderQueues, summary, tickWaiting } from './queues.js';
import { announce, byId, el, formatClock, setVisible } from './ui.js';

/** How often the figures are read again. */
const REFRESH_MS = 3000;
const OVERVIEW_URL = new URL('../api/v1/supervisor/overview', import.meta.url);

const $ = {
  root: byId('gc-root'),
  loading: byId('gc-loading'),
  tools: byId('gc-header-tools'),
  name: byId('gc-agent-name'),
  logout: byId('gc-logout'),
  signedOut: byId('gc-signed-out'),
  signedOutText: byId('gc-signed-out-text'),
  desk: byId('gc-desk'),
  stale: byId('gc-stale'),
  summary: byId('gc-queues-summary'),
  list: byId('gc-queue-list'),
  callsEmpty: byId('gc-calls-empty'),
  callsTable: byId('gc-calls-table'),
  callsBody: byId('gc-calls-body'),
};

const model = {
  /** @type {'loading'|'signed_out'|'watching'} */
  state: 'loading',
  /** @type {object|null} last overview received */
  view: null,
  clockOffset: 0,
  stale: false,
  timer: 0,
};

function setState(state, message) {
  model.state = state;
  $.root.dataset.state = state;
  setVisible($.loading, state === 'loading');
  setVisible($.desk, state === 'watching');
  setVisible($.tools, state === 'watching');
  setVisible($.signedOut, state === 'signed_out');
  if (state === 'signed_out') {
    window.clearTimeout(model.timer);
    $.signedOutText.textContent = message || '';
    announce(message || '');
  }
}

function renderCalls(calls) {
  $.callsBody.replaceChildren();
  const now = Date.now() / 1000 + model.clockOffset;
  for (const call of calls) {
    const row = el('tr');
    row.append(el('td', '', call.service_name), el('td', '', call.agent_name), el('td', '', call.booth_name));
    const duration = el('td');
    const clock = el('time', 'gc-wait-clock', formatClock(now - call.started_at));
    clock.dataset.since = String(call.started_at);
    duration.append(clock);
    row.append(duration);
    $.callsBody.append(row);
  }
  setVisible($.callsTable, calls.length > 0);
  setVisible($.callsEmpty, calls.length === 0);
}

function render() {
  const view = model.view;
  if (!view) return;
  $.summary.textContent = view.services.length === 0
    ? "Aucun service ne vous est attribué."
    : summary(view.services).replace("Vous n'êtes habilité·e", 'Vous ne supervisez');
  renderQueues($.list, view.services, {
    canAnswer: false, clockOffset: model.clockOffset, onAnswer: () => {}, readOnly: true,
  });
  renderCalls(view.calls);
  setVisible($.stale, model.stale);
}

async function refresh() {
  let res;
  try {
    res = await fetch(OVERVIEW_URL, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    res = null;
  }
  if (res && res.status === 401) {
    setState('signed_out', 'Votre session a expiré. Reconnectez-vous.');
    return;
  }
  if (res && res.status === 403) {
    setState('signed_out', "Votre compte n'a pas le rôle superviseur.");
    return;
  }
  if (res && res.ok) {
    model.view = await res.json();
    model.clockOffset = model.view.server_time - Date.now() / 1000;
    model.stale = false;
  } else {
    model.stale = true;
  }
  render();
  model.timer = window.setTimeout(refresh, REFRESH_MS);
}

$.logout.addEventListener('click', async () => {
  window.clearTimeout(model.timer);
  await logout();
  window.location.replace('./');
});

window.setInterval(() => {
  tickWaiting($.list, model.clockOffset);
  tickWaiting($.callsBody, model.clockOffset);
}, 1000);

/** Read-only hook for tests, like the agent console's `guichetConsole`. */
Object.defineProperty(window, 'guichetSupervisor', {
  value: Object.freeze({
    get state() { return model.state; },
    get calls() { return model.view ? model.view.calls.length : 0; },
    get waiting() { return model.view ? model.view.services.reduce((n, s) => n + s.waiting.length, 0) : 0; },
  }),
});

async function boot() {
  let person = null;
  try {
    person = await me();
  } catch {
    setState('signed_out', 'Le serveur est injoignable. Réessayez dans un instant.');
    return;
  }
  if (!person) {
    setState('signed_out', 'Connectez-vous pour voir les files de vos services.');
    return;
  }
  if (!(person.roles || []).includes('supervisor')) {
    window.location.replace('./');
    return;
  }
  $.name.textContent = person.display_name;
  setState('watching');
  await refresh();
  setVisible(byId('gc-desk-link'), !isSupervisorOnly(person));
}

boot();

/**
 * Guichet admin console: the fleet at a glance, one booth's page, the config
 * editor (preview, diff, sources), staged rollouts, enrolment codes, statistics,
 * the audit log.
 * Plain ES modules, no framework; text only into the DOM (never innerHTML with data),
 * except the QR code's SVG, which the server draws.
 *
 * Test hook: ``window.guichetAdmin`` (frozen): ``state`` (loading | signed_out | ready),
 * ``view``, ``role``, ``busy`` (requests in flight).
 * @module app
 */

import { ApiError, call, login, logout, me } from './api.js';
import { sparkline } from './charts.js';
import { loadStats } from './stats.js';
import { announce, byId, el } from '../console/ui.js';

const FLEET_REFRESH_MS = 15_000;
const STATUS_TEXT = {
  online: 'En ligne', degraded: 'Dégradée', offline: 'Hors ligne', revoked: 'Révoquée',
  canary: 'Pilote en cours', complete: 'Terminé',
};
const PERIPH_TEXT = { ok: 'fonctionne', degraded: 'dégradé', unavailable: 'indisponible' };
const ROLE_TEXT = { admin: 'Administrateur', technician: 'Technicien', system: 'automatique', agent: 'Agent' };
const SCOPE_TEXT = { fleet: 'Parc entier', group: 'Groupe', site: 'Site', booth: 'Borne' };
const ACTION_TEXT = {
  login: 'Connexion', 'code.create': 'Code d’enrôlement créé', 'config.set': 'Configuration modifiée',
  'rollout.start': 'Déploiement pilote lancé', 'rollout.complete': 'Déploiement généralisé',
  'booth.groups': 'Groupes modifiés', 'booth.revoke': 'Borne révoquée',
  'audit.export': 'Journal exporté', 'call.answered': 'Appel décroché', 'call.ended': 'Appel terminé',
  'device.print_pdf': 'Impression d’un PDF', 'device.print_receipt': 'Impression d’un reçu',
  'device.read_card': 'Lecture de carte', 'device.read_code': 'Lecture de code', 'device.scan': 'Numérisation',
};

const state = {
  status: 'loading',
  view: '',
  /** @type {{username: string, display_name: string, role: string}|null} */
  staff: null,
  /** @type {any} */
  fleet: null,
  busy: 0,
  /** @type {any} the last change previewed, applied only if unchanged */
  pending: null,
  refreshTimer: 0,
};

window.guichetAdmin = Object.freeze({
  get state() { return state.status; },
  get view() { return state.view; },
  get role() { return state.staff ? state.staff.role : null; },
  get busy() { return state.busy; },
});

const isAdmin = () => state.staff !== null && state.staff.role === 'admin';

async function api(method, path, body) {
  state.busy += 1;
  try {
    return await call(method, path, body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signedOut();
    throw err;
  } finally {
    state.busy -= 1;
  }
}

function showError(err) {
  const banner = byId('ga-error');
  banner.textContent = err instanceof Error ? err.message : String(err);
  banner.hidden = false;
}

function clearError() {
  byId('ga-error').hidden = true;
}

// ------------------------------------------------------------------ formatting

function fmtDate(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('fr-FR', { dateStyle: 'short', timeStyle: 'medium' });
}

function fmtAgo(iso) {
  if (!iso) return 'jamais';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `il y a ${s} s`;
  if (s < 3600) return `il y a ${Math.round(s / 60)} min`;
  if (s < 86400) return `il y a ${Math.round(s / 3600)} h`;
  return fmtDate(iso);
}

function json(value) {
  return value === undefined || value === null ? '—' : JSON.stringify(value);
}

function badge(status) {
  const b = el('span', 'gc-badge ga-status', STATUS_TEXT[status] || status);
  b.dataset.status = status;
  return b;
}

function sourceText(source) {
  if (source === 'default') return 'valeur par défaut';
  if (source === 'fleet') return 'parc entier';
  const [scope, target] = source.split(':');
  return `${(SCOPE_TEXT[scope] || scope).toLowerCase()} ${target}`;
}

function cell(row, content, className) {
  const td = el('td', className);
  if (content instanceof Node) td.append(content); else td.textContent = content;
  row.append(td);
  return td;
}

function flatten(tree, prefix = '', out = {}) {
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix + key;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
      flatten(value, `${path}.`, out);
    } else {
      out[path] = value;
    }
  }
  return out;
}

function fillConfigTable(tbody, config, sources) {
  tbody.replaceChildren();
  for (const [key, value] of Object.entries(flatten(config)).sort(([a], [b]) => a.localeCompare(b))) {
    const tr = el('tr');
    tr.dataset.key = key;
    cell(tr, el('code', '', key));
    cell(tr, el('code', '', json(value)));
    const source = sources[key] || 'default';
    cell(tr, sourceText(source), source === 'default' ? 'ga-muted' : '');
    tbody.append(tr);
  }
}

function fillOptions(select, values, first) {
  const keep = select.value;
  select.replaceChildren(el('option', '', first));
  select.firstElementChild.setAttribute('value', '');
  for (const v of values) {
    const o = el('option', '', v);
    o.setAttribute('value', v);
    select.append(o);
  }
  select.value = values.includes(keep) ? keep : '';
}

function fillDatalist(list, values) {
  list.replaceChildren(...values.map((v) => { const o = el('option'); o.setAttribute('value', v); return o; }));
}

// ------------------------------------------------------------------ fleet

async function loadFleet() {
  state.fleet = await api('GET', 'fleet');
  const f = state.fleet;
  for (const s of ['online', 'degraded', 'offline', 'revoked']) byId(`ga-n-${s}`).textContent = String(f.counts[s]);
  fillOptions(/** @type {HTMLSelectElement} */ (byId('ga-f-site')), f.sites, 'Tous les sites');
  fillOptions(/** @type {HTMLSelectElement} */ (byId('ga-f-group')), f.groups, 'Tous les groupes');
  fillDatalist(byId('ga-code-sites'), f.sites);
  fillDatalist(byId('ga-c-groups'), f.groups);
  renderFleet();
}

function renderFleet() {
  const f = state.fleet;
  if (!f) return;
  const site = /** @type {HTMLSelectElement} */ (byId('ga-f-site')).value;
  const group = /** @type {HTMLSelectElement} */ (byId('ga-f-group')).value;
  const status = /** @type {HTMLSelectElement} */ (byId('ga-f-status')).value;
  const q = /** @type {HTMLInputElement} */ (byId('ga-f-search')).value.trim().toLowerCase();
  const rows = f.booths.filter((b) => (!site || b.site === site)
    && (!group || b.groups.includes(group))
    && (!status || b.status === status)
    && (!q || [b.booth_id, b.site, ...b.groups, b.app_version || ''].join(' ').toLowerCase().includes(q)));
  const tbody = byId('ga-fleet-rows');
  tbody.replaceChildren();
  for (const b of rows) {
    const tr = el('tr');
    tr.dataset.booth = b.booth_id;
    const link = el('a', '', b.booth_id);
    link.setAttribute('href', `#/borne/${encodeURIComponent(b.booth_id)}`);
    cell(tr, link);
    cell(tr, b.site);
    const groups = el('span');
    for (const g of b.groups) groups.append(el('span', 'ga-tag', g));
    cell(tr, groups);
    const st = cell(tr, badge(b.status));
    if (b.reasons.length) st.append(el('div', 'ga-muted', b.reasons.join(' ; ')));
    if (b.rejection) st.append(el('div', 'ga-rejection', rejectionText(b.rejection)));
    cell(tr, b.app_version || '—');
    const applied = b.config_version === null || b.config_version === undefined ? '—' : `v${b.config_version}`;
    const cfg = cell(tr, applied);
    if (b.bundle_version > (b.config_version || 0) && b.status !== 'revoked') {
      cfg.append(el('span', 'ga-muted', ` (v${b.bundle_version} en attente)`));
    }
    cell(tr, fmtAgo(b.last_heartbeat_at));
    cell(tr, b.rtt_ms === null || b.rtt_ms === undefined ? '—' : `${Math.round(b.rtt_ms)} ms`);
    tbody.append(tr);
  }
  byId('ga-fleet-empty').hidden = rows.length > 0;
}

/**
 * The last configuration a booth refused, in one line.
 * @param {{version: number|null, code: string, reason: string}} r
 */
function rejectionText(r) {
  const which = r.version === null || r.version === undefined ? 'Une configuration' : `La configuration v${r.version}`;
  return `${which} a été refusée par la borne : ${r.reason} [${r.code}]`;
}

// ------------------------------------------------------------------ one booth

async function loadBooth(boothId) {
  const d = await api('GET', `booths/${encodeURIComponent(boothId)}`);
  const b = d.booth;
  byId('ga-booth-title').textContent = `Borne ${b.booth_id}`;
  const st = byId('ga-booth-status');
  st.textContent = STATUS_TEXT[b.status] || b.status;
  st.dataset.status = b.status;
  byId('ga-booth-reasons').textContent = b.reasons.join(' ; ');
  const refused = byId('ga-booth-rejection');
  refused.textContent = b.rejection ? `${rejectionText(b.rejection)} (signalé ${fmtAgo(b.rejection.reported_at)})` : '';
  refused.hidden = !b.rejection;
  const latest = d.latest || {};
  const facts = [
    ['Site', b.site],
    ['Groupes', b.groups.join(', ') || 'aucun'],
    ['Application', b.app_version || '—'],
    ['Configuration appliquée', latest.config_version ? `v${latest.config_version}` : '—'],
    ['Dernière signée', `v${b.bundle_version}`],
    ['Dernier signe de vie', fmtAgo(b.last_heartbeat_at)],
    ['Aller-retour', b.rtt_ms ? `${Math.round(b.rtt_ms)} ms` : '—'],
    ['En service depuis', latest.uptime_s ? `${Math.round(latest.uptime_s / 3600)} h` : '—'],
    ['Dernier appel', latest.last_call_at ? fmtDate(latest.last_call_at) : '—'],
    ['Disque libre', latest.disk_free_mb ? `${Math.round(latest.disk_free_mb)} Mo` : '—'],
    ['Mémoire', latest.memory_total_mb
      ? `${Math.round(latest.memory_used_mb)} / ${Math.round(latest.memory_total_mb)} Mo` : '—'],
    ['Enrôlée le', fmtDate(b.enrolled_at)],
  ];
  const dl = byId('ga-booth-facts');
  dl.replaceChildren();
  for (const [k, v] of facts) dl.append(el('dt', '', k), el('dd', '', v));
  const ul = byId('ga-booth-periph');
  ul.replaceChildren();
  for (const p of latest.peripherals || []) {
    const li = el('li');
    li.append(el('span', 'ga-periph-role', p.role));
    const s = badge(p.state === 'ok' ? 'online' : p.state === 'degraded' ? 'degraded' : 'offline');
    s.textContent = PERIPH_TEXT[p.state] || p.state;
    li.append(s);
    if (p.reason) li.append(el('span', 'ga-muted', p.reason));
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el('li', 'ga-muted', 'Aucun périphérique signalé.'));
  sparkline(byId('ga-chart-rtt'), d.history.map((h) => h.rtt_ms), 'Aller-retour', 'ms');
  sparkline(byId('ga-chart-mem'), d.history.map((h) => h.memory_used_mb), 'Mémoire utilisée', 'Mo');
  /** @type {HTMLInputElement} */ (byId('ga-groups')).value = b.groups.join(', ');
  byId('ga-revoke').hidden = b.status === 'revoked';
  byId('ga-revoke-confirm').hidden = true;
  if (d.config) fillConfigTable(byId('ga-booth-config'), d.config, d.sources);
}

function currentBooth() {
  return decodeURIComponent(location.hash.replace(/^#\/borne\//, ''));
}

// ------------------------------------------------------------------ config editor

/** Parse the editor's lines into ``set`` and ``unset``; throws with the bad line. */
function parseValues(text) {
  const set = {};
  const unset = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`Ligne ${i + 1} : écrivez « clé = valeur ».`);
    const key = line.slice(0, at).trim();
    const rest = line.slice(at + 1).trim();
    if (!rest) { unset.push(key); return; }
    try { set[key] = JSON.parse(rest); } catch { set[key] = rest; }
  });
  return { set, unset };
}

function changeFromForm() {
  const scope = /** @type {HTMLSelectElement} */ (byId('ga-c-scope')).value;
  const target = /** @type {HTMLInputElement} */ (byId('ga-c-target')).value.trim();
  const { set, unset } = parseValues(/** @type {HTMLTextAreaElement} */ (byId('ga-c-values')).value);
  const canary = /** @type {HTMLInputElement} */ (byId('ga-c-canary')).value.trim();
  const delay = /** @type {HTMLInputElement} */ (byId('ga-c-delay')).value;
  const change = { scope, target: scope === 'fleet' ? '' : target, set, unset };
  if (canary) {
    change.canary_group = canary;
    if (delay) change.rest_after_s = Number(delay) * 60;
  }
  return change;
}

function showConfigErrors(errors, booth) {
  const box = byId('ga-c-errors');
  box.replaceChildren();
  if (!errors.length) { box.hidden = true; return; }
  box.append(el('p', '', booth
    ? `Refusé : la borne ${booth} aurait une configuration invalide.`
    : 'Refusé : ces valeurs ne sont pas valides.'));
  const ul = el('ul');
  for (const e of errors) ul.append(el('li', '', `${e.key} : ${e.message}`));
  box.append(ul);
  box.hidden = false;
}

async function previewChange() {
  byId('ga-c-done').hidden = true;
  const apply = /** @type {HTMLButtonElement} */ (byId('ga-c-apply'));
  apply.disabled = true;
  state.pending = null;
  let change;
  try {
    change = changeFromForm();
  } catch (err) {
    showConfigErrors([{ key: 'saisie', message: err.message }], null);
    byId('ga-c-diff').hidden = true;
    return;
  }
  let p;
  try {
    p = await api('POST', 'config/preview', change);
  } catch (err) {
    if (err instanceof ApiError && err.detail && err.detail.errors) {
      showConfigErrors(err.detail.errors, err.detail.booth);
      return;
    }
    throw err;
  }
  showConfigErrors(p.errors, p.error_booth);
  const tbody = byId('ga-c-diff-rows');
  tbody.replaceChildren();
  for (const c of p.changes) {
    const tr = el('tr');
    cell(tr, el('code', '', c.key));
    cell(tr, el('code', c.before === null ? 'ga-muted' : 'ga-before', c.before === null ? '(hérité)' : json(c.before)));
    cell(tr, el('code', c.after === null ? 'ga-muted' : 'ga-after', c.after === null ? '(retiré : hérité)' : json(c.after)));
    tbody.append(tr);
  }
  const n = p.affected.length;
  const who = change.canary_group
    ? ` D’abord le groupe pilote « ${change.canary_group} », puis le reste ${change.rest_after_s ? `après ${change.rest_after_s / 60} min` : 'sur approbation'}.`
    : '';
  byId('ga-c-affected').textContent = p.changes.length
    ? `${n} borne${n > 1 ? 's' : ''} concernée${n > 1 ? 's' : ''}.${who}`
    : 'Aucun changement.';
  byId('ga-c-diff').hidden = false;
  if (!p.errors.length && p.changes.length) {
    state.pending = change;
    apply.disabled = false;
  }
}

async function applyChange() {
  if (!state.pending) return;
  const change = state.pending;
  state.pending = null;
  /** @type {HTMLButtonElement} */ (byId('ga-c-apply')).disabled = true;
  try {
    const r = await api('POST', 'config/apply', change);
    const n = Object.keys(r.issued).length;
    const done = byId('ga-c-done');
    done.textContent = r.rollout_id
      ? `Déploiement n° ${r.rollout_id} lancé : ${n} borne${n > 1 ? 's' : ''} pilote${n > 1 ? 's' : ''} reçoivent la nouvelle configuration.`
      : `Appliqué : ${n} borne${n > 1 ? 's' : ''} reçoivent une nouvelle configuration signée (${r.pushed.length} prévenue${r.pushed.length > 1 ? 's' : ''} immédiatement).`;
    done.hidden = false;
    announce(done.textContent);
    byId('ga-c-diff').hidden = true;
    await loadConfigSide();
  } catch (err) {
    if (err instanceof ApiError && err.detail && err.detail.errors) {
      showConfigErrors(err.detail.errors, err.detail.booth);
      return;
    }
    throw err;
  }
}

async function loadConfigSide() {
  if (!state.fleet) await loadFleet();
  const select = /** @type {HTMLSelectElement} */ (byId('ga-c-booth'));
  const ids = state.fleet.booths.filter((b) => b.status !== 'revoked').map((b) => b.booth_id);
  const keep = select.value;
  select.replaceChildren(...ids.map((id) => { const o = el('option', '', id); o.setAttribute('value', id); return o; }));
  if (ids.includes(keep)) select.value = keep;
  updateTargets();
  const tbody = byId('ga-c-resolved');
  tbody.replaceChildren();
  if (select.value) {
    const r = await api('GET', `config/resolved?booth=${encodeURIComponent(select.value)}`);
    fillConfigTable(tbody, r.config, r.sources);
  }
  const layers = await api('GET', 'config/layers');
  const ul = byId('ga-c-layers');
  ul.replaceChildren();
  for (const l of layers) {
    const li = el('li');
    li.append(el('strong', '', `${SCOPE_TEXT[l.scope]}${l.target ? ` ${l.target}` : ''} : `));
    li.append(el('code', 'ga-json', Object.entries(l.values).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(' ; ') || '(vide)'));
    ul.append(li);
  }
  if (!layers.length) ul.append(el('li', 'ga-muted', 'Aucune valeur définie : tout est par défaut.'));
}

function updateTargets() {
  const scope = /** @type {HTMLSelectElement} */ (byId('ga-c-scope')).value;
  const input = /** @type {HTMLInputElement} */ (byId('ga-c-target'));
  input.disabled = scope === 'fleet';
  if (scope === 'fleet') input.value = '';
  const f = state.fleet;
  if (!f) return;
  const values = scope === 'group' ? f.groups : scope === 'site' ? f.sites
    : scope === 'booth' ? f.booths.map((b) => b.booth_id) : [];
  fillDatalist(byId('ga-c-targets'), values);
}

// ------------------------------------------------------------------ rollouts, codes, audit

async function loadRollouts() {
  const rows = await api('GET', 'rollouts');
  const tbody = byId('ga-rollout-rows');
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = el('tr');
    tr.dataset.rollout = String(r.id);
    cell(tr, String(r.id));
    cell(tr, `${SCOPE_TEXT[r.scope]}${r.target ? ` ${r.target}` : ''}`);
    const what = Object.entries(r.changes.set).map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .concat(r.changes.unset.map((k) => `${k} retiré`)).join(' ; ');
    cell(tr, el('code', '', what));
    cell(tr, `${r.canary_group} (${r.canary_booths.length} borne${r.canary_booths.length > 1 ? 's' : ''})`);
    cell(tr, badge(r.state));
    cell(tr, r.state === 'complete'
      ? `le ${fmtDate(r.completed_at)} par ${r.completed_by}`
      : r.rest_after ? `automatique le ${fmtDate(r.rest_after)}` : 'sur approbation');
    const actions = cell(tr, '');
    if (r.state === 'canary') {
      const btn = el('button', 'gc-btn gc-btn-primary gc-btn-sm', 'Approuver pour tout le reste');
      btn.setAttribute('type', 'button');
      btn.addEventListener('click', () => run(async () => {
        btn.setAttribute('disabled', '');
        await api('POST', `rollouts/${r.id}/approve`);
        announce(`Déploiement ${r.id} généralisé.`);
        await loadRollouts();
      }));
      actions.append(btn);
    }
    tbody.append(tr);
  }
  byId('ga-rollouts-empty').hidden = rows.length > 0;
}

async function createCode(event) {
  event.preventDefault();
  const site = /** @type {HTMLInputElement} */ (byId('ga-code-site')).value.trim();
  const ttl = Number(/** @type {HTMLInputElement} */ (byId('ga-code-ttl')).value) || 24;
  const error = byId('ga-code-error');
  error.hidden = true;
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(site)) {
    error.textContent = 'Le site s’écrit en minuscules, chiffres et tirets (ex. florac).';
    error.hidden = false;
    return;
  }
  const code = await api('POST', 'codes', { site, ttl_hours: ttl });
  byId('ga-code-for').textContent = code.site;
  byId('ga-code-text').textContent = code.code;
  byId('ga-code-expiry').textContent = `Valable une seule fois, jusqu’au ${fmtDate(code.expires_at)}.`;
  // The QR's SVG is drawn by our server (segno); parsed, not injected as markup.
  const doc = new DOMParser().parseFromString(code.qr_svg, 'text/html');
  const svg = doc.querySelector('svg');
  const holder = byId('ga-code-qr');
  holder.replaceChildren();
  if (svg) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `QR code du code ${code.code}`);
    holder.append(document.importNode(svg, true));
  }
  byId('ga-code-result').hidden = false;
  announce(`Code créé pour le site ${code.site}.`);
}

async function loadAudit() {
  const rows = await api('GET', 'audit?limit=200');
  const tbody = byId('ga-audit-rows');
  tbody.replaceChildren();
  for (const a of rows) {
    const tr = el('tr');
    cell(tr, fmtDate(a.at));
    cell(tr, `${a.actor} (${ROLE_TEXT[a.role] || a.role})`);
    cell(tr, ACTION_TEXT[a.action] || a.action);
    cell(tr, a.target);
    cell(tr, el('code', 'ga-json', json(a.before)));
    cell(tr, el('code', 'ga-json', json(a.after)));
    tbody.append(tr);
  }
}

// ------------------------------------------------------------------ routing

const VIEWS = {
  fleet: { section: 'ga-fleet', load: loadFleet },
  booth: { section: 'ga-booth', load: () => loadBooth(currentBooth()) },
  config: { section: 'ga-config', load: loadConfigSide, admin: true },
  rollouts: { section: 'ga-rollouts', load: loadRollouts, admin: true },
  enrol: { section: 'ga-enrol', load: async () => { if (!state.fleet) await loadFleet(); } },
  stats: { section: 'ga-stats', load: () => loadStats(api), admin: true },
  audit: { section: 'ga-audit', load: loadAudit, admin: true },
};
const ROUTES = {
  '#/parc': 'fleet', '#/configuration': 'config', '#/deploiements': 'rollouts',
  '#/enrolement': 'enrol', '#/journal': 'audit', '#/statistiques': 'stats',
};

function viewFromHash() {
  if (location.hash.startsWith('#/borne/')) return 'booth';
  const view = ROUTES[location.hash] || 'fleet';
  return VIEWS[view].admin && !isAdmin() ? 'fleet' : view;
}

async function route() {
  if (state.status !== 'ready') return;
  clearError();
  const view = viewFromHash();
  for (const [name, v] of Object.entries(VIEWS)) byId(v.section).hidden = name !== view;
  for (const a of byId('ga-nav').querySelectorAll('a')) {
    if (a.getAttribute('data-view') === (view === 'booth' ? 'fleet' : view)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  state.view = '';
  await run(async () => {
    await VIEWS[view].load();
    state.view = view;
  });
}

async function run(fn) {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showError(err);
  }
}

// ------------------------------------------------------------------ session

function signedOut() {
  state.staff = null;
  state.status = 'signed_out';
  clearInterval(state.refreshTimer);
  byId('gc-root').dataset.state = 'signed_out';
  byId('ga-loading').hidden = true;
  byId('ga-login').hidden = false;
  byId('ga-nav').hidden = true;
  byId('ga-header-tools').hidden = true;
  for (const v of Object.values(VIEWS)) byId(v.section).hidden = true;
}

async function signedIn(staff) {
  state.staff = staff;
  state.status = 'ready';
  byId('gc-root').dataset.state = 'ready';
  byId('ga-loading').hidden = true;
  byId('ga-login').hidden = true;
  byId('ga-who').textContent = staff.display_name;
  byId('ga-role').textContent = ROLE_TEXT[staff.role] || staff.role;
  byId('ga-header-tools').hidden = false;
  byId('ga-nav').hidden = false;
  for (const node of document.querySelectorAll('[data-admin]')) /** @type {HTMLElement} */ (node).hidden = !isAdmin();
  clearInterval(state.refreshTimer);
  state.refreshTimer = window.setInterval(() => {
    if (state.view === 'fleet' && !document.hidden) run(loadFleet);
  }, FLEET_REFRESH_MS);
  await route();
}

function wire() {
  byId('ga-stats-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(() => loadStats(api));
  });
  byId('ga-login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const user = /** @type {HTMLInputElement} */ (byId('ga-username'));
    const pass = /** @type {HTMLInputElement} */ (byId('ga-password'));
    const error = byId('ga-login-error');
    error.hidden = true;
    if (!user.value.trim() || !pass.value) {
      error.textContent = 'Veuillez saisir votre identifiant et votre mot de passe.';
      error.hidden = false;
      return;
    }
    login(user.value.trim(), pass.value).then(signedIn, (err) => {
      pass.value = '';
      error.textContent = err.message;
      error.hidden = false;
    });
  });
  byId('ga-logout').addEventListener('click', async () => {
    await logout();
    signedOut();
  });
  window.addEventListener('hashchange', () => { route(); });
  for (const id of ['ga-f-site', 'ga-f-group', 'ga-f-status']) byId(id).addEventListener('change', renderFleet);
  byId('ga-f-search').addEventListener('input', renderFleet);
  byId('ga-filters').addEventListener('submit', (event) => event.preventDefault());
  byId('ga-fleet-refresh').addEventListener('click', () => run(loadFleet));
  byId('ga-groups-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const groups = /** @type {HTMLInputElement} */ (byId('ga-groups')).value.split(',').map((g) => g.trim()).filter(Boolean);
    run(async () => {
      await api('PUT', `booths/${encodeURIComponent(currentBooth())}/groups`, { groups });
      announce('Groupes enregistrés.');
      state.fleet = null;
      await loadBooth(currentBooth());
    });
  });
  byId('ga-revoke').addEventListener('click', () => { byId('ga-revoke-confirm').hidden = false; });
  byId('ga-revoke-no').addEventListener('click', () => { byId('ga-revoke-confirm').hidden = true; });
  byId('ga-revoke-yes').addEventListener('click', () => run(async () => {
    await api('POST', `booths/${encodeURIComponent(currentBooth())}/revoke`);
    announce('Borne révoquée.');
    await loadBooth(currentBooth());
  }));
  byId('ga-config-form').addEventListener('submit', (event) => { event.preventDefault(); run(previewChange); });
  byId('ga-c-apply').addEventListener('click', () => run(applyChange));
  byId('ga-c-scope').addEventListener('change', updateTargets);
  byId('ga-c-booth').addEventListener('change', () => run(loadConfigSide));
  for (const id of ['ga-c-scope', 'ga-c-target', 'ga-c-values', 'ga-c-canary', 'ga-c-delay']) {
    // Any edit after a preview needs a new preview before applying.
    byId(id).addEventListener('input', () => {
      state.pending = null;
      /** @type {HTMLButtonElement} */ (byId('ga-c-apply')).disabled = true;
    });
  }
  byId('ga-code-form').addEventListener('submit', (event) => run(() => createCode(event)));
}

/**
 * Show "Se connecter avec <provider>" when the server signs staff in through OpenID
 * Connect (the local form stays: staff accounts are also the break-glass way in).
 */
async function showProvider() {
  try {
    const res = await fetch(new URL('../api/v1/auth/options', import.meta.url), {
      credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' },
    });
    const options = res.ok ? await res.json() : null;
    if (options && options.oidc_name && options.oidc_login_url) {
      byId('ga-oidc-link').textContent = `Se connecter avec ${options.oidc_name}`;
      byId('ga-oidc-link').setAttribute('href', `..${options.oidc_login_url}?to=admin`);
      byId('ga-oidc').hidden = false;
    }
  } catch {
    // Unreachable server: the local form says so when used.
  }
}

async function start() {
  wire();
  await showProvider();
  try {
    const staff = await me();
    if (staff) await signedIn(staff); else signedOut();
  } catch (err) {
    signedOut();
    showError(err);
  }
}

start();

/**
 * Admin console, statistics view: the period and filters, key figures, calls
 * per day, mean wait per day, the citizens' ratings, and tables per service and
 * per site; the CSV link follows the filters. Text only into the DOM.
 * @module stats
 */

import { sparkline, stackedBars } from './charts.js';
import { byId, el } from '../console/ui.js';

const SITES_SHOWN = 50;
const REASON_TEXT = {
  reason_wait: 'Attente trop longue',
  reason_technical: 'Problème technique',
  reason_unclear: 'Réponse pas claire',
  reason_other: 'Autre raison',
};

/** @param {number|null} seconds */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${String(s % 60).padStart(2, '0')} s` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')}`;
}

/** @param {number|null} rate */
function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)} %`;
}

const number = (n) => new Intl.NumberFormat('fr-FR').format(n);

/** @param {string} iso */
function shortDate(iso) {
  const [y, m, d] = iso.split('-');
  return `${d}/${m}/${y}`;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The query string of the filters (also used by the CSV link). */
function query() {
  const params = new URLSearchParams();
  for (const [name, id] of [['start', 'ga-stats-start'], ['end', 'ga-stats-end'], ['service', 'ga-stats-service'], ['site', 'ga-stats-site']]) {
    const value = /** @type {HTMLInputElement} */ (byId(id)).value;
    if (value) params.set(name, value);
  }
  return params.toString();
}

/** Fill the period with the last 30 days the first time. */
export function initFilters() {
  const start = /** @type {HTMLInputElement} */ (byId('ga-stats-start'));
  const end = /** @type {HTMLInputElement} */ (byId('ga-stats-end'));
  if (!end.value) {
    const today = new Date();
    end.value = isoDay(today);
    start.value = isoDay(new Date(today.getTime() - 29 * 86_400_000));
  }
}

function fillSelect(id, values, keep, names = {}) {
  const select = /** @type {HTMLSelectElement} */ (byId(id));
  const current = keep ? select.value : '';
  while (select.options.length > 1) select.remove(1);
  for (const value of values) select.append(new Option(value === '-' ? 'Sans site' : names[value] || value, value));
  select.value = values.includes(current) ? current : '';
}

function kpis(total) {
  const list = byId('ga-stats-kpis');
  list.replaceChildren();
  const items = [
    ['Appels proposés', number(total.offered)],
    ['Appels répondus', number(total.answered)],
    ['Abandons avant réponse', `${number(total.abandoned)} (${percent(total.abandonment_rate)})`],
    ['Attente moyenne', duration(total.mean_wait_s)],
    ['Durée moyenne d’appel', duration(total.mean_duration_s)],
    ['Usagers satisfaits', `${percent(total.satisfaction)} de ${number(total.rating_happy + total.rating_neutral + total.rating_unhappy)} avis`],
  ];
  for (const [label, value] of items) {
    const li = el('li', 'ga-count');
    li.append(el('span', 'ga-count-n', value), document.createTextNode(label));
    list.append(li);
  }
}

function ratings(total) {
  const box = byId('ga-stats-ratings');
  box.replaceChildren();
  const given = total.rating_happy + total.rating_neutral + total.rating_unhappy;
  if (!given) {
    box.append(el('p', 'ga-empty', 'Aucun avis sur la période.'));
    return;
  }
  const rows = [
    ['Content', total.rating_happy, given],
    ['Moyen', total.rating_neutral, given],
    ['Pas content', total.rating_unhappy, given],
  ];
  const reasons = Object.keys(REASON_TEXT).map((k) => [REASON_TEXT[k], total[k], given]);
  for (const [label, n, of] of [...rows, ...reasons]) {
    const row = el('div', 'ga-rating');
    const bar = el('div', 'ga-rating-bar');
    const fill = el('div', 'ga-rating-fill');
    fill.style.width = `${Math.round((n / of) * 100)}%`;
    bar.append(fill);
    bar.setAttribute('role', 'img');
    bar.setAttribute('aria-label', `${label} : ${n} sur ${of}`);
    row.append(el('span', '', label), bar, el('span', 'ga-rating-n', number(n)));
    box.append(row);
    if (label === 'Pas content') box.append(el('p', 'ga-help', 'Raisons données :'));
  }
}

/**
 * @param {string} tbodyId
 * @param {any[]} groups
 * @param {Record<string, string>} [names] display names by id (services)
 */
function groupRows(tbodyId, groups, names = {}) {
  const tbody = byId(tbodyId);
  tbody.replaceChildren();
  if (!groups.length) {
    const tr = el('tr');
    const td = el('td', 'ga-empty', 'Aucun appel sur la période.');
    td.colSpan = 7;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const g of groups) {
    const tr = el('tr');
    for (const text of [
      g.name === '-' ? 'Sans site' : names[g.name] || g.name, number(g.offered), number(g.answered),
      `${number(g.abandoned)} (${percent(g.abandonment_rate)})`, duration(g.mean_wait_s),
      duration(g.mean_duration_s), percent(g.satisfaction),
    ]) tr.append(el('td', '', text));
    tbody.append(tr);
  }
}

/**
 * Load and draw the statistics for the filters.
 * @param {(method: string, path: string) => Promise<any>} api
 */
export async function loadStats(api) {
  initFilters();
  const q = query();
  const view = await api('GET', `stats?${q}`);
  /** @type {HTMLAnchorElement} */ (byId('ga-stats-csv')).href = `../api/v1/admin/stats.csv?${q}`;
  fillSelect('ga-stats-service', view.services, true, view.service_names);
  fillSelect('ga-stats-site', view.sites, true);
  kpis(view.total);
  stackedBars(
    byId('ga-stats-calls'),
    view.by_day.map((d) => ({ label: shortDate(d.day), answered: d.answered, abandoned: d.abandoned })),
    'Appels par jour',
  );
  sparkline(byId('ga-stats-wait'), view.by_day.map((d) => (d.mean_wait_s === null ? null : d.mean_wait_s / 60)), 'Attente moyenne par jour', 'min');
  ratings(view.total);
  groupRows('ga-stats-services', view.by_service, view.service_names);
  const sites = [...view.by_site].sort((a, b) => b.offered - a.offered);
  groupRows('ga-stats-sites', sites.slice(0, SITES_SHOWN));
  byId('ga-stats-sites-note').textContent = sites.length > SITES_SHOWN
    ? `Les ${SITES_SHOWN} sites les plus fréquentés sur ${number(sites.length)} ; l’export CSV les donne tous.`
    : `${number(sites.length)} site(s), du plus fréquenté au moins fréquenté.`;
}

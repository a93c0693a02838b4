/**
 * Small inline SVG line charts (sparklines) built with DOM calls: no library, no
 * innerHTML, nothing the CSP would refuse.
 * @module charts
 */

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 80;

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

/**
 * Draw ``values`` (nulls are gaps left out) into ``container``, with min/max/last below.
 * @param {HTMLElement} container
 * @param {Array<number|null>} values  oldest first
 * @param {string} label               accessible name of the chart
 * @param {string} unit
 */
export function sparkline(container, values, label, unit) {
  container.replaceChildren();
  const points = values.map((v, i) => [i, v]).filter(([, v]) => typeof v === 'number');
  const svg = svgEl('svg', {
    class: 'ga-spark', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img',
  });
  const title = svgEl('title', {});
  container.append(svg);
  const legend = document.createElement('div');
  legend.className = 'ga-spark-legend';
  container.append(legend);
  if (points.length === 0) {
    title.textContent = `${label} : aucune mesure`;
    svg.append(title);
    legend.textContent = 'Aucune mesure pour l’instant.';
    return;
  }
  const ys = points.map(([, v]) => /** @type {number} */ (v));
  const min = Math.min(...ys);
  const max = Math.max(...ys);
  const span = max - min || 1;
  const last = ys[ys.length - 1];
  const n = Math.max(values.length - 1, 1);
  const xy = points.map(([i, v]) => [
    (i / n) * WIDTH,
    HEIGHT - 6 - ((/** @type {number} */ (v) - min) / span) * (HEIGHT - 12),
  ]);
  const line = xy.map(([x, y], k) => `${k ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const area = `${line} L${xy[xy.length - 1][0].toFixed(1)},${HEIGHT} L${xy[0][0].toFixed(1)},${HEIGHT} Z`;
  svg.append(svgEl('path', { class: 'ga-spark-area', d: area }));
  svg.append(svgEl('path', { class: 'ga-spark-line', d: line }));
  const fmt = (v) => `${Math.round(v * 10) / 10} ${unit}`;
  title.textContent = `${label} : dernière valeur ${fmt(last)}, min ${fmt(min)}, max ${fmt(max)}`;
  svg.prepend(title);
  for (const text of [`min ${fmt(min)}`, `dernier ${fmt(last)}`, `max ${fmt(max)}`]) {
    const span = document.createElement('span');
    span.textContent = text;
    legend.append(span);
  }
}

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

/**
 * Stacked daily bars (answered below, abandoned on top), one per day, with the
 * largest day's total written at the top left. Labels of the first and last days.
 * @param {HTMLElement} container
 * @param {Array<{label: string, answered: number, abandoned: number}>} days  oldest first
 * @param {string} label  accessible name of the chart
 */
export function stackedBars(container, days, label) {
  container.replaceChildren();
  const height = 160;
  const width = Math.max(300, days.length * 6);
  const svg = svgEl('svg', {
    class: 'ga-bars', viewBox: `0 0 ${width} ${height + 16}`, preserveAspectRatio: 'none', role: 'img',
  });
  const title = svgEl('title', {});
  svg.append(title);
  const top = Math.max(1, ...days.map((d) => d.answered + d.abandoned));
  const slot = width / Math.max(days.length, 1);
  const bar = Math.max(1, slot * 0.75);
  days.forEach((d, i) => {
    const x = i * slot + (slot - bar) / 2;
    const hAnswered = (d.answered / top) * height;
    const hAbandoned = (d.abandoned / top) * height;
    if (hAnswered > 0) {
      svg.append(svgEl('rect', {
        class: 'ga-bar-answered', x: x.toFixed(1), y: (height - hAnswered).toFixed(1),
        width: bar.toFixed(1), height: hAnswered.toFixed(1),
      }));
    }
    if (hAbandoned > 0) {
      svg.append(svgEl('rect', {
        class: 'ga-bar-abandoned', x: x.toFixed(1), y: (height - hAnswered - hAbandoned).toFixed(1),
        width: bar.toFixed(1), height: hAbandoned.toFixed(1),
      }));
    }
  });
  svg.append(svgEl('line', { class: 'ga-bars-axis', x1: 0, y1: height, x2: width, y2: height }));
  const answered = days.reduce((n, d) => n + d.answered, 0);
  const abandoned = days.reduce((n, d) => n + d.abandoned, 0);
  title.textContent = `${label} : ${answered} appels répondus et ${abandoned} abandons sur ${days.length} jours, au plus ${top} par jour`;
  container.append(svg);
  const legend = document.createElement('div');
  legend.className = 'ga-legend';
  const parts = [
    ['ga-key-answered', `Répondus (${answered})`],
    ['ga-key-abandoned', `Abandons avant réponse (${abandoned})`],
    ['', `Maximum : ${top} par jour`],
  ];
  if (days.length) parts.push(['', `${days[0].label} → ${days[days.length - 1].label}`]);
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    if (cls) span.className = cls;
    span.textContent = text;
    legend.append(span);
  }
  container.append(legend);
}

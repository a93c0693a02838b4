/**
 * An "existing portal" using the embed SDK: its own case file beside the
 * visio-guichet console; its buttons drive the console, the console's events
 * fill the case file. The switchboard's URL comes from `?guichet=` (default:
 * this page's origin).
 */
const params = new URLSearchParams(window.location.search);
const server = params.get('guichet') || window.location.origin;
const { GuichetAgent } = await import(new URL('/embed/guichet-embed.js', server).href);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const agent = new GuichetAgent($('pt-agent'), { server });
window.portal = { agent, documents: [], events: [] };

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString('fr-FR')} — ${text}`;
  $('pt-log').append(li);
}

function inCall(on) {
  for (const id of ['pt-print', 'pt-scan', 'pt-card', 'pt-hello', 'pt-hangup']) {
    /** @type {HTMLButtonElement} */ ($(id)).disabled = !on;
  }
}

async function act(what, run) {
  $('pt-error').hidden = true;
  try {
    await run();
    log(what);
  } catch (err) {
    $('pt-error').textContent = `${what} : ${err.message}`;
    $('pt-error').hidden = false;
  }
}

/** A one-page PDF made here: the portal's own document. */
function attestation() {
  const text = 'Attestation de paiement - dossier 2026-0147';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = `BT /F1 16 Tf 72 760 Td (${text}) Tj ET`;
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let pdf = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) pdf += `${String(o).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new Blob([pdf], { type: 'application/pdf' });
}

agent.addEventListener('ready', (e) => {
  $('pt-status').textContent = e.detail.agent ? `Connecté (${e.detail.agent})` : 'Console prête : connectez-vous dans le cadre de droite.';
});
agent.addEventListener('queues', (e) => { $('pt-waiting').textContent = String(e.detail.waiting); });
agent.addEventListener('citizen_waiting', (e) => log(`${e.detail.waiting} usager(s) en attente`));
agent.addEventListener('call_started', (e) => {
  $('pt-call').textContent = `${e.detail.service_name} — ${e.detail.booth_name} (${e.detail.language})`;
  inCall(true);
  log(`Appel de ${e.detail.booth_name}`);
});
agent.addEventListener('call_ended', (e) => {
  $('pt-call').textContent = 'Aucun';
  inCall(false);
  log(`Appel terminé (${e.detail.reason})`);
});
agent.addEventListener('call_reconnecting', () => log('Liaison perdue avec la borne, reconnexion…'));
agent.addEventListener('call_reconnected', () => log('Liaison rétablie avec la borne'));
agent.addEventListener('chat', (e) => log(`L'usager écrit : ${e.detail.text}`));
agent.addEventListener('document_received', (e) => {
  const { data, width, height, dpi } = e.detail;
  const docs = $('pt-docs');
  docs.querySelector('.pt-none')?.remove();
  const li = document.createElement('li');
  const figure = document.createElement('figure');
  const img = document.createElement('img');
  img.src = URL.createObjectURL(data);
  img.alt = 'Justificatif numérisé sur la borne';
  const caption = document.createElement('figcaption');
  caption.textContent = `Justificatif — ${width} × ${height} px, ${dpi} ppp`;
  figure.append(img, caption);
  li.append(figure);
  docs.append(li);
  window.portal.documents.push({ mime: data.type, size: data.size, width, height, dpi });
  log('Justificatif reçu et classé au dossier');
});
const KIND = { print_pdf: 'impression', print_receipt: 'reçu', scan: 'numérisation', read_card: 'lecture de carte', read_code: 'lecture de code' };
agent.addEventListener('device_result', (e) => log(`Borne : ${KIND[e.detail.kind] || e.detail.kind} terminée`));
agent.addEventListener('device_error', (e) => log(`Borne : ${KIND[e.detail.kind] || e.detail.kind} impossible — ${e.detail.message}`));
for (const type of ['ready', 'call_started', 'call_reconnecting', 'call_reconnected', 'call_ended', 'document_received', 'device_result', 'device_error', 'chat']) {
  agent.addEventListener(type, (e) => window.portal.events.push({ type, detail: { ...e.detail, data: undefined } }));
}

$('pt-answer').addEventListener('click', () => act('Réponse à l\'usager suivant', () => agent.answerNext()));
$('pt-print').addEventListener('click', () => act('Attestation envoyée à l\'imprimante de la borne', () => agent.printPdf(attestation(), 'attestation-2026-0147.pdf')));
$('pt-scan').addEventListener('click', () => act('Scan demandé', () => agent.requestScan({ dpi: 300, colour: true })));
$('pt-card').addEventListener('click', () => act('Lecture de carte demandée', () => agent.readCard()));
$('pt-hello').addEventListener('click', () => act('Message envoyé', () => agent.sendChat('Bonjour, je consulte votre dossier.')));
$('pt-hangup').addEventListener('click', () => act('Appel raccroché', () => agent.hangup()));

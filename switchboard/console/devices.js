/**
 * The "Périphériques" panel of a call: the agent asks the booth to print a PDF or a
 * receipt, to read a card or a convocation code, or to scan a page, and follows
 * each request in plain words (docs/protocol.md, "Device work").
 *
 * Everything the booth sends back (card identifiers, codes, scanned images) lives
 * only in this page and is wiped when the call ends: `reset()` revokes the blob
 * URLs, zeroes the received bytes and empties the list.
 * @module devices
 */
import { MAX_TRANSFER_BYTES, TransferAssembler, formatSize, transferMessages } from './transfer.js';
import { announce, byId, el, newId, setVisible } from './ui.js';

const MAX_RECEIPT_LINES = 60;
const MAX_RECEIPT_LINE_CHARS = 64;

/** What each request is, for the list and the screen reader. */
const KIND_LABEL = {
  print_pdf: 'Impression du PDF',
  print_receipt: 'Impression du reçu',
  read_card: 'Lecture de carte',
  scan: 'Numérisation',
  read_code: 'Lecture de code',
};

/** Status words shown next to each request. */
const STATUS_TEXT = {
  sending: 'Envoi du document à la borne…',
  pending: 'Demande envoyée à la borne…',
  waiting_consent: "En attente de l'accord du citoyen…",
  working: 'En cours…',
  done: 'Terminé',
  failed: 'Échec',
  refused: 'Refusée par le citoyen',
  cancelled: 'Annulée',
};

/** French words for the booth's error codes, when its reason is missing. */
const ERROR_TEXT = {
  bad_request: 'La borne a refusé la demande.',
  duplicate_request: 'Cette demande a déjà été envoyée.',
  unknown_request: 'La borne ne connaît pas cette demande.',
  busy: 'Une demande du même type est déjà en cours.',
  unavailable: "Ce périphérique n'est pas disponible sur la borne.",
  not_supported: 'La borne ne sait pas faire cela.',
  consent_refused: 'Le citoyen a refusé.',
  cancelled: 'Demande annulée.',
  timeout: 'Pas de réponse à temps.',
  transfer_failed: "Le document n'est pas arrivé entier.",
  failed: 'Le périphérique a échoué.',
};

const TERMINAL = new Set(['done', 'failed', 'refused', 'cancelled']);

/**
 * Drivers' reasons are sentence fragments ("impression impossible : plus de papier"):
 * show them as sentences.
 * @param {string} text
 */
function sentence(text) {
  const t = text.trim();
  if (!t) return t;
  const s = t[0].toLocaleUpperCase('fr') + t.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

/**
 * @typedef {object} DeviceRequest
 * @property {string} id
 * @property {string} kind
 * @property {string} status  sending|pending|waiting_consent|working|done|failed|refused|cancelled
 * @property {string} message plain words shown to the agent
 * @property {number|null} percent
 * @property {object|null} result  card/code/scan/print metadata (never bytes)
 * @property {string} error  booth error code, or ''
 * @property {string} transferId
 * @property {string} label
 * @property {HTMLLIElement} li
 * @property {string} url  blob URL of a scanned image, or ''
 * @property {Blob|null} [blob]  the scanned image (given to an embedding portal), until reset
 * @property {string|null} callId  the call the request belongs to
 * @property {boolean} reported  its end was reported to the audit trail
 * @property {Promise<boolean>|null} audited  that report, once sent
 */

export class DevicesPanel {
  /**
   * @param {object} opts
   * @param {(msg: object) => boolean} opts.send  one data-channel message
   * @param {(msgs: object[], onProgress: (sent: number) => void) => Promise<boolean>} opts.sendMany
   *   many messages, paced on the channel's buffer
   * @param {() => (string|null)} [opts.callId]  the current call's id
   * @param {(report: object) => Promise<boolean>} [opts.report]  records, for the audit
   *   trail, that a request ended (metadata only, see {@link DevicesPanel#auditReport})
   * @param {(req: DeviceRequest) => void} [opts.onChange]  a request changed (the embed
   *   bridge tells the portal)
   */
  constructor({ send, sendMany, callId = () => null, report = async () => false, onChange = () => {} }) {
    this.send = send;
    this.sendMany = sendMany;
    this.callId = callId;
    this.report = report;
    this.onChange = onChange;
    this.assembler = new TransferAssembler();
    /** @type {DeviceRequest[]} */
    this.requests = [];
    /** Device messages are handled one at a time (a sha256 check is asynchronous). */
    this.queue = Promise.resolve();
    this.enabled = false;
    this.$ = {
      log: byId('gc-dev-log'),
      error: byId('gc-dev-error'),
      pdfFile: /** @type {HTMLInputElement} */ (byId('gc-dev-pdf-file')),
      pdfForm: /** @type {HTMLFormElement} */ (byId('gc-dev-pdf-form')),
      receiptForm: /** @type {HTMLFormElement} */ (byId('gc-dev-receipt-form')),
      receiptTitle: /** @type {HTMLInputElement} */ (byId('gc-dev-receipt-title')),
      receiptText: /** @type {HTMLTextAreaElement} */ (byId('gc-dev-receipt-text')),
      receiptQr: /** @type {HTMLInputElement} */ (byId('gc-dev-receipt-qr')),
      card: /** @type {HTMLButtonElement} */ (byId('gc-dev-card')),
      scan: /** @type {HTMLButtonElement} */ (byId('gc-dev-scan')),
      scanDpi: /** @type {HTMLSelectElement} */ (byId('gc-dev-scan-dpi')),
      scanColour: /** @type {HTMLSelectElement} */ (byId('gc-dev-scan-colour')),
      code: /** @type {HTMLButtonElement} */ (byId('gc-dev-code')),
    };
    this.$.pdfForm.addEventListener('submit', (e) => { e.preventDefault(); this.printPdf(); });
    this.$.receiptForm.addEventListener('submit', (e) => { e.preventDefault(); this.printReceipt(); });
    this.$.card.addEventListener('click', () => this.request('read_card', {}));
    this.$.scan.addEventListener('click', () => this.request('scan', {
      dpi: Number(this.$.scanDpi.value),
      colour: this.$.scanColour.value === 'colour',
    }));
    this.$.code.addEventListener('click', () => this.request('read_code', {}));
    this.setEnabled(false);
  }

  /** @param {boolean} enabled  the data channel is open */
  setEnabled(enabled) {
    this.enabled = enabled;
    for (const node of this.$.pdfForm.elements) /** @type {HTMLButtonElement} */ (node).disabled = !enabled;
    for (const node of this.$.receiptForm.elements) /** @type {HTMLButtonElement} */ (node).disabled = !enabled;
    for (const b of [this.$.card, this.$.scan, this.$.code, this.$.scanDpi, this.$.scanColour]) b.disabled = !enabled;
  }

  showError(text) {
    this.$.error.textContent = text;
    setVisible(this.$.error, !!text);
  }

  // -- asking ------------------------------------------------------------------

  /**
   * Send a device_request and list it.
   * @param {string} kind
   * @param {object} fields  command fields besides `kind`
   * @param {string} [label]
   * @returns {DeviceRequest|null}
   */
  request(kind, fields, label) {
    this.showError('');
    const req = this.add(kind, label || KIND_LABEL[kind]);
    if (!this.send({ type: 'device_request', request_id: req.id, command: { kind, ...fields } })) {
      this.update(req, { status: 'failed', message: "La liaison avec la borne n'est pas établie." });
    }
    return req;
  }

  async printPdf() {
    const file = this.$.pdfFile.files && this.$.pdfFile.files[0];
    if (!file) { this.showError("Choisissez d'abord un fichier PDF."); this.$.pdfFile.focus(); return; }
    try {
      await this.printPdfBytes(new Uint8Array(await file.arrayBuffer()), file.name);
    } catch (err) {
      this.showError(err instanceof Error ? err.message : String(err));
    } finally {
      this.$.pdfFile.value = '';
    }
  }

  /**
   * Send a PDF to the booth's A4 printer (from the file field or from a portal).
   * Throws an Error in plain French when the document cannot be sent.
   * @param {Uint8Array} bytes
   * @param {string} name
   * @returns {Promise<DeviceRequest>}
   */
  async printPdfBytes(bytes, name) {
    if (!this.enabled) throw new Error("La liaison avec la borne n'est pas établie.");
    if (bytes.length > MAX_TRANSFER_BYTES) {
      throw new Error(`Ce fichier est trop volumineux (${formatSize(bytes.length)} ; maximum ${formatSize(MAX_TRANSFER_BYTES)}).`);
    }
    if (bytes.length === 0 || String.fromCharCode(...bytes.subarray(0, 5)) !== '%PDF-') {
      throw new Error("Ce fichier n'est pas un PDF.");
    }
    const file = { name: String(name || 'document.pdf').slice(0, 200) };
    this.showError('');
    const req = this.add('print_pdf', `Impression de « ${file.name} »`);
    req.transferId = newId();
    this.update(req, { status: 'sending', percent: 0, message: `Envoi du document (${formatSize(bytes.length)})…` });
    const msgs = await transferMessages(req.transferId, bytes, { mime: 'application/pdf', name: file.name });
    const title = file.name.replace(/\.pdf$/i, '').slice(0, 200);
    msgs.push({ type: 'device_request', request_id: req.id, command: { kind: 'print_pdf', transfer_id: req.transferId, title } });
    const total = msgs.length;
    const ok = await this.sendMany(msgs, (sent) => {
      if (req.status === 'sending') this.update(req, { percent: Math.round((100 * sent) / total) });
    });
    bytes.fill(0);
    if (!ok) this.update(req, { status: 'failed', message: "L'envoi a été interrompu : la liaison avec la borne est coupée." });
    else if (req.status === 'sending') this.update(req, { status: 'pending', percent: null, message: '' });
    return req;
  }

  printReceipt() {
    const title = this.$.receiptTitle.value.trim();
    if (!title) { this.showError('Donnez un titre au reçu.'); this.$.receiptTitle.focus(); return; }
    const lines = [];
    for (const raw of this.$.receiptText.value.split('\n')) {
      const line = raw.trimEnd();
      if (!line) { lines.push(''); continue; }
      for (let i = 0; i < line.length; i += MAX_RECEIPT_LINE_CHARS) lines.push(line.slice(i, i + MAX_RECEIPT_LINE_CHARS));
    }
    while (lines.length && !lines[lines.length - 1]) lines.pop();
    if (lines.length > MAX_RECEIPT_LINES) { this.showError(`Le reçu est trop long (${MAX_RECEIPT_LINES} lignes au plus).`); return; }
    const qr = this.$.receiptQr.value.trim();
    const fields = { title: title.slice(0, MAX_RECEIPT_LINE_CHARS), lines };
    if (qr) fields.qr = qr.slice(0, 500);
    this.request('print_receipt', fields, `Impression du reçu « ${title} »`);
  }

  /** @param {string} kind @param {string} label @returns {DeviceRequest} */
  add(kind, label) {
    const li = /** @type {HTMLLIElement} */ (el('li', 'gc-dev-item'));
    /** @type {DeviceRequest} */
    const req = { id: newId(), kind, status: 'pending', message: '', percent: null, result: null, error: '', transferId: '', label, li, url: '', blob: null, callId: this.callId(), reported: false, audited: null };
    li.dataset.kind = kind;
    this.requests.push(req);
    this.$.log.prepend(li);
    this.render(req);
    announce(`${label} : demande envoyée.`);
    return req;
  }

  /** @param {DeviceRequest} req @param {Partial<DeviceRequest>} changes */
  update(req, changes) {
    const before = req.status;
    Object.assign(req, changes);
    this.render(req);
    if (TERMINAL.has(req.status) && !req.reported) {
      req.reported = true;
      const report = this.auditReport(req);
      if (report) req.audited = this.report(report);
    }
    if (req.status !== before && (TERMINAL.has(req.status) || req.status === 'waiting_consent')) {
      announce(`${req.label} : ${req.message || STATUS_TEXT[req.status]}`);
    }
    if (req.status !== before) {
      try { this.onChange(req); } catch { /* a listener's fault never breaks the panel */ }
    }
  }

  /**
   * What the audit trail learns of an ended request: kind, outcome, the booth's error
   * code, the page count of a print. Never the card's identifiers, the code read, the
   * scan or the receipt text: those stay in this page.
   * @param {DeviceRequest} req
   * @returns {object|null}
   */
  auditReport(req) {
    if (!req.callId) return null;
    /** @type {{call_id: string, request_id: string, kind: string, outcome: string, error?: string, pages?: number}} */
    const report = { call_id: req.callId, request_id: req.id, kind: req.kind, outcome: req.status };
    if (req.error && Object.hasOwn(ERROR_TEXT, req.error)) report.error = req.error;
    const pages = req.result && (req.result.kind === 'print_pdf' || req.result.kind === 'print_receipt') ? req.result.pages : null;
    if (Number.isInteger(pages) && pages >= 0) report.pages = pages;
    return report;
  }

  /** @param {DeviceRequest} req */
  render(req) {
    const li = req.li;
    li.dataset.status = req.status;
    const head = el('div', 'gc-dev-head');
    head.append(el('span', 'gc-dev-label', req.label), el('span', `gc-dev-badge gc-dev-badge-${req.status}`, STATUS_TEXT[req.status]));
    const parts = [head];
    if (req.message) parts.push(el('p', 'gc-dev-msg', req.message));
    if (req.percent != null && !TERMINAL.has(req.status)) {
      const bar = /** @type {HTMLProgressElement} */ (el('progress', 'gc-dev-progress'));
      bar.max = 100;
      bar.value = req.percent;
      bar.setAttribute('aria-label', `${req.label} : ${req.percent} %`);
      parts.push(bar);
    }
    if (req.result) parts.push(this.renderResult(req));
    if (!TERMINAL.has(req.status) && req.status !== 'sending') {
      const cancel = el('button', 'gc-btn gc-btn-tertiary gc-btn-sm', 'Annuler');
      cancel.setAttribute('type', 'button');
      cancel.setAttribute('aria-label', `Annuler : ${req.label}`);
      cancel.addEventListener('click', () => this.send({ type: 'cancel_request', request_id: req.id }));
      parts.push(cancel);
    }
    li.replaceChildren(...parts);
  }

  /** @param {DeviceRequest} req @returns {HTMLElement} */
  renderResult(req) {
    const r = req.result;
    const box = el('div', 'gc-dev-result');
    const fact = (name, value) => {
      const row = el('div', 'gc-fact');
      row.append(el('dt', '', name), el('dd', 'gc-dev-value', value));
      return row;
    };
    if (r.kind === 'read_card') {
      const dl = el('dl', 'gc-dev-facts');
      dl.append(fact('Type de carte', r.card_type));
      if (r.uid) dl.append(fact('Identifiant (UID)', r.uid));
      if (r.atr) dl.append(fact('ATR', r.atr));
      box.append(dl);
    } else if (r.kind === 'read_code') {
      const dl = el('dl', 'gc-dev-facts');
      dl.append(fact('Code lu', r.text));
      box.append(dl);
    } else if (r.kind === 'scan') {
      if (req.url) {
        const img = /** @type {HTMLImageElement} */ (el('img', 'gc-dev-scan'));
        img.src = req.url;
        img.alt = `Document numérisé (${r.width} × ${r.height} pixels)`;
        const link = /** @type {HTMLAnchorElement} */ (el('a', 'gc-btn gc-btn-secondary gc-btn-sm', 'Télécharger'));
        link.href = req.url;
        link.download = `scan-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${r.mime === 'image/jpeg' ? 'jpg' : 'png'}`;
        link.setAttribute('aria-label', 'Télécharger le document numérisé');
        box.append(img, el('p', 'gc-dev-msg', `${r.width} × ${r.height} px, ${r.dpi} ppp, ${formatSize(r.size)}`), link);
      }
    } else if (r.pages) {
      box.append(el('p', 'gc-dev-msg', `${r.pages} page${r.pages > 1 ? 's' : ''} imprimée${r.pages > 1 ? 's' : ''}.`));
    }
    return box;
  }

  // -- hearing back ------------------------------------------------------------

  /** A device or transfer message from the booth (queued: handled in order). @param {any} msg */
  receive(msg) {
    this.queue = this.queue.then(() => this.process(msg)).catch(() => {});
  }

  /** @param {any} msg */
  async process(msg) {
    if (msg.type.startsWith('transfer_')) {
      const out = await this.assembler.feed(msg);
      if (msg.type === 'transfer_abort') this.onAbort(msg);
      if (out && !out.done) {
        this.send({ type: 'transfer_abort', transfer_id: out.transferId, code: out.code, reason: out.reason });
      }
      return;
    }
    const req = this.requests.find((r) => r.id === msg.request_id);
    if (!req || TERMINAL.has(req.status)) return;
    if (msg.type === 'device_progress') {
      const phase = msg.phase;
      if (phase === 'waiting_consent' || phase === 'working') {
        this.update(req, { status: phase, message: typeof msg.message === 'string' ? msg.message : '', percent: Number.isInteger(msg.percent) && phase === 'working' ? msg.percent : null });
      }
    } else if (msg.type === 'device_result' && msg.result && typeof msg.result === 'object') {
      this.onResult(req, msg.result);
    } else if (msg.type === 'device_error') {
      const code = typeof msg.code === 'string' ? msg.code : 'failed';
      const reason = typeof msg.reason === 'string' && msg.reason ? msg.reason : ERROR_TEXT[code] || ERROR_TEXT.failed;
      const extra = req.transferReason ? ` (${req.transferReason})` : '';
      const status = code === 'cancelled' ? 'cancelled' : code === 'consent_refused' ? 'refused' : 'failed';
      this.update(req, { status, error: code, message: sentence(reason + extra), percent: null });
    }
  }

  /** The booth refused one of our uploads. */
  onAbort(msg) {
    const req = this.requests.find((r) => r.transferId === msg.transfer_id);
    if (!req || TERMINAL.has(req.status)) return;
    req.transferReason = typeof msg.reason === 'string' ? msg.reason : '';
    this.update(req, { status: 'failed', error: 'transfer_failed', message: sentence(`La borne a refusé le document : ${req.transferReason}`) });
  }

  onResult(req, result) {
    if (result.kind === 'scan') {
      const file = this.assembler.completed.get(result.transfer_id);
      if (!file) {
        this.update(req, { status: 'failed', error: 'transfer_failed', message: "Le document numérisé n'est pas arrivé entier : redemandez le scan." });
        return;
      }
      const mime = result.mime === 'image/jpeg' ? 'image/jpeg' : 'image/png';
      req.blob = new Blob([file.bytes], { type: mime });
      req.url = URL.createObjectURL(req.blob);
      this.assembler.release(result.transfer_id); // the Blob holds the only copy now
    }
    const message = result.kind === 'read_card' ? 'Le citoyen a présenté sa carte.'
      : result.kind === 'read_code' ? 'Le citoyen a présenté son code.'
        : result.kind === 'scan' ? 'Page numérisée sur la borne.' : 'Impression terminée.';
    this.update(req, { status: 'done', result: { ...result }, message, percent: null });
  }

  // -- end of call ---------------------------------------------------------------

  /** Forget everything of the call: images, identifiers, codes, bytes. */
  reset() {
    for (const req of this.requests) {
      if (req.url) URL.revokeObjectURL(req.url);
      req.blob = null;
    }
    this.requests = [];
    this.assembler.wipe();
    this.queue = Promise.resolve();
    this.$.log.replaceChildren();
    this.$.pdfForm.reset();
    this.$.receiptForm.reset();
    this.showError('');
  }

  /** Read-only copies for the test hook (no DOM, no bytes). */
  snapshot() {
    return this.requests.map((r) => ({
      id: r.id, kind: r.kind, status: r.status, message: r.message, percent: r.percent,
      error: r.error, result: r.result ? { ...r.result } : null, hasImage: !!r.url,
    }));
  }
}

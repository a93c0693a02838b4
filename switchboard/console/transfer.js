/**
 * Chunked binary transfers over the call's data channel, the console's half of
 * guichet/transfer.py: `transfer_start` (size, chunk count, sha256), chunks of at
 * most CHUNK_BYTES raw bytes in base64, `transfer_end`. The sha256 is checked with
 * SubtleCrypto before any byte is used.
 *
 * Received payloads live only in memory; `wipe()` zeroes and forgets them.
 * @module transfer
 */

/** Raw bytes per chunk (16 KiB: one SCTP message everywhere). */
export const CHUNK_BYTES = 16 * 1024;
/** Largest payload accepted or sent. */
export const MAX_TRANSFER_BYTES = 20 * 1024 * 1024;
/** Transfers held at once (receiving or received and not yet used). */
export const MAX_CONCURRENT_TRANSFERS = 2;

/**
 * Hex sha256 of some bytes.
 * @param {Uint8Array} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** @param {Uint8Array} bytes @returns {string} */
function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000)));
  }
  return btoa(s);
}

/** @param {string} text @returns {Uint8Array|null} null when it is not base64 */
function fromBase64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * The messages that carry `bytes`: start, each chunk, end.
 * @param {string} transferId
 * @param {Uint8Array} bytes
 * @param {{mime: string, name?: string}} meta
 * @returns {Promise<object[]>}
 */
export async function transferMessages(transferId, bytes, { mime, name = '' }) {
  if (!bytes.length) throw new Error('fichier vide');
  if (bytes.length > MAX_TRANSFER_BYTES) throw new Error('fichier trop volumineux');
  const chunks = Math.ceil(bytes.length / CHUNK_BYTES);
  const msgs = [{
    type: 'transfer_start', transfer_id: transferId, name: name.slice(0, 200), mime,
    size: bytes.length, sha256: await sha256Hex(bytes), chunks,
  }];
  for (let i = 0; i < chunks; i++) {
    msgs.push({ type: 'transfer_chunk', transfer_id: transferId, index: i,
      data: toBase64(bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)) });
  }
  msgs.push({ type: 'transfer_end', transfer_id: transferId });
  return msgs;
}

/** French size, e.g. "1,2 Mo". @param {number} n */
export function formatSize(n) {
  if (n < 1024) return `${n} o`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} Ko`;
  return `${(n / (1024 * 1024)).toFixed(1).replace('.', ',')} Mo`;
}

/**
 * Receiver side. `feed(msg)` resolves to `null` (keep going),
 * `{done: true, transferId, mime, name, bytes}` (sha256 verified) or
 * `{done: false, transferId, code, reason}` (dropped: tell the sender with transfer_abort).
 * Never throws for bad input.
 */
export class TransferAssembler {
  constructor({ maxBytes = MAX_TRANSFER_BYTES, maxConcurrent = MAX_CONCURRENT_TRANSFERS } = {}) {
    this.maxBytes = maxBytes;
    this.maxConcurrent = maxConcurrent;
    /** @type {Map<string, {start: object, buffer: Uint8Array, received: Uint8Array, count: number}>} */
    this.incoming = new Map();
    /** @type {Map<string, {mime: string, name: string, bytes: Uint8Array}>} */
    this.completed = new Map();
  }

  get held() { return this.incoming.size + this.completed.size; }

  fail(id, code, reason) {
    this.release(id);
    return { done: false, transferId: id, code, reason };
  }

  /** @param {any} msg @returns {Promise<object|null>} */
  async feed(msg) {
    const id = msg && typeof msg.transfer_id === 'string' ? msg.transfer_id : '';
    if (!id) return null;
    try {
      if (msg.type === 'transfer_start') return this.start(msg);
      if (msg.type === 'transfer_chunk') return this.chunk(msg);
      if (msg.type === 'transfer_end') return await this.end(msg);
      if (msg.type === 'transfer_abort') this.release(id);
      return null;
    } catch {
      return this.fail(id, 'aborted', 'erreur interne');
    }
  }

  start(msg) {
    const id = msg.transfer_id;
    if (this.incoming.has(id) || this.completed.has(id)) return { done: false, transferId: id, code: 'duplicate_transfer', reason: 'ce transfert a déjà commencé' };
    const size = msg.size;
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(msg.chunks) || typeof msg.sha256 !== 'string') {
      return { done: false, transferId: id, code: 'bad_start', reason: 'annonce de transfert illisible' };
    }
    if (size > this.maxBytes) return { done: false, transferId: id, code: 'too_large', reason: `fichier trop volumineux (${formatSize(size)} ; maximum ${formatSize(this.maxBytes)})` };
    if (msg.chunks !== Math.ceil(size / CHUNK_BYTES)) return { done: false, transferId: id, code: 'bad_start', reason: `${msg.chunks} morceaux annoncés pour ${size} octets` };
    if (this.held >= this.maxConcurrent) return { done: false, transferId: id, code: 'too_many', reason: 'trop de transferts en même temps' };
    this.incoming.set(id, { start: msg, buffer: new Uint8Array(size), received: new Uint8Array(msg.chunks), count: 0 });
    return null;
  }

  chunk(msg) {
    const id = msg.transfer_id;
    const t = this.incoming.get(id);
    if (!t) return { done: false, transferId: id, code: 'unknown_transfer', reason: 'transfert inconnu' };
    const i = msg.index;
    if (!Number.isInteger(i) || i < 0 || i >= t.start.chunks) return this.fail(id, 'bad_chunk', `morceau ${i} hors limites`);
    if (t.received[i]) return this.fail(id, 'duplicate_chunk', `morceau ${i} reçu deux fois`);
    const piece = fromBase64(msg.data);
    const offset = i * CHUNK_BYTES;
    const expected = Math.min(CHUNK_BYTES, t.start.size - offset);
    if (!piece || piece.length !== expected) return this.fail(id, 'bad_chunk', `morceau ${i} illisible ou de mauvaise taille`);
    t.buffer.set(piece, offset);
    t.received[i] = 1;
    t.count += 1;
    return null;
  }

  async end(msg) {
    const id = msg.transfer_id;
    const t = this.incoming.get(id);
    if (!t) return { done: false, transferId: id, code: 'unknown_transfer', reason: 'transfert inconnu' };
    if (t.count !== t.start.chunks) return this.fail(id, 'missing_chunks', `${t.start.chunks - t.count} morceau(x) manquant(s)`);
    if (await sha256Hex(t.buffer) !== t.start.sha256) return this.fail(id, 'checksum', 'fichier altéré (empreinte sha256 différente)');
    this.incoming.delete(id);
    const done = { mime: String(t.start.mime || ''), name: String(t.start.name || ''), bytes: t.buffer };
    this.completed.set(id, done);
    return { done: true, transferId: id, ...done };
  }

  /** Zero and forget one transfer. @param {string} id */
  release(id) {
    const t = this.incoming.get(id);
    if (t) t.buffer.fill(0);
    const c = this.completed.get(id);
    if (c) c.bytes.fill(0);
    this.incoming.delete(id);
    this.completed.delete(id);
  }

  /** Zero and forget everything (end of call). */
  wipe() {
    for (const id of [...this.incoming.keys(), ...this.completed.keys()]) this.release(id);
  }
}

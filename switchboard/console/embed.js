/**
 * The console inside a portal's iframe: the postMessage side of the embed SDK
 * (`/embed/guichet-embed.js`, docs/integration.md).
 *
 * Every message either way is `{guichet: 1, type, ...}`. The parent page starts
 * with `hello`; the console answers `ready` only if the parent's origin is one of
 * the switchboard's `embed_origins` (`GET /api/v1/embed/config`) and the message
 * comes from `window.parent`. From then on it accepts commands from that origin
 * only and posts events to that origin only; anything else is dropped (and
 * counted, for the tests).
 *
 * Commands (each with an `id`, answered by `reply {id, ok, error?}`):
 * `answer_next {service_id?}`, `hangup`, `send_chat {text}`, `print_pdf {name,
 * data: Blob|ArrayBuffer}`, `scan {dpi?, colour?}`, `read_card`, `read_code`,
 * `set_presence {status}`.
 * Events: `ready {agent}`, `queues {waiting, services}`, `citizen_waiting {waiting}`,
 * `call_started {call_id, service_id, service_name, booth_name, language}`,
 * `call_reconnecting {call_id, budget_ms}`, `call_reconnected {call_id}`,
 * `call_ended {call_id, reason}`, `chat {text}`, `document_received {request_id,
 * kind, mime, data: Blob, width, height, dpi}`, `device_result {request_id, kind,
 * result}`, `device_error {request_id, kind, code, message}`.
 * @module embed
 */

const PROTOCOL = 1;

export const EMBEDDED = window.parent !== window;

export class EmbedBridge {
  /**
   * @param {Record<string, (msg: any) => (unknown|Promise<unknown>)>} commands
   *   handlers by command type; a handler throws (or rejects) to refuse
   */
  constructor(commands) {
    this.commands = commands;
    /** @type {string[]} */
    this.allowed = [];
    /** @type {string|null} origin of the parent page, once it said hello */
    this.parentOrigin = null;
    this.rejected = 0;
    /** @type {() => any} */
    this.describe = () => ({});
  }

  /** Load the allowed origins and listen (no-op outside an iframe). */
  async start() {
    if (!EMBEDDED) return;
    try {
      const answer = await fetch('/api/v1/embed/config', { credentials: 'same-origin' });
      const body = answer.ok ? await answer.json() : { origins: [] };
      this.allowed = Array.isArray(body.origins) ? body.origins.filter((o) => typeof o === 'string') : [];
    } catch {
      this.allowed = [];
    }
    window.addEventListener('message', (event) => this.onMessage(event));
  }

  /** @param {MessageEvent} event */
  onMessage(event) {
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.guichet !== PROTOCOL || typeof msg.type !== 'string') return;
    if (event.source !== window.parent || !this.allowed.includes(event.origin)) {
      this.rejected += 1;
      return;
    }
    if (msg.type === 'hello') {
      this.parentOrigin = event.origin;
      this.emit('ready', this.describe());
      return;
    }
    if (event.origin !== this.parentOrigin) {
      this.rejected += 1;
      return;
    }
    this.run(msg);
  }

  /** @param {any} msg */
  async run(msg) {
    const handler = Object.prototype.hasOwnProperty.call(this.commands, msg.type) ? this.commands[msg.type] : null;
    const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : null;
    if (!handler) {
      this.post({ type: 'reply', id, ok: false, error: `commande inconnue : ${String(msg.type).slice(0, 40)}` });
      return;
    }
    try {
      await handler(msg);
      this.post({ type: 'reply', id, ok: true });
    } catch (err) {
      this.post({ type: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * Tell the parent page something happened (nothing before its hello).
   * @param {string} type
   * @param {object} [detail]
   */
  emit(type, detail = {}) {
    this.post({ ...detail, type });
  }

  /** @param {object} body */
  post(body) {
    if (!this.parentOrigin) return;
    window.parent.postMessage({ ...body, guichet: PROTOCOL }, this.parentOrigin);
  }
}

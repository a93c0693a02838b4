/**
 * WebSocket to the switchboard (`/ws/agent`), reconnecting by itself with
 * exponential back-off. Emits parsed server messages as events.
 * @module signaling
 */

/** First reconnect delay; doubles up to RECONNECT_MAX_MS. */
export const RECONNECT_MIN_MS = 500;
/** Longest wait between two reconnection attempts. */
export const RECONNECT_MAX_MS = 10000;
/** The server closes with this code when the session cookie is missing or expired. */
export const CLOSE_UNAUTHORIZED = 4401;

/** Largest message the protocol allows (256 KiB); anything bigger is dropped. */
const MAX_MESSAGE_CHARS = 256 * 1024;

/**
 * Absolute ws:// or wss:// URL of the agent socket, next to the console.
 * @returns {string}
 */
export function agentSocketUrl() {
  const url = new URL('../ws/agent', import.meta.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * Signaling client. Events (all `CustomEvent`):
 *  - `message`   detail: the parsed server message (`{v:1,type,...}`)
 *  - `status`    detail: `{status: 'connecting'|'open'|'reconnecting'|'closed', attempt}`
 *  - `unauthorized` the server refused the session (no retry)
 */
export class Signaling extends EventTarget {
  /** @param {string} [url] */
  constructor(url = agentSocketUrl()) {
    super();
    this.url = url;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.timer = 0;
    /** @type {'connecting'|'open'|'reconnecting'|'closed'} */
    this.status = 'closed';
  }

  /** Open the socket (and keep it open until `stop()`). */
  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** Close for good: no more reconnection. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000, 'sign out');
    }
    this.setStatus('closed');
  }

  /**
   * Send one protocol message; returns false when the socket is not open.
   * @param {object} msg  without `v`, it is added here
   * @returns {boolean}
   */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: 1, ...msg }));
    return true;
  }

  /** @returns {boolean} */
  get isOpen() {
    return this.status === 'open';
  }

  setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, attempt: this.attempt } }));
  }

  connect() {
    clearTimeout(this.timer);
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus('open');
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string' || event.data.length > MAX_MESSAGE_CHARS) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // not JSON: ignore, as the protocol asks of every end
      }
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
      this.dispatchEvent(new CustomEvent('message', { detail: msg }));
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.setStatus('closed');
        this.dispatchEvent(new CustomEvent('unauthorized'));
        return;
      }
      if (!this.stopped) this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    this.attempt += 1;
    this.setStatus('reconnecting');
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (this.attempt - 1));
    // Jitter so that many consoles do not all come back in the same millisecond.
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = window.setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }
}

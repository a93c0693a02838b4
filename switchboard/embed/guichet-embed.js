/**
 * Guichet embed SDK: the agent console inside any page of an existing portal.
 *
 *   <script type="module" src="https://guichet.example.fr/embed/guichet-embed.js"></script>
 *   <guichet-agent server="https://guichet.example.fr"></guichet-agent>
 *
 * or, from a script:
 *
 *   import { GuichetAgent } from 'https://guichet.example.fr/embed/guichet-embed.js';
 *   const agent = new GuichetAgent(document.querySelector('#visio'), { server: 'https://guichet.example.fr' });
 *   agent.addEventListener('call_started', (e) => openCaseFile(e.detail));
 *   await agent.answerNext();
 *
 * The console runs in an iframe of the switchboard's origin (its own cookie,
 * camera and microphone delegated with `allow`), so the portal never sees the
 * agent's password or the media. Messages go both ways with postMessage,
 * addressed to the switchboard's origin only, and messages from any other
 * origin or window are ignored. The switchboard answers only portals listed in
 * its `embed_origins`. See docs/integration.md.
 * @module guichet-embed
 */

const PROTOCOL = 1;
const HELLO_EVERY_MS = 250;
const REPLY_TIMEOUT_MS = 15000;

/** Events the console sends (each becomes a CustomEvent of that name, `detail` = the message). */
export const EVENTS = Object.freeze([
  'ready', 'queues', 'citizen_waiting', 'call_started', 'call_reconnecting', 'call_reconnected',
  'call_ended', 'chat',
  'document_received', 'device_result', 'device_error',
]);

export class GuichetAgent extends EventTarget {
  /**
   * @param {HTMLElement} container  where the console's iframe goes
   * @param {{server: string, title?: string}} options  `server`: the switchboard's URL
   */
  constructor(container, options) {
    super();
    const server = new URL(options.server);
    /** The switchboard's origin: the only one messages are sent to and accepted from. */
    this.origin = server.origin;
    this.ready = false;
    /** @type {Map<string, {resolve: () => void, reject: (e: Error) => void, timer: number}>} */
    this.pending = new Map();
    this.counter = 0;
    this.iframe = document.createElement('iframe');
    this.iframe.src = new URL('/console/', server).href;
    this.iframe.title = options.title || 'Guichet — console agent (visio)';
    // The console needs the agent's camera and microphone, and to play the citizen's voice.
    this.iframe.allow = `camera ${this.origin}; microphone ${this.origin}; autoplay ${this.origin}`;
    this.iframe.referrerPolicy = 'no-referrer';
    this.iframe.style.border = '0';
    this.iframe.style.width = '100%';
    this.iframe.style.height = '100%';
    this.onMessage = this.onMessage.bind(this);
    window.addEventListener('message', this.onMessage);
    container.append(this.iframe);
    this.whenReady = new Promise((resolve) => { this.markReady = resolve; });
    this.iframe.addEventListener('load', () => this.greet());
  }

  /** Say hello until the console answers `ready` (it may still be loading). */
  greet() {
    clearInterval(this.helloTimer);
    this.ready = false;
    const hello = () => this.post({ type: 'hello' });
    hello();
    this.helloTimer = window.setInterval(() => {
      if (this.ready) clearInterval(this.helloTimer);
      else hello();
    }, HELLO_EVERY_MS);
  }

  /** @param {MessageEvent} event */
  onMessage(event) {
    if (event.origin !== this.origin || event.source !== this.iframe.contentWindow) return;
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.guichet !== PROTOCOL || typeof msg.type !== 'string') return;
    if (msg.type === 'reply') {
      const waiting = this.pending.get(String(msg.id));
      if (!waiting) return;
      this.pending.delete(String(msg.id));
      clearTimeout(waiting.timer);
      if (msg.ok) waiting.resolve();
      else waiting.reject(new Error(typeof msg.error === 'string' ? msg.error : 'refusé'));
      return;
    }
    if (msg.type === 'ready') {
      this.ready = true;
      clearInterval(this.helloTimer);
      this.markReady(msg);
    }
    if (EVENTS.includes(msg.type)) {
      const { guichet: _v, type: _t, ...detail } = msg;
      this.dispatchEvent(new CustomEvent(msg.type, { detail }));
    }
  }

  /** @param {object} body */
  post(body) {
    const target = this.iframe.contentWindow;
    if (target) target.postMessage({ ...body, guichet: PROTOCOL }, this.origin);
  }

  /**
   * Send a command; resolves when the console accepted it, rejects with its reason.
   * @param {string} type
   * @param {object} [fields]
   * @returns {Promise<void>}
   */
  async command(type, fields = {}) {
    await this.whenReady;
    const id = `c${++this.counter}`;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('La console ne répond pas.'));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.post({ ...fields, type, id });
    });
  }

  /** @param {string} [serviceId] */
  answerNext(serviceId) { return this.command('answer_next', serviceId ? { service_id: serviceId } : {}); }

  hangup() { return this.command('hangup'); }

  /** @param {string} text */
  sendChat(text) { return this.command('send_chat', { text }); }

  /**
   * Print a PDF on the booth's A4 printer (the citizen is asked first).
   * @param {Blob|ArrayBuffer} data
   * @param {string} name
   */
  printPdf(data, name) { return this.command('print_pdf', { data, name }); }

  /** @param {{dpi?: 150|300, colour?: boolean}} [options] */
  requestScan(options = {}) { return this.command('scan', options); }

  readCard() { return this.command('read_card'); }

  readCode() { return this.command('read_code'); }

  /** @param {'available'|'paused'} status */
  setPresence(status) { return this.command('set_presence', { status }); }

  /** Remove the iframe and stop listening. */
  destroy() {
    clearInterval(this.helloTimer);
    window.removeEventListener('message', this.onMessage);
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error('Console retirée de la page.'));
    }
    this.pending.clear();
    this.iframe.remove();
  }
}

/** `<guichet-agent server="…">`: the same, as an element; its events bubble from it. */
export class GuichetAgentElement extends HTMLElement {
  connectedCallback() {
    if (this.agent) return;
    if (!this.style.display) this.style.display = 'block';
    const server = this.getAttribute('server') || window.location.origin;
    this.agent = new GuichetAgent(this, { server, title: this.getAttribute('title') || undefined });
    for (const type of EVENTS) {
      this.agent.addEventListener(type, (e) => {
        this.dispatchEvent(new CustomEvent(type, { detail: /** @type {CustomEvent} */ (e).detail, bubbles: true }));
      });
    }
  }

  disconnectedCallback() {
    if (this.agent) this.agent.destroy();
    this.agent = undefined;
  }

  answerNext(serviceId) { return this.agent.answerNext(serviceId); }
  hangup() { return this.agent.hangup(); }
  sendChat(text) { return this.agent.sendChat(text); }
  printPdf(data, name) { return this.agent.printPdf(data, name); }
  requestScan(options) { return this.agent.requestScan(options); }
  readCard() { return this.agent.readCard(); }
  readCode() { return this.agent.readCode(); }
  setPresence(status) { return this.agent.setPresence(status); }
}

if (!customElements.get('guichet-agent')) customElements.define('guichet-agent', GuichetAgentElement);

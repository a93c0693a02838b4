/**
 * The chat panel: transcript and input. Text is always inserted as text,
 * never as HTML. The transcript lives only in the page and is wiped when the
 * call ends (nothing of the citizen is kept).
 * @module chat
 */
import { el } from './ui.js';

/**
 * Chat panel controller.
 */
export class ChatPanel {
  /**
   * @param {object} opts
   * @param {HTMLOListElement} opts.log
   * @param {HTMLFormElement} opts.form
   * @param {HTMLInputElement} opts.input
   * @param {HTMLButtonElement} opts.button
   * @param {(text: string) => boolean} opts.onSend  returns false when it could not be sent
   */
  constructor({ log, form, input, button, onSend }) {
    this.onSend = onSend;
    this.log = log;
    this.input = input;
    this.button = button;
    /** @type {{from: 'agent'|'citizen'|'system', text: string}[]} */
    this.lines = [];
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      if (onSend(text)) {
        this.input.value = '';
        this.add('agent', text);
      } else {
        this.add('system', "Message non envoyé : la liaison avec la borne n'est pas établie.");
      }
      this.input.focus();
    });
  }

  /**
   * Append a line to the transcript.
   * @param {'agent'|'citizen'|'system'} from
   * @param {string} text
   */
  add(from, text) {
    this.lines.push({ from, text });
    const li = el('li', `gc-chat-line gc-chat-${from}`);
    const who = from === 'agent' ? 'Vous' : from === 'citizen' ? 'Citoyen' : 'Info';
    li.append(el('span', 'gc-chat-who', `${who} : `), el('span', 'gc-chat-text', text));
    this.log.append(li);
    this.log.scrollTop = this.log.scrollHeight;
  }

  /**
   * Send ``text`` as the agent (from a portal); false when the link is down.
   * @param {string} text
   */
  sendText(text) {
    const line = String(text).trim().slice(0, 2000);
    if (!line || !this.onSend(line)) return false;
    this.add('agent', line);
    return true;
  }

  /** @param {boolean} enabled */
  setEnabled(enabled) {
    this.input.disabled = !enabled;
    this.button.disabled = !enabled;
  }

  /** Forget the transcript (end of call). */
  clear() {
    this.lines = [];
    this.log.replaceChildren();
    this.input.value = '';
  }
}

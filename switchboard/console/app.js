/**
 * Agent console entry point: wires the sign-in form, the signaling socket,
 * the queues panel and the call together, and owns the console's state.
 *
 * States: 'loading' → 'signed_out' ⇄ 'idle' → 'connecting_call' → 'in_call' → 'idle'.
 * @module app
 */
import {
  ApiError, authOptions, isSupervisorOnly, login, logout, me, reportDeviceWork,
} from './api.js';
import { CallSession, RECONNECT_BUDGET_MS } from './call.js';
import { ChatPanel } from './chat.js';
import { DevicesPanel } from './devices.js';
import { EMBEDDED, EmbedBridge } from './embed.js';
import { renderQueues, summary, tickWaiting, totalWaiting } from './queues.js';
import { Signaling } from './signaling.js';
import { announce, byId, formatClock, languageName, newId, setVisible } from './ui.js';

/** How long an "answer next" request may stay unanswered before the buttons come back. */
const ANSWER_PENDING_TIMEOUT_MS = 10000;

/** Plain-words French text for the server's error codes. */
const ERROR_TEXT = {
  queue_empty: "Personne n'attend dans cette file pour le moment.",
  service_forbidden: "Vous n'êtes pas habilité·e à répondre à ce service.",
  busy: 'Vous êtes déjà en communication : terminez l’appel en cours avant d’en prendre un autre.',
  not_your_call: "Cet appel n'est pas le vôtre ou n'existe plus.",
  no_call: "Cet appel est déjà terminé.",
  service_closed: 'Ce service est fermé en ce moment.',
  unknown_service: "Ce service n'existe pas ou plus.",
  unauthorized: 'Votre session a expiré. Reconnectez-vous.',
  malformed: 'Le serveur a refusé un message de la console.',
  too_large: 'Le serveur a refusé un message trop long.',
  unknown_type: "Le serveur n'a pas compris un message de la console.",
  unsupported_version: "La console n'est plus à jour : rechargez la page.",
};

const END_TEXT = {
  booth_hangup: "Le citoyen a quitté l'appel.",
  booth_gone: "Le citoyen a quitté l'appel : la borne s'est déconnectée.",
  agent_hangup: 'Appel terminé.',
  agent_gone: 'Appel terminé.',
  link_lost: "Liaison perdue avec la borne : l'appel a été interrompu.",
  setup_failed: "La communication n'a pas pu être établie avec la borne.",
  relay_failed: "Connexion impossible au relais vidéo : l'appel n'a pas pu être établi. Prévenez le support (serveur TURN).",
};

const $ = {
  root: byId('gc-root'),
  loading: byId('gc-loading'),
  login: byId('gc-login'),
  loginForm: /** @type {HTMLFormElement} */ (byId('gc-login-form')),
  loginError: byId('gc-login-error'),
  username: /** @type {HTMLInputElement} */ (byId('gc-username')),
  password: /** @type {HTMLInputElement} */ (byId('gc-password')),
  loginSubmit: /** @type {HTMLButtonElement} */ (byId('gc-login-submit')),
  oidc: byId('gc-oidc'),
  oidcLink: /** @type {HTMLAnchorElement} */ (byId('gc-oidc-link')),
  oidcOr: byId('gc-oidc-or'),
  localLogin: byId('gc-local-login'),
  headerTools: byId('gc-header-tools'),
  conn: byId('gc-conn'),
  connText: byId('gc-conn-text'),
  presence: /** @type {HTMLButtonElement} */ (byId('gc-presence')),
  presenceLabel: byId('gc-presence-label'),
  agentName: byId('gc-agent-name'),
  logout: byId('gc-logout'),
  desk: byId('gc-desk'),
  connBanner: byId('gc-conn-banner'),
  connBannerText: byId('gc-conn-banner-text'),
  error: byId('gc-error'),
  errorText: byId('gc-error-text'),
  errorClose: byId('gc-error-close'),
  notice: byId('gc-notice'),
  noticeText: byId('gc-notice-text'),
  noticeClose: byId('gc-notice-close'),
  answerNext: /** @type {HTMLButtonElement} */ (byId('gc-answer-next')),
  queuesSummary: byId('gc-queues-summary'),
  queueList: byId('gc-queue-list'),
  callIdle: byId('gc-call-idle'),
  callLive: byId('gc-call-live'),
  callBooth: byId('gc-call-booth'),
  callService: byId('gc-call-service'),
  callRecording: byId('gc-call-recording'),
  callLanguage: byId('gc-call-language'),
  callState: byId('gc-call-state'),
  callTimer: byId('gc-call-timer'),
  remoteVideo: /** @type {HTMLVideoElement} */ (byId('gc-remote-video')),
  localVideo: /** @type {HTMLVideoElement} */ (byId('gc-local-video')),
  stageMsg: byId('gc-stage-msg'),
  enableAudio: byId('gc-enable-audio'),
  mute: /** @type {HTMLButtonElement} */ (byId('gc-mute')),
  camera: /** @type {HTMLButtonElement} */ (byId('gc-camera')),
  hangup: /** @type {HTMLButtonElement} */ (byId('gc-hangup')),
};

const model = {
  /** @type {'loading'|'signed_out'|'idle'|'connecting_call'|'in_call'} */
  state: 'loading',
  /** @type {'offline'|'connecting'|'online'|'reconnecting'} */
  connection: 'offline',
  /** @type {{username: string, display_name: string, services: string[]}|null} */
  agent: null,
  /** Presence the agent chose (the server reports 'in_call' during calls). */
  presence: 'available',
  /** @type {Array<object>} */
  services: [],
  /** Whether a `queues` message arrived since the socket (re)opened. */
  queuesKnown: false,
  /** Server clock minus local clock, in seconds. */
  clockOffset: 0,
  /** @type {CallSession|null} */
  call: null,
  /** @type {object|null} call_assigned message of the current call */
  callInfo: null,
  callConnectedAt: 0,
  /** The server re-learnt the current call after a reconnection (`call_resumed`). */
  callResumed: false,
  /** The call's link was lost: waiting (RECONNECT_BUDGET_MS) for the booth's new offer. */
  reconnecting: false,
  reconnectTimer: 0,
  /** Calls brought back on a new peer connection (test hook). */
  reconnections: 0,
  micMuted: false,
  cameraOff: false,
  answerPending: false,
  answerPendingTimer: 0,
  /** @type {{code: string, message: string}|null} */
  lastError: null,
  notice: '',
  lastCallEnd: '',
  /** Whether the local username/password form is offered. */
  localLogin: true,
};

const signaling = new Signaling();
const devices = new DevicesPanel({
  send: (msg) => (model.call ? model.call.sendPeer(msg) : false),
  sendMany: (msgs, onProgress) => (model.call ? model.call.sendPeerPaced(msgs, onProgress) : Promise.resolve(false)),
  callId: () => (model.call ? model.call.callId : null),
  report: (report) => reportDeviceWork(report),
  onChange: (req) => tellPortalAboutDevice(req),
});
const chat = new ChatPanel({
  log: /** @type {HTMLOListElement} */ (byId('gc-chat-log')),
  form: /** @type {HTMLFormElement} */ (byId('gc-chat-form')),
  input: /** @type {HTMLInputElement} */ (byId('gc-chat-input')),
  button: /** @type {HTMLButtonElement} */ (byId('gc-chat-send')),
  onSend: (text) => (model.call ? model.call.sendChat(newId(), text) : false),
});

// ---------------------------------------------------------------------------
// Embedded in a portal (docs/integration.md): commands in, events out
// ---------------------------------------------------------------------------

/** @param {boolean} ok @param {string} why */
function must(ok, why) {
  if (!ok) throw new Error(why);
}

const embed = new EmbedBridge({
  answer_next: (msg) => {
    must(canAnswer(), model.call ? 'Un appel est déjà en cours.' : "Impossible de répondre maintenant (hors ligne, en pause ou personne n'attend).");
    answerNext(typeof msg.service_id === 'string' ? msg.service_id : undefined);
  },
  hangup: () => {
    must(!!model.call, "Aucun appel en cours.");
    hangup();
  },
  send_chat: (msg) => {
    must(!!model.call && model.call.channelOpen, "La liaison avec la borne n'est pas établie.");
    must(chat.sendText(typeof msg.text === 'string' ? msg.text : ''), 'Message vide ou non envoyé.');
  },
  print_pdf: async (msg) => {
    must(!!model.call, "Aucun appel en cours.");
    const data = msg.data instanceof Blob ? new Uint8Array(await msg.data.arrayBuffer())
      : msg.data instanceof ArrayBuffer ? new Uint8Array(msg.data) : null;
    must(data !== null, 'Document manquant : envoyez un Blob ou un ArrayBuffer.');
    await devices.printPdfBytes(/** @type {Uint8Array} */ (data), typeof msg.name === 'string' ? msg.name : 'document.pdf');
  },
  scan: (msg) => {
    must(!!model.call && model.call.channelOpen, "La liaison avec la borne n'est pas établie.");
    devices.request('scan', { dpi: msg.dpi === 150 ? 150 : 300, colour: msg.colour !== false });
  },
  read_card: () => {
    must(!!model.call && model.call.channelOpen, "La liaison avec la borne n'est pas établie.");
    devices.request('read_card', {});
  },
  read_code: () => {
    must(!!model.call && model.call.channelOpen, "La liaison avec la borne n'est pas établie.");
    devices.request('read_code', {});
  },
  set_presence: (msg) => {
    must(msg.status === 'available' || msg.status === 'paused', 'Présence : available ou paused.');
    if (msg.status !== model.presence) togglePresence();
  },
});
embed.describe = () => ({ agent: model.agent ? model.agent.username : null, state: model.state });

/** @param {any} req a device request of devices.js */
function tellPortalAboutDevice(req) {
  if (req.status === 'done' && req.kind === 'scan' && req.blob) {
    const r = req.result || {};
    embed.emit('document_received', {
      request_id: req.id, kind: 'scan', mime: req.blob.type, data: req.blob,
      width: r.width, height: r.height, dpi: r.dpi,
    });
  } else if (req.status === 'done') {
    embed.emit('device_result', { request_id: req.id, kind: req.kind, result: { ...req.result } });
  } else if (['failed', 'refused', 'cancelled'].includes(req.status)) {
    embed.emit('device_error', { request_id: req.id, kind: req.kind, code: req.error || req.status, message: req.message });
  }
}

let waitingBefore = 0;

function tellPortalAboutQueues() {
  const waiting = totalWaiting(model.services);
  embed.emit('queues', {
    waiting,
    services: model.services.map((s) => ({ service_id: s.service_id, name: s.name, waiting: Array.isArray(s.waiting) ? s.waiting.length : 0 })),
  });
  if (waiting > waitingBefore) embed.emit('citizen_waiting', { waiting });
  waitingBefore = waiting;
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function setState(state) {
  model.state = state;
  $.root.dataset.state = state;
  render();
}

function canAnswer() {
  return model.state === 'idle' && model.connection === 'online' && !model.answerPending;
}

function renderQueuesPanel() {
  renderQueues($.queueList, model.services, {
    canAnswer: canAnswer(),
    clockOffset: model.clockOffset,
    onAnswer: answerNext,
  });
  $.queuesSummary.textContent = model.queuesKnown ? summary(model.services) : 'Chargement des files…';
  $.answerNext.disabled = !canAnswer() || totalWaiting(model.services) === 0;
}

function renderPresence() {
  const inCall = model.state === 'connecting_call' || model.state === 'in_call';
  const available = model.presence === 'available';
  $.presence.dataset.presence = inCall ? 'in_call' : model.presence;
  byId('gc-presence-help').textContent = inCall
    ? 'Indisponible pendant un appel'
    : available ? 'Activer pour passer en pause' : 'Activer pour redevenir disponible';
  $.presence.disabled = inCall || model.connection !== 'online';
  $.presenceLabel.textContent = inCall ? 'En appel' : available ? 'Disponible' : 'En pause';
}

function renderConnection() {
  const c = model.connection;
  $.conn.dataset.conn = c;
  $.root.dataset.conn = c;
  $.connText.textContent = c === 'online' ? 'Connecté' : c === 'reconnecting' ? 'Reconnexion…' : 'Connexion…';
  setVisible($.connBanner, model.state !== 'signed_out' && c === 'reconnecting');
  $.connBannerText.textContent = model.call
    ? "Connexion au serveur perdue : l'appel continue (image et son passent en direct). Reconnexion en cours…"
    : 'Connexion perdue. Reconnexion en cours…';
}

function renderCall() {
  const live = model.state === 'connecting_call' || model.state === 'in_call';
  setVisible($.callIdle, !live);
  setVisible($.callLive, live);
  if (!live || !model.callInfo) return;
  const info = model.callInfo;
  $.callBooth.textContent = info.booth_name;
  $.callService.textContent = info.service_name;
  // The service records its calls (catalogue "recording"); the citizen was told on the booth.
  const rec = info.recording;
  setVisible($.callRecording, !!rec);
  $.callRecording.textContent = rec ? `Appel enregistré (conservé ${rec.retention_days} jours)` : '';
  $.callLanguage.textContent = languageName(info.language);
  $.callState.textContent = model.reconnecting
    ? 'Liaison perdue avec la borne. Reconnexion…'
    : model.state === 'in_call' ? 'En communication' : 'Connexion…';
  $.callState.dataset.state = model.reconnecting ? 'reconnecting' : model.state;
  $.mute.setAttribute('aria-pressed', String(model.micMuted));
  $.mute.textContent = model.micMuted ? 'Réactiver le micro' : 'Couper le micro';
  $.camera.setAttribute('aria-pressed', String(model.cameraOff));
  $.camera.textContent = model.cameraOff ? 'Réactiver la caméra' : 'Couper la caméra';
  $.mute.disabled = !model.call || !model.call.hasMic;
  $.camera.disabled = !model.call || !model.call.hasCamera;
  $.localVideo.classList.toggle('gc-off', model.cameraOff);
  chat.setEnabled(!!model.call && model.call.channelOpen);
  devices.setEnabled(!!model.call && model.call.channelOpen);
}

function render() {
  const signedIn = !['loading', 'signed_out'].includes(model.state);
  setVisible($.loading, model.state === 'loading');
  setVisible($.login, model.state === 'signed_out');
  setVisible($.desk, signedIn);
  setVisible($.headerTools, signedIn);
  $.agentName.textContent = model.agent ? model.agent.display_name : '';
  renderConnection();
  renderPresence();
  renderQueuesPanel();
  renderCall();
}

function showError(code, message) {
  model.lastError = { code, message };
  $.errorText.textContent = message;
  setVisible($.error, true);
}

function clearError() {
  model.lastError = null;
  setVisible($.error, false);
}

function showNotice(text) {
  model.notice = text;
  $.noticeText.textContent = text;
  setVisible($.notice, !!text);
  if (text) announce(text);
}

// ---------------------------------------------------------------------------
// Sign in / out
// ---------------------------------------------------------------------------

function showLoginError(text) {
  $.loginError.textContent = text;
  setVisible($.loginError, !!text);
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const username = $.username.value.trim();
  const password = $.password.value;
  if (!username || !password) {
    showLoginError(!username && !password
      ? 'Veuillez saisir votre identifiant et votre mot de passe.'
      : !username ? 'Veuillez saisir votre identifiant.' : 'Veuillez saisir votre mot de passe.');
    (!username ? $.username : $.password).focus();
    return;
  }
  $.loginSubmit.disabled = true;
  $.loginSubmit.setAttribute('aria-busy', 'true');
  showLoginError('');
  try {
    const agent = await login(username, password);
    $.password.value = '';
    signIn(agent);
  } catch (err) {
    showLoginError(err instanceof ApiError ? err.message : 'La connexion a échoué. Réessayez.');
    $.password.value = '';
    $.password.focus();
  } finally {
    $.loginSubmit.disabled = false;
    $.loginSubmit.removeAttribute('aria-busy');
  }
}

/** Show the identity provider's button and/or the local form, as the server says. */
async function showSignInOptions() {
  const options = await authOptions();
  if (options.oidc_name && options.oidc_login_url) {
    $.oidcLink.textContent = `Se connecter avec ${options.oidc_name}`;
    // Relative to the console, so a path prefix in front of the switchboard keeps working.
    $.oidcLink.href = `..${options.oidc_login_url}`;
    setVisible($.oidc, true);
  }
  setVisible($.oidcOr, options.local && !!options.oidc_name);
  setVisible($.localLogin, options.local);
  model.localLogin = options.local;
}

function signIn(agent) {
  if (isSupervisorOnly(agent)) {
    // Supervisors watch, they do not answer: their page has no call controls at all.
    window.location.replace('supervisor.html');
    return;
  }
  model.agent = agent;
  // Agent and supervisor both: the read-only view is one click away.
  setVisible(byId('gc-supervise'), (agent.roles || []).includes('supervisor'));
  model.services = [];
  model.queuesKnown = false;
  clearError();
  showNotice('');
  setState('idle');
  signaling.start();
  embed.emit('ready', embed.describe());
  announce(`Connecté·e en tant que ${agent.display_name}.`);
  byId('gc-queues-title').focus();
}

function signedOut(message) {
  endCall('', { silent: true });
  signaling.stop();
  model.agent = null;
  model.services = [];
  model.queuesKnown = false;
  model.connection = 'offline';
  clearError();
  showNotice('');
  setState('signed_out');
  showLoginError(message || '');
  focusSignIn();
}

function focusSignIn() {
  if (model.localLogin) $.username.focus();
  else $.oidcLink.focus();
}

async function onLogout() {
  if (model.call) hangup();
  signaling.stop();
  await logout();
  signedOut('');
  announce('Vous êtes déconnecté·e.');
}

// ---------------------------------------------------------------------------
// Queues and presence
// ---------------------------------------------------------------------------

/** @param {string} [serviceId] */
function answerNext(serviceId) {
  if (!canAnswer()) return;
  clearError();
  showNotice('');
  const msg = serviceId ? { type: 'answer_next', service_id: serviceId } : { type: 'answer_next' };
  if (!signaling.send(msg)) {
    showError('offline', "Le serveur est injoignable : impossible de répondre pour l'instant.");
    return;
  }
  setAnswerPending(true);
}

function setAnswerPending(pending) {
  model.answerPending = pending;
  clearTimeout(model.answerPendingTimer);
  if (pending) model.answerPendingTimer = window.setTimeout(() => setAnswerPending(false), ANSWER_PENDING_TIMEOUT_MS);
  renderQueuesPanel();
}

function togglePresence() {
  const next = model.presence === 'available' ? 'paused' : 'available';
  if (!signaling.send({ type: 'set_presence', status: next })) return;
  model.presence = next;
  renderPresence();
  announce(next === 'available' ? 'Vous êtes disponible.' : 'Vous êtes en pause.');
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

function startCall(info) {
  if (model.call) {
    // A second assignment while in a call should not happen; refuse it politely.
    signaling.send({ type: 'hangup', call_id: info.call_id, reason: 'busy' });
    return;
  }
  setAnswerPending(false);
  clearError();
  showNotice('');
  chat.clear();
  devices.reset();
  model.callInfo = info;
  model.micMuted = false;
  model.cameraOff = false;
  model.callConnectedAt = 0;
  $.callTimer.textContent = '00:00';
  setVisible($.stageMsg, true);
  setVisible($.enableAudio, false);
  newSession(info);
  embed.emit('call_started', {
    call_id: info.call_id, service_id: info.service_id, service_name: info.service_name,
    booth_name: info.booth_name, language: info.language,
  });
  setState('connecting_call');
  announce(`Appel de ${info.booth_name} (${info.service_name}). Connexion en cours.`);
  byId('gc-call-booth').focus();
}

/**
 * A new peer connection for the call `info` (at the start, or to replace one the
 * network broke), made the current one; camera and microphone follow the toggles.
 * @param {object} info the call_assigned message
 * @returns {CallSession}
 */
function newSession(info) {
  const call = new CallSession({
    callId: info.call_id,
    iceServers: info.ice_servers || [],
    iceTransportPolicy: info.ice_transport_policy === 'relay' ? 'relay' : 'all',
    send: (msg) => signaling.send(msg),
    remoteVideo: $.remoteVideo,
    localVideo: $.localVideo,
  });
  model.call = call;
  call.addEventListener('state', (e) => {
    if (model.call !== call) return;
    const s = e.detail.state;
    if (s === 'connected' && model.reconnecting) {
      reconnected();
    } else if (s === 'connected' && model.state === 'connecting_call') {
      model.callConnectedAt = performance.now();
      setState('in_call');
      announce(`En communication avec ${info.booth_name}.`);
    } else if (model.reconnecting) {
      // While the booth tries new connections, only the budget's end hangs up.
    } else if (s === 'link_lost') {
      startReconnecting();
    } else if (s === 'failed') {
      hangup('setup_failed');
    } else if (s === 'relay_failed') {
      hangup('relay_failed');
    }
  });
  call.addEventListener('channel', (e) => {
    if (model.call !== call) return;
    renderCall();
    if (e.detail.open) chat.add('system', 'Messages écrits disponibles.');
  });
  call.addEventListener('chat', (e) => {
    if (model.call !== call) return;
    chat.add('citizen', e.detail.text);
    embed.emit('chat', { text: e.detail.text });
  });
  call.addEventListener('media', (e) => {
    if (model.call !== call) return;
    if (e.detail.ok) {
      // A replaced connection opens the devices again: keep the agent's choices.
      call.setMicMuted(model.micMuted);
      call.setCameraOff(model.cameraOff);
    } else {
      showError('media', 'Votre caméra ou votre micro est indisponible : le citoyen ne vous verra pas. Vérifiez les autorisations du navigateur.');
    }
    renderCall();
  });
  call.addEventListener('device', (e) => {
    if (model.call !== call) return;
    devices.receive(e.detail);
  });
  call.addEventListener('remote', () => playRemote());
  return call;
}

/** The link to the booth is lost: wait for the booth's new offer, at most the budget. */
function startReconnecting() {
  model.reconnecting = true;
  const call = model.call;
  clearTimeout(model.reconnectTimer);
  model.reconnectTimer = window.setTimeout(() => {
    if (model.reconnecting && model.call && call && model.call.callId === call.callId) hangup('link_lost');
  }, RECONNECT_BUDGET_MS);
  chat.add('system', 'Liaison perdue avec la borne. Reconnexion en cours…');
  announce('Liaison perdue avec la borne. Reconnexion en cours.');
  if (call) embed.emit('call_reconnecting', { call_id: call.callId, budget_ms: RECONNECT_BUDGET_MS });
  renderCall();
}

function stopReconnecting() {
  model.reconnecting = false;
  clearTimeout(model.reconnectTimer);
  model.reconnectTimer = 0;
}

function reconnected() {
  stopReconnecting();
  model.reconnections += 1;
  if (model.state === 'connecting_call') {
    model.callConnectedAt = performance.now();
    setState('in_call');
  }
  chat.add('system', 'Liaison rétablie.');
  announce('Liaison rétablie avec la borne.');
  if (model.call) embed.emit('call_reconnected', { call_id: model.call.callId });
  renderCall();
}

function playRemote() {
  const v = $.remoteVideo;
  v.play().catch((err) => {
    // Autoplay with sound refused: play muted and offer a button to turn sound on.
    if (!err || err.name !== 'NotAllowedError') return;
    v.muted = true;
    v.play().catch(() => {});
    setVisible($.enableAudio, true);
  });
}

/**
 * End the local side of the call (the server is told separately when needed).
 * @param {string} reason key of END_TEXT, or '' for none
 * @param {{silent?: boolean}} [opts]
 */
function endCall(reason, opts = {}) {
  const call = model.call;
  if (!call) return;
  stopReconnecting();
  call.close();
  embed.emit('call_ended', { call_id: call.callId, reason });
  model.call = null;
  model.callInfo = null;
  model.lastCallEnd = reason;
  chat.clear();
  devices.reset();
  $.remoteVideo.muted = false;
  if (model.state !== 'signed_out') setState(model.agent ? 'idle' : 'signed_out');
  if (!opts.silent && END_TEXT[reason]) showNotice(END_TEXT[reason]);
  // The server may have set us back to available after the call: restore a chosen pause.
  if (model.presence === 'paused') signaling.send({ type: 'set_presence', status: 'paused' });
  if (model.state === 'idle') {
    if (!$.answerNext.disabled) $.answerNext.focus();
    else byId('gc-call-title').focus();
  }
}

/** @param {string} [reason] */
function hangup(reason = 'agent_hangup') {
  if (!model.call) return;
  signaling.send({ type: 'hangup', call_id: model.call.callId, reason: reason === 'agent_hangup' ? 'hangup' : reason });
  endCall(reason);
}

function onOffer(msg) {
  let call = model.call;
  if (!call || msg.call_id !== call.callId || !msg.description || !model.callInfo) return;
  if (call.offerReceived) {
    // A second offer for the same call: the booth lost the link and brings the call
    // back on a new peer connection (aiortc has no ICE restart). Replace ours.
    if (!model.reconnecting) startReconnecting();
    call.close();
    devices.reset();
    call = newSession(model.callInfo);
    renderCall();
  }
  const session = call;
  session.handleOffer(msg.description).catch(() => {
    if (model.call === session && !model.reconnecting) hangup('setup_failed');
  });
}

// ---------------------------------------------------------------------------
// Signaling
// ---------------------------------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case 'agent_welcome':
      if (msg.agent) model.agent = msg.agent;
      if (msg.presence === 'available' || msg.presence === 'paused') model.presence = msg.presence;
      render();
      break;
    case 'queues':
      if (typeof msg.server_time === 'number') model.clockOffset = msg.server_time - Date.now() / 1000;
      model.services = Array.isArray(msg.services) ? msg.services : [];
      model.queuesKnown = true;
      renderQueuesPanel();
      tellPortalAboutQueues();
      break;
    case 'call_assigned':
      startCall(msg);
      break;
    case 'offer':
      onOffer(msg);
      break;
    case 'ice':
      if (model.call && msg.call_id === model.call.callId) model.call.addIce(msg.candidate || null);
      break;
    case 'call_ended':
      if (model.call && msg.call_id === model.call.callId) endCall(msg.reason);
      break;
    case 'call_resumed':
      if (model.call && msg.call_id === model.call.callId) model.callResumed = true;
      break;
    case 'error':
      onServerError(msg);
      break;
    case 'pong':
      if (typeof msg.server_time === 'number') model.clockOffset = msg.server_time - Date.now() / 1000;
      break;
    default:
      break; // unknown types are ignored: a newer server may send more
  }
}

function onServerError(msg) {
  const code = typeof msg.code === 'string' ? msg.code : 'unknown';
  if (msg.ref === 'answer_next' || ['queue_empty', 'service_forbidden', 'busy'].includes(code)) setAnswerPending(false);
  const text = ERROR_TEXT[code] || (typeof msg.message === 'string' && msg.message
    ? `Le serveur a refusé la demande : ${msg.message}`
    : 'Le serveur a refusé la demande.');
  showError(code, text);
  announce(text);
}

signaling.addEventListener('status', (e) => {
  const { status } = e.detail;
  const before = model.connection;
  model.connection = status === 'open' ? 'online' : status === 'closed' ? 'offline' : status;
  // The media is peer to peer: a call outlives the server's socket (a restart, a
  // blip). Once back, the console names its call so the server routes it again.
  if (status === 'reconnecting' && model.call) model.callResumed = false;
  if (status === 'open' && before === 'reconnecting' && model.call && model.callInfo) {
    signaling.send({ type: 'resume_call', call_id: model.call.callId, service_id: model.callInfo.service_id });
  }
  if (status === 'reconnecting' && before === 'online') {
    announce(model.call ? "Connexion au serveur perdue : l'appel continue. Reconnexion en cours…" : 'Connexion perdue. Reconnexion en cours…');
  }
  if (status === 'open' && before === 'reconnecting') announce('Connexion rétablie.');
  if (status !== 'open') setAnswerPending(false);
  render();
});
signaling.addEventListener('message', (e) => onMessage(e.detail));
signaling.addEventListener('unauthorized', () => {
  signedOut('Votre session a expiré. Reconnectez-vous.');
});

// ---------------------------------------------------------------------------
// Timers, DOM events, start
// ---------------------------------------------------------------------------

window.setInterval(() => {
  tickWaiting($.queueList, model.clockOffset);
  if (model.state === 'in_call' && model.callConnectedAt) {
    const s = (performance.now() - model.callConnectedAt) / 1000;
    $.callTimer.textContent = formatClock(s).padStart(5, '0');
  }
}, 1000);

$.loginForm.addEventListener('submit', onLoginSubmit);
$.logout.addEventListener('click', onLogout);
$.presence.addEventListener('click', togglePresence);
$.answerNext.addEventListener('click', () => answerNext());
$.hangup.addEventListener('click', () => hangup());
$.errorClose.addEventListener('click', clearError);
$.noticeClose.addEventListener('click', () => showNotice(''));
$.mute.addEventListener('click', () => {
  model.micMuted = !model.micMuted;
  if (model.call) model.call.setMicMuted(model.micMuted);
  renderCall();
  announce(model.micMuted ? 'Micro coupé.' : 'Micro réactivé.');
});
$.camera.addEventListener('click', () => {
  model.cameraOff = !model.cameraOff;
  if (model.call) model.call.setCameraOff(model.cameraOff);
  renderCall();
  announce(model.cameraOff ? 'Caméra coupée.' : 'Caméra réactivée.');
});
$.enableAudio.addEventListener('click', () => {
  $.remoteVideo.muted = false;
  $.remoteVideo.play().catch(() => {});
  setVisible($.enableAudio, false);
});
$.remoteVideo.addEventListener('playing', () => setVisible($.stageMsg, false));
window.addEventListener('pagehide', () => {
  // Closing the peer connection lets the booth notice within milliseconds. The page
  // going away is not the agent's choice to end the call: "agent_gone" puts the
  // citizen back at the head of the queue.
  if (model.call) {
    signaling.send({ type: 'hangup', call_id: model.call.callId, reason: 'agent_gone' });
    model.call.close();
  }
});

/**
 * Read-only hook for tests and integrations (e.g. a portal embedding the console).
 * Not a control API: it only reports state (portals use the embed SDK, docs/integration.md).
 */
const hook = Object.freeze({
  /** @returns {string} 'loading'|'signed_out'|'idle'|'connecting_call'|'in_call' */
  get state() { return model.state; },
  /** @returns {boolean} the server re-learnt the current call after our socket came back */
  get callResumed() { return !!model.call && model.callResumed; },
  /** @returns {string|null} id of the current call */
  get callId() { return model.call ? model.call.callId : null; },
  /** @returns {boolean} the link to the booth was lost and the call is being brought back */
  get reconnecting() { return model.reconnecting; },
  /** @returns {number} calls brought back on a new peer connection since the page loaded */
  get reconnections() { return model.reconnections; },
  /** @returns {string} 'offline'|'connecting'|'online'|'reconnecting' */
  get connection() { return model.connection; },
  /** @returns {string} 'available'|'paused' (the agent's choice) */
  get presence() { return model.presence; },
  /** @returns {string|null} username of the signed-in agent */
  get agent() { return model.agent ? model.agent.username : null; },
  /** @returns {number} citizens waiting in all visible queues */
  get waiting() { return totalWaiting(model.services); },
  /** @returns {boolean} the call's data channel is open */
  get channelOpen() { return !!model.call && model.call.channelOpen; },
  /** @returns {{code: string, message: string}|null} last server or media error shown */
  get lastError() { return model.lastError ? { ...model.lastError } : null; },
  /** @returns {{parent: string|null, rejected: number}} the embed bridge (in a portal's iframe) */
  get embed() { return { parent: embed.parentOrigin, rejected: embed.rejected }; },
  /** @returns {string} reason of the last call end ('booth_hangup', 'link_lost', …) */
  get lastCallEnd() { return model.lastCallEnd; },
  /**
   * Device requests of the current call, newest last (copies; no bytes, no DOM):
   * `{id, kind, status, message, percent, error, result, hasImage}`.
   * @returns {object[]}
   */
  get devices() { return devices.snapshot(); },
  /**
   * Inbound video figures of the current call (zeros when there is none).
   * @returns {Promise<{framesDecoded: number, frameWidth: number, frameHeight: number,
   *   framesPerSecond: number, bytesReceived: number, framesSent: number}>}
   */
  async stats() {
    if (!model.call) return { framesDecoded: 0, frameWidth: 0, frameHeight: 0, framesPerSecond: 0, bytesReceived: 0, framesSent: 0, localCandidateType: '', remoteCandidateType: '' };
    return model.call.stats();
  },
});
Object.defineProperty(window, 'guichetConsole', { value: hook, writable: false, configurable: false });

async function boot() {
  if (EMBEDDED) $.root.dataset.embedded = 'true';
  await embed.start();
  render();
  await showSignInOptions();
  try {
    const agent = await me();
    if (agent) signIn(agent);
    else setState('signed_out');
  } catch (err) {
    setState('signed_out');
    showLoginError(err instanceof ApiError ? err.message : 'Le serveur est injoignable.');
  }
  if (model.state === 'signed_out') focusSignIn();
}

boot();

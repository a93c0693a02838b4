/**
 * One call on the agent side: the browser's RTCPeerConnection answering the
 * booth's offer, the local camera/microphone, and the "guichet" data channel
 * that the booth opens (chat + heartbeat).
 * @module call
 */

/** Period of our data-channel heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** Silence from the booth after which the link counts as lost. */
export const PEER_TIMEOUT_MS = 5000;
/** Longest wait for ICE gathering before sending the answer (later candidates are trickled). */
export const ICE_GATHER_TIMEOUT_MS = 3000;
/** A call not connected this long after it was assigned is given up. */
export const CALL_SETUP_TIMEOUT_MS = 20000;
/**
 * After the link is lost, how long to wait for the booth's new offer before hanging up
 * (the booth's RECONNECT_BUDGET_S, kiosk/call/reconnect.py, counted from our later
 * detection: the booth gives up first and its hang-up ends the call here).
 */
export const RECONNECT_BUDGET_MS = 15000;
/** Label of the data channel the booth creates. */
export const DATA_CHANNEL_LABEL = 'guichet';
/** Longest chat message the protocol allows. */
export const MAX_CHAT_CHARS = 2000;

const WATCHDOG_TICK_MS = 250;
/** Longest data-channel message read (a transfer chunk is about 22 000 characters). */
const MAX_PEER_MESSAGE_CHARS = 64 * 1024;
/** Pause sending while this much is queued in the channel (keeps chat and heartbeats flowing). */
const SEND_BUFFER_HIGH = 1024 * 1024;
/** Message types handed to the devices panel (docs/protocol.md, "Device work"). */
const DEVICE_TYPES = new Set(['device_progress', 'device_result', 'device_error',
  'transfer_start', 'transfer_chunk', 'transfer_end', 'transfer_abort']);

/**
 * Copy the switchboard's ICE servers, keeping only the fields WebRTC knows.
 * Never adds a default server: an empty list means host candidates only.
 * @param {Array<{urls: string[]|string, username?: string|null, credential?: string|null}>} servers
 * @returns {RTCIceServer[]}
 */
export function toRtcIceServers(servers) {
  if (!Array.isArray(servers)) return [];
  return servers.map((s) => {
    /** @type {RTCIceServer} */
    const out = { urls: s.urls };
    if (s.username != null) out.username = s.username;
    if (s.credential != null) out.credential = s.credential;
    return out;
  });
}

/**
 * The agent's side of one call. Events (`CustomEvent`):
 *  - `state`    detail `{state: 'connecting'|'connected'|'link_lost'|'failed'|'relay_failed'}`
 *               ('failed': not connected within CALL_SETUP_TIMEOUT_MS; 'relay_failed':
 *               relay-only and the TURN server gave us no relay candidate, e.g. it
 *               refused expired or wrong credentials — no answer is sent)
 *  - `channel`  detail `{open: boolean}` the data channel opened/closed
 *  - `chat`     detail `{id, text}` a chat line from the citizen
 *  - `media`    detail `{ok: boolean, error?: string}` own camera/microphone result
 *  - `remote`   the citizen's video track arrived
 */
export class CallSession extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.callId
   * @param {Array<object>} opts.iceServers  exactly `call_assigned.ice_servers`
   * @param {'all'|'relay'} [opts.iceTransportPolicy]  `call_assigned.ice_transport_policy`
   * @param {(msg: object) => boolean} opts.send  sends a signaling message
   * @param {HTMLVideoElement} opts.remoteVideo
   * @param {HTMLVideoElement} opts.localVideo
   */
  constructor({ callId, iceServers, iceTransportPolicy = 'all', send, remoteVideo, localVideo }) {
    super();
    this.callId = callId;
    this.send = send;
    this.remoteVideo = remoteVideo;
    this.localVideo = localVideo;
    this.relayOnly = iceTransportPolicy === 'relay';
    this.pc = new RTCPeerConnection({
      iceServers: toRtcIceServers(iceServers),
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
    });
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    /** @type {MediaStream|null} */
    this.localStream = null;
    this.remoteStream = new MediaStream();
    this.state = 'connecting';
    this.closed = false;
    this.answerSent = false;
    /** An offer was applied (a second one for the call means a new connection). */
    this.offerReceived = false;
    this.heartbeatSeq = 0;
    this.lastPeerMessage = 0;
    this.heartbeatTimer = 0;
    this.watchdogTimer = 0;
    /** @type {RTCIceCandidateInit[]} */
    this.pendingRemoteIce = [];
    this.mediaReady = this.openLocalMedia();
    this.setupTimer = window.setTimeout(() => {
      if (this.state === 'connecting') this.setState('failed');
    }, CALL_SETUP_TIMEOUT_MS);

    this.pc.ontrack = (event) => {
      this.remoteStream.addTrack(event.track);
      if (this.remoteVideo.srcObject !== this.remoteStream) this.remoteVideo.srcObject = this.remoteStream;
      if (event.track.kind === 'video') this.dispatchEvent(new CustomEvent('remote'));
    };
    this.pc.ondatachannel = (event) => {
      if (event.channel.label === DATA_CHANNEL_LABEL) this.attachChannel(event.channel);
    };
    this.pc.onicecandidate = (event) => {
      // Before the answer leaves, candidates go inside it; after (gathering timed out),
      // they are trickled. No end-of-candidates message: the answer or the trickled
      // candidates say everything, and aiortc has failed ICE on a late null candidate.
      if (!this.answerSent || this.closed || !event.candidate || !event.candidate.candidate) return;
      this.send({ type: 'ice', call_id: this.callId, candidate: event.candidate.toJSON() });
    };
    this.pc.onconnectionstatechange = () => {
      const s = this.pc.connectionState;
      if (s === 'connected') {
        clearTimeout(this.setupTimer);
        this.setState('connected');
      } else if (s === 'failed') {
        this.setState(this.state === 'connecting' ? 'failed' : 'link_lost');
      }
    };
  }

  async openLocalMedia() {
    try {
      this.localStream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
      });
      if (this.closed) {
        this.stopLocal();
        return;
      }
      this.localVideo.srcObject = this.localStream;
      this.dispatchEvent(new CustomEvent('media', { detail: { ok: true } }));
    } catch (err) {
      // The call still goes on, receive-only: the agent can hear/see and chat.
      this.localStream = null;
      const name = err && err.name ? err.name : 'Error';
      this.dispatchEvent(new CustomEvent('media', { detail: { ok: false, error: name } }));
    }
  }

  /**
   * Apply the booth's offer and send our answer once ICE gathering is complete
   * (or after ICE_GATHER_TIMEOUT_MS, trickling the rest).
   * @param {RTCSessionDescriptionInit} description
   */
  async handleOffer(description) {
    if (this.closed) return;
    this.offerReceived = true;
    await this.pc.setRemoteDescription(description);
    await this.mediaReady;
    if (this.closed) return;
    if (this.localStream) {
      for (const track of this.localStream.getTracks()) this.pc.addTrack(track, this.localStream);
    }
    for (const c of this.pendingRemoteIce.splice(0)) await this.addIce(c);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.waitIceGathering();
    if (this.closed) return;
    const local = this.pc.localDescription;
    if (this.relayOnly && !/ typ relay( |$)/m.test(local.sdp)) {
      // Relay-only without a relay candidate cannot connect: say so now rather
      // than after CALL_SETUP_TIMEOUT_MS.
      clearTimeout(this.setupTimer);
      this.setState('relay_failed');
      return;
    }
    this.send({ type: 'answer', call_id: this.callId, description: { type: local.type, sdp: local.sdp } });
    this.answerSent = true;
  }

  waitIceGathering() {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => { if (this.pc.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
      this.pc.addEventListener('icegatheringstatechange', check);
    });
  }

  /**
   * A candidate trickled by the booth (`null` = end of candidates, ignored).
   * @param {RTCIceCandidateInit|null} candidate
   */
  async addIce(candidate) {
    if (this.closed || !candidate) return;
    if (!this.pc.remoteDescription) {
      this.pendingRemoteIce.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch {
      // A bad candidate must not end the call: the others may still work.
    }
  }

  attachChannel(channel) {
    this.channel = channel;
    let started = false;
    const opened = () => {
      // Chromium may hand over a channel that is already open and still fire onopen.
      if (started || this.closed) return;
      started = true;
      this.lastPeerMessage = performance.now();
      this.heartbeatTimer = window.setInterval(() => this.sendPeer({ type: 'heartbeat', seq: this.heartbeatSeq++ }), HEARTBEAT_INTERVAL_MS);
      this.sendPeer({ type: 'heartbeat', seq: this.heartbeatSeq++ });
      this.watchdogTimer = window.setInterval(() => this.checkPeer(), WATCHDOG_TICK_MS);
      this.dispatchEvent(new CustomEvent('channel', { detail: { open: true } }));
    };
    channel.onopen = opened;
    if (channel.readyState === 'open') opened();
    channel.onclose = () => {
      clearInterval(this.heartbeatTimer);
      if (!this.closed) this.dispatchEvent(new CustomEvent('channel', { detail: { open: false } }));
    };
    channel.onmessage = (event) => {
      this.lastPeerMessage = performance.now();
      if (typeof event.data !== 'string' || event.data.length > MAX_PEER_MESSAGE_CHARS) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!msg || msg.v !== 1) return;
      if (msg.type === 'chat' && typeof msg.text === 'string' && msg.text.length > 0) {
        const id = typeof msg.id === 'string' ? msg.id : '';
        this.dispatchEvent(new CustomEvent('chat', { detail: { id, text: msg.text.slice(0, MAX_CHAT_CHARS) } }));
      } else if (typeof msg.type === 'string' && DEVICE_TYPES.has(msg.type)) {
        this.dispatchEvent(new CustomEvent('device', { detail: msg }));
      }
    };
  }

  checkPeer() {
    if (this.closed || this.state === 'link_lost') return;
    if (performance.now() - this.lastPeerMessage > PEER_TIMEOUT_MS) this.setState('link_lost');
  }

  sendPeer(msg) {
    if (!this.channel || this.channel.readyState !== 'open') return false;
    this.channel.send(JSON.stringify({ v: 1, ...msg }));
    return true;
  }

  /**
   * Send many messages (a file transfer), waiting whenever the channel's buffer is full.
   * @param {object[]} msgs
   * @param {(sent: number) => void} [onProgress]
   * @returns {Promise<boolean>} false when the channel closed before the end
   */
  async sendPeerPaced(msgs, onProgress) {
    const channel = this.channel;
    if (!channel) return false;
    channel.bufferedAmountLowThreshold = SEND_BUFFER_HIGH / 2;
    for (let i = 0; i < msgs.length; i++) {
      while (channel.readyState === 'open' && channel.bufferedAmount > SEND_BUFFER_HIGH) {
        await new Promise((resolve) => {
          const done = () => { channel.removeEventListener('bufferedamountlow', done); resolve(); };
          channel.addEventListener('bufferedamountlow', done);
          setTimeout(done, 250);
        });
      }
      if (this.closed || !this.sendPeer(msgs[i])) return false;
      // Messages sent here also prove we are alive to the booth's watchdog.
      if (onProgress && (i % 16 === 0 || i === msgs.length - 1)) onProgress(i + 1);
    }
    return true;
  }

  /**
   * Send a chat line to the citizen.
   * @param {string} id
   * @param {string} text
   * @returns {boolean} false when the data channel is not open
   */
  sendChat(id, text) {
    return this.sendPeer({ type: 'chat', id, text: text.slice(0, MAX_CHAT_CHARS) });
  }

  /** @returns {boolean} */
  get channelOpen() {
    return !!this.channel && this.channel.readyState === 'open';
  }

  /** @param {boolean} muted */
  setMicMuted(muted) {
    if (this.localStream) for (const t of this.localStream.getAudioTracks()) t.enabled = !muted;
  }

  /** @param {boolean} off */
  setCameraOff(off) {
    if (this.localStream) for (const t of this.localStream.getVideoTracks()) t.enabled = !off;
  }

  /** @returns {boolean} whether we have a camera track to switch */
  get hasCamera() {
    return !!this.localStream && this.localStream.getVideoTracks().length > 0;
  }

  /** @returns {boolean} whether we have a microphone track to mute */
  get hasMic() {
    return !!this.localStream && this.localStream.getAudioTracks().length > 0;
  }

  setState(state) {
    if (this.state === state || this.closed) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  /**
   * Inbound video figures from `getStats()`, for the test hook and diagnostics.
   * `localCandidateType`/`remoteCandidateType`: the selected candidate pair's
   * ('host', 'srflx', 'prflx', 'relay'; '' before ICE connects).
   * @returns {Promise<{framesDecoded: number, frameWidth: number, frameHeight: number,
   *   framesPerSecond: number, bytesReceived: number, framesSent: number,
   *   localCandidateType: string, remoteCandidateType: string}>}
   */
  async stats() {
    const out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0, framesPerSecond: 0, bytesReceived: 0, framesSent: 0, localCandidateType: '', remoteCandidateType: '' };
    if (this.closed) return out;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        const local = pair && report.get(pair.localCandidateId);
        const remote = pair && report.get(pair.remoteCandidateId);
        out.localCandidateType = (local && local.candidateType) || '';
        out.remoteCandidateType = (remote && remote.candidateType) || '';
      }
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded = s.framesDecoded || 0;
        out.frameWidth = s.frameWidth || 0;
        out.frameHeight = s.frameHeight || 0;
        out.framesPerSecond = s.framesPerSecond || 0;
        out.bytesReceived = s.bytesReceived || 0;
      } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesSent += s.framesSent || 0;
      }
    });
    return out;
  }

  stopLocal() {
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    this.localStream = null;
  }

  /** Tear everything down: timers, channel, tracks, `pc.close()`. Safe to call twice. */
  close() {
    if (this.closed) return;
    this.state = 'closed';
    this.closed = true;
    clearTimeout(this.setupTimer);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.watchdogTimer);
    if (this.channel) {
      try { this.channel.close(); } catch { /* already closed */ }
    }
    this.stopLocal();
    this.pc.close();
    this.remoteVideo.srcObject = null;
    this.localVideo.srcObject = null;
    for (const t of this.remoteStream.getTracks()) t.stop();
  }
}

// Baseline booth for bench/call_setup.py: speaks the booth protocol of
// docs/protocol.md from a browser. Parameters come from the query string:
// ?ws=ws://127.0.0.1:PORT/ws/booth&token=...&service=caf
const params = new URLSearchParams(location.search);
const state = { status: "starting", callId: null, firstFrameAt: null, framesDecoded: 0 };
window.baselineBooth = state;

const ws = new WebSocket(params.get("ws"));
let pc = null;
let channel = null;

function send(msg) {
  ws.send(JSON.stringify({ v: 1, ...msg }));
}

ws.onopen = () => send({ type: "hello", token: params.get("token"), app_version: "baseline" });

ws.onmessage = async (event) => {
  const msg = JSON.parse(event.data);
  if (msg.type === "welcome") {
    state.status = "joining";
    send({ type: "join_queue", service_id: params.get("service"), language: "fr" });
  } else if (msg.type === "queued") {
    state.status = "queued";
  } else if (msg.type === "call_started") {
    state.callId = msg.call_id;
    await startCall(msg);
  } else if (msg.type === "answer" && pc) {
    await pc.setRemoteDescription(msg.description);
  } else if (msg.type === "ice" && pc && msg.candidate) {
    await pc.addIceCandidate(msg.candidate);
  } else if (msg.type === "call_ended") {
    state.status = "ended";
    if (pc) pc.close();
  }
};

async function startCall(msg) {
  state.status = "calling";
  pc = new RTCPeerConnection({ iceServers: msg.ice_servers, bundlePolicy: "max-bundle" });
  const media = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480, frameRate: 30 },
    audio: true,
  });
  for (const track of media.getTracks()) pc.addTrack(track, media);
  channel = pc.createDataChannel("guichet");
  let seq = 0;
  channel.onopen = () => setInterval(() => channel.send(JSON.stringify({ v: 1, type: "heartbeat", seq: seq++ })), 1000);
  pc.ontrack = (event) => {
    if (event.track.kind !== "video") return;
    const video = document.getElementById("remote");
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
    const onFrame = (now, meta) => {
      if (state.firstFrameAt === null) state.firstFrameAt = performance.timeOrigin + now;
      state.framesDecoded = meta.presentedFrames;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
  });
  send({ type: "offer", call_id: state.callId, description: { type: "offer", sdp: pc.localDescription.sdp } });
  state.status = "in_call";
}

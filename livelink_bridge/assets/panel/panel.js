// MEDTalk Bridge panel: draws the face the daemon sends (the geometry `medtalk preview` draws from,
// computed by the daemon), shows its status, and sends control messages (docs/PROTOCOL.md, section 2,
// as JSON) and photos over one WebSocket. No build step, no library: this file is all of it.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const canvas = document.getElementById("face");
const ctx = canvas.getContext("2d");
const $ = (id) => document.getElementById(id);
let socket = null;
let hello = null;        // from the daemon: emotions, palette, intensity step
let lastStatus = null;

// --- drawing: the same shapes, colours and order as medtalk_core/face_drawing.render_geometry ---
function rgb(c) { return `rgb(${c[0]},${c[1]},${c[2]})`; }
function mix(a, b, w) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * w)); }
function path(points, close) {
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  if (close) ctx.closePath();
}
function fillPoly(points, color) { path(points, true); ctx.fillStyle = rgb(color); ctx.fill(); }
function strokeLine(points, color, width) {
  path(points, false); ctx.strokeStyle = rgb(color); ctx.lineWidth = width; ctx.lineJoin = "round"; ctx.stroke();
}
function circle([x, y], r, color) { ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fillStyle = rgb(color); ctx.fill(); }

function drawFace(g) {
  const P = hello.palette, size = g.size, line = Math.max(1, Math.round(size / 128));
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
  ctx.fillStyle = rgb(P.background); ctx.fillRect(0, 0, size, size);
  ctx.save();  // the head's roll: the whole face tilts about the neck, clockwise toward the character's left
  ctx.translate(g.neck[0], g.neck[1]); ctx.rotate(g.roll_deg * Math.PI / 180); ctx.translate(-g.neck[0], -g.neck[1]);
  for (const side of ["L", "R"]) {
    circle([g.ears_x[side], g.ears_y[side]], size * 0.045, mix(P.skin, P.skin_dark, 0.15));
  }
  fillPoly(g.head, P.skin);
  for (const side of ["L", "R"]) {
    const eye = g.eyes[side], upper = eye.upper_lid, lower = eye.lower_lid;
    if (eye.opening > 0.5) {
      fillPoly(upper.concat(lower.slice().reverse()), P.eye_white);
      circle(eye.iris_center, eye.iris_radius, P.iris);
      circle(eye.iris_center, eye.pupil_radius, P.pupil);
    }
    const pad = 0.03 * size, [x0, y0] = upper[0], [x1, y1] = upper[upper.length - 1];
    fillPoly(upper.concat([[x1 + pad, y1], [x1 + pad, eye.box_top], [x0 - pad, eye.box_top], [x0 - pad, y0]]), P.skin);
    fillPoly(lower.concat([[x1 + pad, y1], [x1 + pad, eye.box_bottom], [x0 - pad, eye.box_bottom], [x0 - pad, y0]]), P.skin);
    strokeLine(upper, P.lid_line, 2 * line);
    strokeLine(lower, mix(P.skin, P.lid_line, 0.5), line);
  }
  for (const side of ["L", "R"]) {
    const cheek = g.cheeks[side];
    circle(cheek.center, cheek.radius, mix(P.skin, P.blush, cheek.strength));
    strokeLine(g.brows[side], P.brow, Math.max(2, Math.round(size * 0.022)));
  }
  const nose = g.nose, [tx, ty] = nose.tip, noseColor = mix(P.skin, P.skin_dark, 0.55);
  strokeLine([[tx - 0.012 * size, g.eye_line_px + 0.02 * size], [tx - 0.02 * size, ty - 0.01 * size]], noseColor, line);
  for (const sign of [1, -1]) circle([tx + sign * nose.nostril_dx * 0.6, ty], 0.011 * size, noseColor);
  strokeLine([[tx - nose.nostril_dx, ty - 0.005 * size], [tx, ty + 0.01 * size], [tx + nose.nostril_dx, ty - 0.005 * size]],
             noseColor, line);
  if (nose.wrinkle > 0.05) {
    for (let k = 0; k < 3; k++) {
      const y = g.eye_line_px + 0.015 * size + k * 0.012 * size;
      strokeLine([[tx - 0.025 * size, y], [tx + 0.025 * size, y]], mix(P.skin, P.skin_dark, nose.wrinkle), line);
    }
  }
  const mouth = g.mouth;
  for (const [side, sign] of [["L", 1], ["R", -1]]) {
    if (nose.fold[side] < 0.05) continue;
    const corner = mouth["corner_" + side];
    strokeLine([[tx + sign * nose.nostril_dx * 1.4, ty - 0.01 * size],
                [corner[0] + sign * 0.03 * size, (ty + corner[1]) / 2],
                [corner[0] + sign * 0.015 * size, corner[1] + 0.01 * size]],
               mix(P.skin, P.skin_dark, 0.1 + 0.6 * nose.fold[side]), line);
  }
  fillPoly(mouth.outer, P.lip);
  if (g.mouth_opening_px > 0.5) {
    fillPoly(mouth.inner, P.mouth_inside);
    const depth = Math.min(0.02 * size, g.mouth_opening_px / 3), upper = mouth.upper_inner_curve;
    const middle = upper.slice(Math.floor(upper.length / 4), Math.floor(3 * upper.length / 4) + 1);
    fillPoly(middle.concat(middle.map(([x, y]) => [x, y + depth]).reverse()), P.teeth);
    path(mouth.inner, true); ctx.strokeStyle = rgb(mix(P.lip, P.mouth_inside, 0.5)); ctx.lineWidth = 1; ctx.stroke();
  } else {
    strokeLine(mouth.upper_inner_curve, P.mouth_inside, line);
  }
  ctx.restore();
}

// --- status ---
function fmt(v, digits) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits); }
function showStatus(s) {
  lastStatus = s;
  $("s-guidance").textContent = `${s.guidance} x${fmt(s.intensity, 2)}${s.muted ? " (muted)" : ""}`;
  $("s-fps").textContent = fmt(s.fps, 1);
  $("s-latency").textContent = `${fmt(s.latency_ms_p50, 0)} / ${fmt(s.latency_ms_p95, 0)} ms`;
  $("s-late").textContent = s.late_frames;
  $("s-delay").textContent = `${fmt(s.playout_delay_ms, 0)} ms`;
  $("s-input").textContent = s.input_lost ? "lost" : `${fmt(s.input_level_db, 0)} dB`;
  $("level").style.width = `${Math.max(0, Math.min(100, (s.input_level_db + 60) / 60 * 100))}%`;
  $("mute").setAttribute("aria-pressed", String(Boolean(s.muted)));
  $("head-eyes").setAttribute("aria-pressed", String(Boolean(s.head_eyes)));
  document.querySelectorAll("#emotions button").forEach((b) => b.classList.toggle("active", b.dataset.label === s.guidance));
  if (document.activeElement !== $("intensity")) { $("intensity").value = s.intensity; $("intensity-value").value = fmt(s.intensity, 2); }
}

// --- controls ---
function send(address, args) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ control: address, args }));
}
function setEmotion(label) { send("/medtalk/emotion", [label, Number($("strength").value)]); }
function setIntensity(value) {
  const v = Math.max(0, Math.min(hello.max_intensity, Math.round(value * 100) / 100));
  $("intensity").value = v; $("intensity-value").value = fmt(v, 2);
  send("/medtalk/intensity", [v]);
}
function sendPhoto(file) {
  if (!file) return;
  $("message").textContent = `sending ${file.name}...`;
  file.arrayBuffer().then((data) => socket && socket.send(data));
}

function setUp(h) {
  hello = h;
  const box = $("emotions");
  box.replaceChildren();
  h.emotions.forEach((label, i) => {
    const b = document.createElement("button");
    b.type = "button"; b.dataset.label = label; b.textContent = `${i + 1} ${label}`;
    b.addEventListener("click", () => setEmotion(label));
    box.appendChild(b);
  });
}

$("strength").addEventListener("input", (e) => { $("strength-value").value = fmt(e.target.value, 2); });
$("intensity").addEventListener("change", (e) => setIntensity(Number(e.target.value)));
$("describe").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("description").value.trim();
  if (text) send("/medtalk/guidance/text", [text]);
});
$("mute").addEventListener("click", () => send("/medtalk/mute", [lastStatus && lastStatus.muted ? 0 : 1]));
$("head-eyes").addEventListener("click", () => send("/medtalk/head_eyes", [lastStatus && lastStatus.head_eyes ? 0 : 1]));
$("photo").addEventListener("change", (e) => sendPhoto(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); sendPhoto(e.dataTransfer.files[0]); });

// The daemon's terminal hotkeys: 1-7 emotions, + / - intensity, m mute, t describe.
document.addEventListener("keydown", (e) => {
  if (!hello || e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key >= "1" && e.key <= String(hello.emotions.length)) setEmotion(hello.emotions[Number(e.key) - 1]);
  else if (e.key === "+" || e.key === "=") setIntensity(Number($("intensity").value) + hello.intensity_step);
  else if (e.key === "-" || e.key === "_") setIntensity(Number($("intensity").value) - hello.intensity_step);
  else if (e.key === "m" || e.key === "M") $("mute").click();
  else if (e.key === "t" || e.key === "T") { e.preventDefault(); $("description").focus(); }
  else return;
  e.preventDefault();
});

// --- the connection ---
function connect() {
  const state = $("connection");
  socket = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => { state.textContent = "live"; state.className = "state live"; });
  socket.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "hello") setUp(m);
    else if (m.type === "face" && hello) drawFace(m.geometry);
    else if (m.type === "status") showStatus(m.status);
    else if (m.type === "error") $("message").textContent = m.error;
    else if (m.type === "ok") $("message").textContent = `${m.kind} applied`;
  });
  socket.addEventListener("close", (e) => {
    const refused = !hello;  // refused before the hello: a wrong token, another origin, too many pages
    state.textContent = refused ? "refused (check the token in the URL)" : "disconnected, retrying...";
    state.className = refused ? "state refused" : "state";
    if (!refused) setTimeout(connect, 1000);
  });
}
connect();

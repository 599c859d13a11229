'use strict';
// The benchmarks' load generator: one process holding thousands of WebSockets,
// driven by JSON-line commands on stdin, answering JSON lines on stdout (the last
// line of every answer has "done": true).
//
// Every measured message carries a token ~B<run>.<k>_<t>~ (in the body and the
// client_id, or in a notification's title) where <t> is the wall-clock time of
// the send in ms. Each delivery is matched to (run, message k, socket): lost,
// duplicated and stale deliveries are counted, and the latency is receipt time
// minus <t>, all on this machine's clock (another process's <t> is aligned to
// this one's when its run is armed). The per-frame work is a few Buffer
// scans (no JSON parsing) so that this process is not the bottleneck.

const WebSocket = require('ws');
const { out, serveCommands } = require('./commands');
const { performance } = require('perf_hooks');

const now = () => performance.timeOrigin + performance.now();

const HELLO = Buffer.from('{"type":"hello"');
const ERROR = Buffer.from('{"type":"error"');
const SEQ = Buffer.from('"seq":');
const MARK = Buffer.from('~B');
const TILDE = 0x7e;

/** @type {Array<object>} */
let sockets = [];
let run = null; // the measurement in progress
let idleFrames = 0;


// --- parsing ---------------------------------------------------------------

function parseToken(buf, at) {
  // ~B<run>.<k>_<t>~ starting at `at` (the "~").
  let i = at + 2;
  let runId = 0;
  let k = 0;
  let c;
  while ((c = buf[i]) >= 0x30 && c <= 0x39) { runId = runId * 10 + (c - 0x30); i++; }
  if (buf[i] !== 0x2e) return null;
  i++;
  while ((c = buf[i]) >= 0x30 && c <= 0x39) { k = k * 10 + (c - 0x30); i++; }
  if (buf[i] !== 0x5f) return null;
  i++;
  const end = buf.indexOf(TILDE, i);
  if (end < 0 || end - i > 24) return null;
  const t = Number(buf.toString('latin1', i, end));
  return { runId, k, t };
}

function parseSeq(buf) {
  const at = buf.indexOf(SEQ);
  if (at < 0) return -1;
  let i = at + SEQ.length;
  let seq = 0;
  let c;
  let any = false;
  while ((c = buf[i]) >= 0x30 && c <= 0x39) { seq = seq * 10 + (c - 0x30); i++; any = true; }
  return any ? seq : -1;
}

// --- sockets ---------------------------------------------------------------

function onFrame(sock, data, isBinary) {
  if (isBinary) return;
  if (sock.state === 'connecting') {
    if (sock.readyOn === 'hello' && data.indexOf(HELLO) === 0) sock.onReady();
    return;
  }
  const r = run;
  if (r === null) {
    idleFrames++;
    return;
  }
  const t = now();
  const at = data.indexOf(MARK);
  if (at < 0 || data.indexOf(HELLO) === 0) {
    if (data.indexOf(ERROR) === 0) {
      r.errors++;
      if (r.errorSamples.length < 5) r.errorSamples.push(data.toString('utf8', 0, 300));
    } else {
      r.otherFrames++;
    }
    return;
  }
  const token = parseToken(data, at);
  if (token === null) { r.otherFrames++; return; }
  if (token.runId !== r.id) { r.stale++; return; }
  const msg = r.msgs[token.k];
  if (msg === undefined || sock.run !== r.id || sock.room !== msg.room) { r.stray++; return; }
  const pos = sock.pos;
  if (msg.flags[pos] !== 0) {
    r.duplicates++;
    if (msg.flags[pos] < 255) msg.flags[pos]++;
    return;
  }
  msg.flags[pos] = 1;
  msg.remaining--;
  // Sent by someone else (mode 'external'): the token holds the call's
  // wall-clock time, on this process's clock once the two are aligned.
  const sentT = token.t + r.wallToLocal;
  if (!msg.sent) {
    msg.sent = true;
    msg.sendT = sentT;
  }
  if (t > msg.lastT) msg.lastT = t;
  if (t > r.lastDelivery) r.lastDelivery = t;
  r.delivered++;
  if (r.delivered > r.latencies.length) {
    const grown = new Float64Array(r.latencies.length * 2 + 1024);
    grown.set(r.latencies);
    r.latencies = grown;
  }
  r.latencies[r.delivered - 1] = t - sentT;
  if (r.checkSeq) {
    const seq = parseSeq(data);
    if (msg.seq === -1) msg.seq = seq;
    else if (msg.seq !== seq) r.seqMismatch++;
  }
  if (msg.remaining === 0) {
    r.completed++;
    if (r.onComplete) r.onComplete(msg);
  }
}

function openSocket(target, readyOn, timeoutMs, ping) {
  return new Promise((resolve) => {
    const started = now();
    const sock = {
      ws: null, group: target.group, state: 'connecting', readyOn, code: null,
      run: -1, room: -1, pos: -1, lastPing: started, handshakeMs: 0, onReady: null, ping: !!ping,
    };
    let settled = false;
    const settle = (ok, reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, reason, sock });
    };
    const timer = setTimeout(() => {
      sock.state = 'failed';
      try { sock.ws.terminate(); } catch { /* already gone */ }
      settle(false, 'timeout');
    }, timeoutMs);
    sock.onReady = () => {
      sock.state = 'ready';
      sock.handshakeMs = now() - started;
      settle(true, null);
    };
    const ws = new WebSocket(target.url, {
      headers: { Cookie: `sessionid=${target.session}`, Origin: target.origin },
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
    });
    sock.ws = ws;
    ws.on('open', () => { if (readyOn === 'open') sock.onReady(); });
    ws.on('message', (data, isBinary) => onFrame(sock, data, isBinary));
    ws.on('unexpected-response', (_req, res) => {
      sock.state = 'failed';
      settle(false, `http ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (sock.state === 'connecting') {
        sock.state = 'failed';
        settle(false, err.code || err.message);
      }
    });
    ws.on('close', (code) => {
      const was = sock.state;
      sock.state = 'closed';
      sock.code = code;
      if (was === 'connecting') settle(false, `closed ${code}`);
      else if (was === 'ready' && run !== null && sock.run === run.id) {
        run.closed[code] = (run.closed[code] || 0) + 1;
      }
    });
  });
}

async function connect(cmd) {
  const readyOn = cmd.readyOn || 'open';
  const concurrency = cmd.concurrency || 100;
  const timeoutMs = (cmd.timeout || 30) * 1000;
  const deadline = now() + (cmd.deadline || 300) * 1000;
  const targets = cmd.targets;
  const failures = {};
  const handshakes = [];
  let next = 0;
  let ready = 0;
  const started = now();
  async function lane() {
    while (next < targets.length && now() < deadline) {
      const target = targets[next++];
      const { ok, reason, sock } = await openSocket(target, readyOn, timeoutMs, cmd.ping);
      if (ok) {
        ready++;
        handshakes.push(sock.handshakeMs);
        sockets.push(sock);
      } else {
        failures[reason] = (failures[reason] || 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, lane));
  const seconds = (now() - started) / 1000;
  handshakes.sort((a, b) => a - b);
  return {
    requested: targets.length,
    attempted: next,
    ready,
    failures,
    seconds,
    per_second: ready / seconds,
    handshake_ms: percentiles(handshakes),
    open: openCount(),
  };
}

function openCount() {
  let n = 0;
  for (const s of sockets) if (s.state === 'ready') n++;
  return n;
}

async function closeAll(cmd) {
  const timeoutMs = (cmd.timeout || 20) * 1000;
  const live = sockets.filter((s) => s.state === 'ready');
  const started = now();
  await new Promise((resolve) => {
    let waiting = live.length;
    if (waiting === 0) { resolve(); return; }
    const timer = setTimeout(resolve, timeoutMs);
    for (const s of live) {
      s.ws.once('close', () => { if (--waiting === 0) { clearTimeout(timer); resolve(); } });
      s.ws.close(1000);
    }
  });
  let terminated = 0;
  for (const s of sockets) {
    if (s.state !== 'closed' && s.ws) { s.ws.terminate(); terminated++; }
  }
  sockets = [];
  return { closed: live.length, terminated, seconds: (now() - started) / 1000 };
}

// Sockets that stay silent are closed by the app's idle timeout (the browser
// pings every 25 s): ping the ones that asked for it, spread over 25 ticks.
let tick = 0;
setInterval(() => {
  tick++;
  const t = now();
  for (let i = tick % 25; i < sockets.length; i += 25) {
    const s = sockets[i];
    if (s.state !== 'ready' || !s.ping) continue;
    const quiet = t - s.lastPing;
    if ((run === null && quiet > 25000) || quiet > 60000) {
      s.lastPing = t;
      s.ws.send('{"type":"ping"}');
    }
  }
}, 1000).unref();

// --- measurements ----------------------------------------------------------

function percentiles(sorted) {
  const n = sorted.length;
  if (n === 0) return null;
  const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1], min: sorted[0] };
}

function cdf(sorted, points) {
  const n = sorted.length;
  if (n === 0) return [];
  const result = [];
  for (let i = 0; i <= points; i++) {
    const q = i / points;
    result.push([sorted[Math.min(n - 1, Math.floor(q * (n - 1)))], q]);
  }
  return result;
}

let runCounter = 0;

/**
 * One measured run. cmd:
 *   groups: names of the socket groups that are the rooms (message k goes to room k % rooms)
 *   mode: 'single' (one at a time, each awaited), 'paced' (rate/s), 'burst' (all at once),
 *         'external' (sent by someone else: `count` messages, tokens from `run_id`)
 *   count, rate, senders_per_room (senders rotate over the room's first members)
 *   drain: seconds to wait for deliveries after the last send; gap: seconds between singles
 */
async function measure(cmd) {
  const id = cmd.run_id || (process.pid * 1000 + ++runCounter) % 1e9;
  const rooms = cmd.groups.map((name) => sockets.filter((s) => s.state === 'ready' && s.group === name));
  rooms.forEach((members, room) => members.forEach((s, pos) => { s.run = id; s.room = room; s.pos = pos; }));
  const count = cmd.count;
  const r = {
    id, msgs: new Array(count), delivered: 0, duplicates: 0, stale: 0, stray: 0, errors: 0,
    errorSamples: [], otherFrames: 0, closed: {}, completed: 0, seqMismatch: 0,
    latencies: new Float64Array(Math.min(4e6, rooms.reduce((a, m) => a + m.length, 0) * count / rooms.length + 16)),
    lastDelivery: 0, checkSeq: !!cmd.check_seq, onComplete: null,
    // now() counts from this process's start: a wall clock stepped since (a VM
    // syncing its time) would shift another process's times by the step.
    wallToLocal: cmd.mode === 'external' ? now() - Date.now() : 0,
  };
  for (let k = 0; k < count; k++) {
    const members = rooms[k % rooms.length];
    r.msgs[k] = { room: k % rooms.length, flags: new Uint8Array(members.length), remaining: members.length,
      sendT: 0, lastT: 0, seq: -1, sent: false };
  }
  run = r;
  const sendersPerRoom = cmd.senders_per_room || 1;
  const sendCounts = new Array(rooms.length).fill(0);
  const send = (k) => {
    const msg = r.msgs[k];
    const members = rooms[msg.room];
    const nth = sendCounts[msg.room]++;
    const sender = members[nth % Math.min(sendersPerRoom, members.length)];
    const t = now();
    msg.sendT = t;
    msg.sent = true;
    const token = `~B${id}.${k}_${t.toFixed(3)}~`;
    if (sender && sender.state === 'ready') {
      sender.ws.send(`{"type":"send","body":"${token}","client_id":"${token}"}`);
    } else {
      r.unsent = (r.unsent || 0) + 1;
    }
  };
  const started = now();
  const drainMs = (cmd.drain || 30) * 1000;
  const allDone = () => r.completed === count;
  const waitUntil = (pred, ms) => new Promise((resolve) => {
    if (pred()) { resolve(true); return; }
    const limit = now() + ms;
    const poll = setInterval(() => {
      if (pred()) { clearInterval(poll); resolve(true); } else if (now() > limit) { clearInterval(poll); resolve(false); }
    }, 2);
  });
  const singles = [];
  if (cmd.mode === 'single') {
    for (let k = 0; k < count; k++) {
      send(k);
      await waitUntil(() => r.msgs[k].remaining === 0, drainMs);
      const msg = r.msgs[k];
      singles.push({ last_ms: msg.remaining === 0 ? msg.lastT - msg.sendT : null, missing: msg.remaining });
      await new Promise((res) => setTimeout(res, (cmd.gap || 0.3) * 1000));
    }
  } else if (cmd.mode === 'burst') {
    for (let k = 0; k < count; k++) send(k);
    await waitUntil(allDone, drainMs);
  } else if (cmd.mode === 'paced') {
    const interval = 1000 / cmd.rate;
    let k = 0;
    await new Promise((resolve) => {
      const pump = setInterval(() => {
        const due = Math.min(count, Math.floor((now() - started) / interval) + 1);
        while (k < due) send(k++);
        if (k >= count) { clearInterval(pump); resolve(); }
      }, 1);
    });
    await waitUntil(allDone, drainMs);
  } else if (cmd.mode === 'external') {
    out({ armed: true, run_id: id });
    await waitUntil(allDone, (cmd.timeout || 60) * 1000);
    // Wait a little more for duplicates.
    await new Promise((res) => setTimeout(res, 300));
  } else {
    throw new Error(`unknown mode ${cmd.mode}`);
  }
  // A last short wait catches duplicates that were on their way.
  if (cmd.mode !== 'external') await new Promise((res) => setTimeout(res, 200));
  run = null;
  let firstSend = Infinity;
  let lastSend = 0;
  let expected = 0;
  const completion = [];
  const seqs = [];
  for (const msg of r.msgs) {
    expected += msg.flags.length;
    if (msg.sent) {
      firstSend = Math.min(firstSend, msg.sendT);
      lastSend = Math.max(lastSend, msg.sendT);
    }
    if (msg.remaining === 0 && msg.sent) completion.push(msg.lastT - msg.sendT);
    if (msg.seq !== -1) seqs.push(msg.seq);
  }
  const lat = r.latencies.subarray(0, r.delivered).sort();
  completion.sort((a, b) => a - b);
  // Seq check (our app): every message got a seq, no two in a room the same, none
  // skipped within a room between the run's lowest and highest.
  let seqReport = null;
  if (r.checkSeq) {
    const byRoom = new Map();
    for (const msg of r.msgs) {
      if (msg.seq === -1) continue;
      if (!byRoom.has(msg.room)) byRoom.set(msg.room, []);
      byRoom.get(msg.room).push(msg.seq);
    }
    let dupSeq = 0;
    let gaps = 0;
    for (const list of byRoom.values()) {
      list.sort((a, b) => a - b);
      for (let i = 1; i < list.length; i++) {
        if (list[i] === list[i - 1]) dupSeq++;
        else gaps += list[i] - list[i - 1] - 1;
      }
    }
    seqReport = { with_seq: seqs.length, without_seq: count - seqs.length, duplicate_seq: dupSeq, gaps, mismatched: r.seqMismatch };
  }
  const external = cmd.mode === 'external';
  const span = r.delivered > 0 ? (r.lastDelivery - firstSend) / 1000 : 0;
  return {
    run_id: id,
    mode: cmd.mode,
    rooms: rooms.length,
    recipients: rooms.reduce((a, m) => a + m.length, 0),
    sent: external ? r.msgs.filter((m) => m.sent).length : r.msgs.filter((m) => m.sent).length - (r.unsent || 0),
    unsent: r.unsent || 0,
    expected,
    delivered: r.delivered,
    lost: expected - r.delivered,
    duplicates: r.duplicates,
    stale: r.stale,
    stray: r.stray,
    errors: r.errors,
    error_samples: r.errorSamples,
    other_frames: r.otherFrames,
    closed_during: r.closed,
    messages_complete: r.completed,
    send_seconds: lastSend > firstSend ? (lastSend - firstSend) / 1000 : 0,
    span_seconds: span,
    deliveries_per_second: span > 0 ? r.delivered / span : null,
    latency_ms: percentiles(lat),
    cdf: cdf(lat, cmd.cdf_points || 200),
    completion_ms: percentiles(completion),
    singles,
    seq: seqReport,
    wall_seconds: (now() - started) / 1000,
  };
}

// --- command loop ----------------------------------------------------------

const handlers = {
  connect,
  close: closeAll,
  measure,
  ping: async () => ({ pong: true, open: openCount(), idle_frames: idleFrames }),
  pings: async (cmd) => {
    for (const s of sockets) if (s.group === cmd.group || !cmd.group) s.ping = true;
    return { open: openCount() };
  },
  stats: async () => ({ open: openCount(), rss: process.memoryUsage().rss, idle_frames: idleFrames }),
  exit: async () => { setTimeout(() => process.exit(0), 10); return { bye: true }; },
};

serveCommands(handlers);

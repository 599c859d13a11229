'use strict';
// The soak benchmark's clients (bench/README.md, "Soak"): one process holding every
// room socket, driven by JSON-line commands on stdin like loadgen.js (the last line
// of every answer has "done": true).
//
// Each client behaves like the browser's room page (static/js/chat.js): it keeps
// `contiguous`, the highest seq up to which it has every message, and every
// reconnect resumes with ?after=<contiguous>; it drops a message whose seq it has
// already seen; its sends wait in an outbox and go again, with the same client_id,
// on each new connection until their echo arrives; it pings every 25 s and drops a
// socket that does not answer within 10 s; it reconnects with the browser's backoff.
// Unlike the browser it never asks for `history`: what a client has is exactly what
// the server delivered (live frames, resume hellos and post-outage resyncs).
//
// A send is acknowledged when its own `message` frame (with its client_id and a
// seq) reaches its sender. A client is in its room from its first hello (seq
// `joinSeq`) to the end; it expects every acknowledged message of its room with a
// higher seq. Lost = expected and never received (report, after the final quiet
// period). Duplicated = one send stored under two seqs, or one seq carrying two
// different sends: what de-duplication by seq cannot hide.

const WebSocket = require('ws');
const { out, serveCommands } = require('./commands');

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 30000;
const PING_EVERY_MS = 25000;
const PONG_WAIT_MS = 10000;
const HELLO_WAIT_MS = 30000;
// Close codes after which the browser stops: login page, or the room is gone.
const FINAL_CODES = new Set([4401, 4403, 4404]);
const SENT_AT = /\bt=(\d+)\b/;

const now = () => Date.now();


/** Growable list of numbers (latencies) without boxing. */
class Samples {
  constructor() { this.values = new Float64Array(4096); this.length = 0; }
  push(v) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }
  percentiles() {
    const sorted = this.values.slice(0, this.length).sort();
    const n = sorted.length;
    if (n === 0) return null;
    const at = (q) => Math.round(sorted[Math.min(n - 1, Math.floor(q * n))]);
    return { n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(sorted[n - 1]) };
  }
}

const stats = {
  sent: 0, transmissions: 0, acked: 0, delivered: { live: 0, hello: 0 }, repeats: { live: 0, hello: 0 },
  connections: 0, closes: {}, errors: {}, errorSamples: [], pongTimeouts: 0, helloTimeouts: 0,
  truncatedHellos: 0, helloBehind: 0, churned: 0, lastProgress: now(),
};
// [ms, code, planned, open] of every close: `open` when the socket had its hello,
// else a connection attempt that failed.
const closeLog = [];
// First receipt minus the time the sender queued the send, ms, live frames only: a
// send queued while its sender was reconnecting includes that wait.
const latency = new Samples();

/** Per room: every send seen (by anyone) under its seq, and every acknowledged seq. */
const rooms = new Map();

function roomState(slug) {
  let room = rooms.get(slug);
  if (!room) {
    room = { slug, seqOf: new Map(), idOf: new Map(), acked: new Map(), storedTwice: [], seqReused: [] };
    rooms.set(slug, room);
  }
  return room;
}

let clients = [];
let sending = null;
let churning = null;

class Client {
  constructor(index, target) {
    this.index = index;
    this.base = target.url; // ws://host:port/ws/chat/<slug>/
    this.origin = target.origin;
    this.session = target.session;
    this.room = roomState(target.room);
    this.ws = null;
    this.state = 'idle'; // connecting | ready | waiting | gone | closed
    this.joinSeq = null;
    this.contiguous = 0;
    this.have = new Set();
    this.outbox = new Map(); // client_id -> body, in send order
    this.sentCount = 0;
    this.attempt = 0;
    this.planned = false; // the current close was ours (churn, end of run)
    this.unplannedSince = 0; // when an unplanned drop began (0: none pending)
    this.timers = { ping: null, pong: null, hello: null, retry: null };
    this.onHello = null;
  }

  url() {
    return this.joinSeq === null ? this.base : `${this.base}?after=${this.contiguous}`;
  }

  connect() {
    clearTimeout(this.timers.retry);
    if (this.state === 'gone' || this.state === 'closed') return;
    this.state = 'connecting';
    this.planned = false;
    const ws = new WebSocket(this.url(), {
      headers: { Cookie: `sessionid=${this.session}`, Origin: this.origin },
      perMessageDeflate: false,
      handshakeTimeout: HELLO_WAIT_MS,
    });
    this.ws = ws;
    this.timers.hello = setTimeout(() => {
      stats.helloTimeouts++;
      ws.terminate();
    }, HELLO_WAIT_MS);
    ws.on('message', (data, isBinary) => { if (!isBinary && ws === this.ws) this.onFrame(data); });
    ws.on('error', () => { /* a 'close' follows */ });
    ws.on('close', (code) => { if (ws === this.ws) this.onClose(code); });
  }

  onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      stats.errors.unparsable = (stats.errors.unparsable || 0) + 1;
      return;
    }
    switch (frame.type) {
      case 'hello': return this.hello(frame);
      case 'message': return this.receive(frame.message, 'live');
      case 'pong': clearTimeout(this.timers.pong); return undefined;
      case 'error':
        stats.errors[frame.code] = (stats.errors[frame.code] || 0) + 1;
        if (stats.errorSamples.length < 10) stats.errorSamples.push(String(data).slice(0, 300));
        return undefined;
      default: return undefined; // presence, typing
    }
  }

  hello(frame) {
    clearTimeout(this.timers.hello);
    stats.connections++;
    if (this.joinSeq === null) {
      // The latest messages in the first hello came before the client joined.
      this.joinSeq = frame.last_seq;
      this.contiguous = frame.last_seq;
    } else {
      if (frame.last_seq < this.contiguous) stats.helloBehind++;
      if (frame.truncated) stats.truncatedHellos++;
      for (const message of frame.messages) this.receive(message, 'hello');
    }
    this.state = 'ready';
    this.attempt = 0;
    this.unplannedSince = 0;
    for (const [clientId, body] of this.outbox) this.transmit(clientId, body);
    this.schedulePing();
    if (this.onHello) this.onHello();
  }

  receive(message, how) {
    const { seq } = message;
    const clientId = message.client_id;
    const room = this.room;
    // What the server stored: one seq per send, one send per seq.
    const seenSeq = room.seqOf.get(clientId);
    if (seenSeq === undefined) room.seqOf.set(clientId, seq);
    else if (seenSeq !== seq && room.storedTwice.length < 1000) room.storedTwice.push([clientId, seenSeq, seq]);
    const seenId = room.idOf.get(seq);
    if (seenId === undefined) room.idOf.set(seq, clientId);
    else if (seenId !== clientId && room.seqReused.length < 1000) room.seqReused.push([seq, seenId, clientId]);
    if (this.outbox.delete(clientId)) {
      room.acked.set(seq, { clientId, sentAt: sentAt(message.body) });
      stats.acked++;
      stats.lastProgress = now();
    }
    if (seq <= this.joinSeq) return;
    if (this.have.has(seq)) {
      stats.repeats[how]++;
      return;
    }
    this.have.add(seq);
    stats.delivered[how]++;
    stats.lastProgress = now();
    if (how === 'live') {
      const t = sentAt(message.body);
      if (t) latency.push(now() - t);
    }
    while (this.have.has(this.contiguous + 1)) this.contiguous++;
  }

  send() {
    const clientId = `s${this.index}-${++this.sentCount}`;
    const body = `soak ${clientId} t=${now()}`;
    this.outbox.set(clientId, body);
    stats.sent++;
    if (this.state === 'ready') this.transmit(clientId, body);
  }

  transmit(clientId, body) {
    stats.transmissions++;
    this.ws.send(JSON.stringify({ type: 'send', body, client_id: clientId }));
  }

  schedulePing() {
    clearTimeout(this.timers.ping);
    // Spread the pings: each client's first one at a random point of the period.
    this.timers.ping = setTimeout(() => this.ping(), Math.random() * PING_EVERY_MS);
  }

  ping() {
    if (this.state !== 'ready') return;
    this.ws.send('{"type":"ping"}');
    clearTimeout(this.timers.pong);
    const ws = this.ws;
    this.timers.pong = setTimeout(() => {
      stats.pongTimeouts++;
      ws.terminate();
    }, PONG_WAIT_MS);
    this.timers.ping = setTimeout(() => this.ping(), PING_EVERY_MS);
  }

  /** Close on purpose (a reload, a network change): reconnect soon and resume. */
  churn() {
    stats.churned++;
    this.planned = true;
    this.ws.close(1000);
  }

  onClose(code) {
    for (const name of ['ping', 'pong', 'hello']) clearTimeout(this.timers[name]);
    const planned = this.planned || this.state === 'closed';
    closeLog.push([now(), code, planned, this.state === 'ready']);
    stats.closes[code] = (stats.closes[code] || 0) + 1;
    if (this.state === 'closed') return;
    if (!planned && this.unplannedSince === 0) this.unplannedSince = now();
    if (FINAL_CODES.has(code)) {
      this.state = 'gone';
      return;
    }
    let delay;
    if (planned) {
      delay = 100 + Math.random() * 900;
    } else {
      delay = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** this.attempt) * (0.5 + Math.random());
      this.attempt++;
    }
    this.state = 'waiting';
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  close() {
    const was = this.state;
    this.state = 'closed';
    clearTimeout(this.timers.retry);
    if (was === 'ready' || was === 'connecting') this.ws.close(1000);
  }

  /** Acknowledged messages of the room this client should have and has not. */
  missing() {
    const lost = [];
    if (this.joinSeq === null) return lost;
    for (const seq of this.room.acked.keys()) {
      if (seq > this.joinSeq && !this.have.has(seq)) lost.push(seq);
    }
    return lost;
  }
}

function sentAt(body) {
  const match = SENT_AT.exec(body || '');
  return match ? Number(match[1]) : 0;
}

function shuffled(list) {
  const copy = list.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

function snapshot() {
  const byState = {};
  let pending = 0;
  let down = 0;
  let longestDown = 0;
  const t = now();
  for (const c of clients) {
    byState[c.state] = (byState[c.state] || 0) + 1;
    pending += c.outbox.size;
    if (c.unplannedSince) {
      down++;
      longestDown = Math.max(longestDown, t - c.unplannedSince);
    }
  }
  return {
    t, clients: clients.length, states: byState, ready: byState.ready || 0,
    down_unplanned: down, longest_down_ms: longestDown, pending,
    sent: stats.sent, transmissions: stats.transmissions, acked: stats.acked,
    delivered: { ...stats.delivered }, repeats: { ...stats.repeats },
    connections: stats.connections, churned: stats.churned, closes: { ...stats.closes },
    errors: { ...stats.errors }, pong_timeouts: stats.pongTimeouts, hello_timeouts: stats.helloTimeouts,
    truncated_hellos: stats.truncatedHellos, hello_behind: stats.helloBehind,
    quiet_ms: t - stats.lastProgress,
  };
}

// --- commands ----------------------------------------------------------------

/** Open every client (at most `concurrency` handshakes at once); answer when all
 * have their hello or `deadline` seconds passed. */
async function connect(cmd) {
  clients = cmd.targets.map((target, index) => new Client(index, target));
  const started = now();
  const deadline = started + (cmd.deadline || 300) * 1000;
  let next = 0;
  async function lane() {
    while (next < clients.length && now() < deadline) {
      const client = clients[next++];
      // A client refused at first retries with backoff; the lane waits for its hello.
      await new Promise((resolve) => {
        const limit = setTimeout(resolve, HELLO_WAIT_MS + 5000);
        client.onHello = () => { clearTimeout(limit); resolve(); };
        client.connect();
      });
      client.onHello = null;
    }
  }
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency || 50, clients.length) }, lane));
  return { seconds: (now() - started) / 1000, ...snapshot() };
}

/** Send `rate` messages/s in all (each client in turn, in a shuffled order) and
 * close `churn_per_minute` clients a minute on purpose, spread evenly. */
async function load(cmd) {
  const order = shuffled(clients);
  const started = now();
  let due = 0;
  let k = 0;
  sending = setInterval(() => {
    const target = Math.floor(((now() - started) / 1000) * cmd.rate);
    for (; due < target; due++) {
      // A client that is away queues its send in its outbox, like the browser.
      const client = order[k++ % order.length];
      if (client.state !== 'gone') client.send();
    }
  }, 20);
  if (cmd.churn_per_minute > 0) {
    churning = setInterval(() => {
      const ready = clients.filter((c) => c.state === 'ready');
      if (ready.length) ready[Math.floor(Math.random() * ready.length)].churn();
    }, 60000 / cmd.churn_per_minute);
  }
  return { started: started };
}

async function stopLoad() {
  clearInterval(sending);
  clearInterval(churning);
  sending = null;
  churning = null;
  return snapshot();
}

/** Wait until every client is connected, every send acknowledged and nothing
 * missing, or nothing new arrived for `quiet` seconds, at most `max` seconds. */
async function settle(cmd) {
  const started = now();
  const quietMs = (cmd.quiet || 30) * 1000;
  const maxMs = (cmd.max || 180) * 1000;
  stats.lastProgress = Math.max(stats.lastProgress, started);
  let outcome = null;
  while (outcome === null) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const live = clients.filter((c) => c.state !== 'gone');
    const settled = live.every((c) => c.state === 'ready' && c.outbox.size === 0 && c.missing().length === 0);
    if (settled) outcome = 'complete';
    else if (now() - stats.lastProgress >= quietMs && live.every((c) => c.state === 'ready')) outcome = 'quiet';
    else if (now() - started >= maxMs) outcome = 'timeout';
  }
  // Repeats still on their way are counted too.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return { outcome, seconds: (now() - started) / 1000, ...snapshot() };
}

/** Everything the report needs: the counts, every lost delivery, the closes. */
async function report() {
  let expected = 0;
  let delivered = 0;
  const lostMessages = new Map(); // "room/seq" -> {room, seq, sent_at, clients}
  const clientsWithLoss = [];
  for (const c of clients) {
    const missing = c.missing();
    const joined = c.joinSeq === null ? 0 : [...c.room.acked.keys()].filter((s) => s > c.joinSeq).length;
    expected += joined;
    delivered += joined - missing.length;
    if (missing.length) clientsWithLoss.push({ client: c.index, room: c.room.slug, state: c.state, lost: missing.length });
    for (const seq of missing) {
      const key = `${c.room.slug}/${seq}`;
      let entry = lostMessages.get(key);
      if (!entry) {
        entry = { room: c.room.slug, seq, sent_at: c.room.acked.get(seq).sentAt, clients: 0 };
        lostMessages.set(key, entry);
      }
      entry.clients++;
    }
  }
  let storedTwice = 0;
  let seqReused = 0;
  let seenNotAcked = 0;
  const duplicateSamples = [];
  for (const room of rooms.values()) {
    storedTwice += room.storedTwice.length;
    seqReused += room.seqReused.length;
    for (const seq of room.idOf.keys()) if (!room.acked.has(seq)) seenNotAcked++;
    for (const d of room.storedTwice.slice(0, 5)) duplicateSamples.push({ room: room.slug, stored_twice: d });
    for (const d of room.seqReused.slice(0, 5)) duplicateSamples.push({ room: room.slug, seq_reused: d });
  }
  let unacked = 0;
  for (const c of clients) unacked += c.outbox.size;
  // Outside the definition of lost (never acknowledged), but a socket of the room
  // missed them all the same: the sender's own socket at least.
  let unackedMissed = 0;
  for (const c of clients) {
    if (c.joinSeq === null) continue;
    for (const seq of c.room.idOf.keys()) {
      if (seq > c.joinSeq && !c.room.acked.has(seq) && !c.have.has(seq)) unackedMissed++;
    }
  }
  return {
    ...snapshot(),
    expected_deliveries: expected,
    delivered_deliveries: delivered,
    lost_deliveries: expected - delivered,
    lost_messages: [...lostMessages.values()].sort((a, b) => a.sent_at - b.sent_at),
    clients_with_loss: clientsWithLoss.length,
    clients_with_loss_sample: clientsWithLoss.slice(0, 20),
    duplicates: storedTwice + seqReused,
    stored_twice: storedTwice,
    seq_reused: seqReused,
    duplicate_samples: duplicateSamples,
    sent_never_acked: unacked,
    seen_never_acked: seenNotAcked,
    seen_never_acked_missed_deliveries: unackedMissed,
    joined: clients.filter((c) => c.joinSeq !== null).length,
    gone: clients.filter((c) => c.state === 'gone').length,
    latency_ms: latency.percentiles(),
    close_log: closeLog,
  };
}

async function closeAll(cmd) {
  const live = clients.filter((c) => c.state === 'ready' || c.state === 'connecting');
  const started = now();
  await new Promise((resolve) => {
    let waiting = live.length;
    if (waiting === 0) { resolve(); return; }
    const timer = setTimeout(resolve, (cmd.timeout || 20) * 1000);
    for (const c of live) {
      c.ws.once('close', () => { if (--waiting === 0) { clearTimeout(timer); resolve(); } });
    }
    for (const c of clients) c.close();
  });
  let terminated = 0;
  for (const c of clients) {
    for (const timer of Object.values(c.timers)) clearTimeout(timer);
    if (c.ws && c.ws.readyState !== WebSocket.CLOSED) { c.ws.terminate(); terminated++; }
  }
  return { closed: live.length, terminated, seconds: (now() - started) / 1000 };
}

const handlers = {
  connect,
  load,
  stop_load: stopLoad,
  stats: async () => snapshot(),
  settle,
  report,
  close: closeAll,
  exit: async () => { setTimeout(() => process.exit(0), 10); return { bye: true }; },
};

serveCommands(handlers);

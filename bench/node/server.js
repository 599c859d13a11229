'use strict';
// The "node" peer of the benchmarks: the minimal WebSocket + Redis pub/sub chat
// server a Node developer would write. One process per port (PORT); every Redis
// message on a room's channel is written to every open socket of that room.
//
// It checks the Origin and that a `sessionid` cookie is present, but looks
// nothing up (no session store, no user, no membership) and stores nothing.

const http = require('http');
const { WebSocketServer } = require('ws');
const Redis = require('ioredis');

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL;
const origin = `http://127.0.0.1:${port}`;

const pub = new Redis(redisUrl);
const sub = new Redis(redisUrl);
const channels = new Map(); // Redis channel -> Set of open sockets

const ROUTE = /^\/ws\/(?:chat\/([A-Za-z0-9_-]+)\/|(notifications)\/)$/;
const COOKIE = /(?:^|;\s*)sessionid=[^;]+/;

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok' : 'not found');
});
const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (req, socket, head) => {
  const route = ROUTE.exec(req.url.split('?')[0]);
  if (!route || req.headers.origin !== origin || !COOKIE.test(req.headers.cookie || '')) {
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const room = route[1];
    const channel = room ? `room:${room}` : 'notifications';
    let members = channels.get(channel);
    if (!members) {
      members = new Set();
      channels.set(channel, members);
    }
    members.add(ws);
    ws.on('close', () => members.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        return;
      }
      if (frame.type === 'send' && room) {
        const message = { room, body: frame.body, client_id: frame.client_id };
        pub.publish(channel, JSON.stringify({ type: 'message', message }));
      } else if (frame.type === 'ping') {
        ws.send('{"type":"pong"}');
      }
    });
  });
});

function deliver(channel, message) {
  const members = channels.get(channel);
  if (members) for (const ws of members) ws.send(message);
}

sub.psubscribe('room:*');
sub.subscribe('notifications');
sub.on('pmessage', (_pattern, channel, message) => deliver(channel, message));
sub.on('message', deliver);

server.listen(port, '127.0.0.1', () => console.log(`node peer on ${origin}`));
process.on('SIGTERM', () => process.exit(0));

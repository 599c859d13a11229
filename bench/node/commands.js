'use strict';
// The line protocol between a bench driver (Python) and a Node load script:
// one JSON command a line on stdin, run one at a time in order; each answered
// with one JSON line `{done: true, ok, cmd, result | error}` on stdout.

const readline = require('readline');

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function serveCommands(handlers) {
  let queue = Promise.resolve();
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (!line.trim()) return;
    queue = queue.then(async () => {
      let cmd;
      try {
        cmd = JSON.parse(line);
        const result = await handlers[cmd.cmd](cmd);
        out({ done: true, ok: true, cmd: cmd.cmd, result });
      } catch (err) {
        out({ done: true, ok: false, cmd: cmd && cmd.cmd, error: String((err && err.stack) || err) });
      }
    });
  }).on('close', () => process.exit(0));
}

module.exports = { out, serveCommands };

// "Seen by alice, bob and 3 others" under the room's newest message, in rooms
// small enough for the server to share read positions (docs/protocol.md). It
// hears the room's socket through room.js's `room:frame` events.

import { readJson } from "./config.js";
import { ReadPositions, seenByText } from "./read-positions.js";

const me = readJson("room-config").user;
const line = document.getElementById("seen-by");
const positions = new ReadPositions();
let shared = false; // the room shares read positions (hello said so)
let newest = null; // { seq, authorId } of the newest message

function noteMessage(message) {
  if (!newest || message.seq > newest.seq) newest = { seq: message.seq, authorId: message.author.id };
}

function show() {
  // Neither the reader nor the author needs telling that they have seen it.
  const names = shared && newest ? positions.readersOf(newest.seq, [me.id, newest.authorId]) : [];
  line.textContent = seenByText(names);
  line.hidden = names.length === 0;
}

const handlers = {
  hello(frame) {
    shared = Array.isArray(frame.read_positions);
    positions.reset(frame.read_positions || []);
    (frame.messages || []).forEach(noteMessage);
    show();
  },
  message(frame) {
    noteMessage(frame.message);
    show();
  },
  read(frame) {
    positions.move(frame.user, frame.seq);
    show();
  },
};

const rendered = document.querySelectorAll("#messages li.message[data-seq]");
if (rendered.length) {
  const last = rendered[rendered.length - 1];
  newest = { seq: Number(last.dataset.seq), authorId: Number(last.dataset.authorId) };
}
document.addEventListener("room:frame", (event) => {
  const frame = event.detail;
  if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
});

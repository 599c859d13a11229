/* One way for every socket of the page to notice a dead connection: ping now
 * and then, and give up on a socket that does not answer in time. A half-open
 * connection (a laptop waking up, a NAT that forgot us) looks open to the
 * browser forever; only a missing pong tells. The server closes a socket that
 * sends nothing for 90 s, so the ping also keeps an idle one open. */
(function () {
  "use strict";

  var PING_EVERY_MS = 25000;
  var PONG_WAIT_MS = 10000;

  // Ping on `socket` through `send` (returns whether it went out); call `onDead`
  // once when a pong is late. Returns {pong(), stop()}.
  window.RelayHeartbeat = function (send, onDead) {
    var pongTimer = null;
    var dead = false;
    var pingTimer = window.setInterval(function () {
      if (dead || !send({ type: "ping" })) return;
      if (pongTimer === null) {
        pongTimer = window.setTimeout(function () {
          dead = true;
          stop();
          onDead();
        }, PONG_WAIT_MS);
      }
    }, PING_EVERY_MS);

    function stop() {
      window.clearInterval(pingTimer);
      window.clearTimeout(pongTimer);
      pongTimer = null;
    }

    return {
      pong: function () {
        window.clearTimeout(pongTimer);
        pongTimer = null;
      },
      stop: stop
    };
  };
})();

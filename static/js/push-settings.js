// The settings page's push widget (templates/notifications/_push_settings.html):
// turns Web Push on or off for this browser, and allows desktop notifications
// for background tabs (static/js/desktop-notify.js). The browser's permission
// is asked only when the user clicks. #push-config (json_script) holds the
// server's VAPID public key, the subscribe/unsubscribe URLs and the endpoints
// the server holds for this user; {"enabled": false} when it has no keys.

import { gettext } from "./i18n.js";

const SERVICE_WORKER = "/sw.js";

/** The VAPID public key (base64url) as the bytes pushManager.subscribe takes. */
export function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
}

/** Whether a subscription was made with `key` (a rotated server key needs a new one). */
export function sameKey(subscription, key) {
  const used = subscription && subscription.options && subscription.options.applicationServerKey;
  if (!used) return true;
  const bytes = new Uint8Array(used);
  const wanted = keyBytes(key);
  return bytes.length === wanted.length && bytes.every((byte, i) => byte === wanted[i]);
}

/**
 * What the push part shows: {text, subscribe, unsubscribe} (which buttons).
 * supported: the browser has service workers, PushManager and Notification.
 */
export function pushView({ enabled, supported, permission, subscribed }) {
  if (!enabled) return { text: gettext("Push notifications are not set up on this server."), subscribe: false, unsubscribe: false };
  if (!supported) return { text: gettext("This browser can't receive push notifications."), subscribe: false, unsubscribe: false };
  if (permission === "denied") {
    return {
      text: gettext("Notifications are blocked for this site in your browser's settings."),
      subscribe: false,
      unsubscribe: subscribed,
    };
  }
  if (subscribed) return { text: gettext("On for this browser."), subscribe: false, unsubscribe: true };
  return { text: gettext("Off for this browser."), subscribe: true, unsubscribe: false };
}

/** What the desktop part shows: {text, allow} (whether the "Allow" button is offered). */
export function desktopView({ supported, permission }) {
  if (!supported) return { text: gettext("This browser can't show desktop notifications."), allow: false };
  if (permission === "granted") return { text: gettext("Allowed in this browser."), allow: false };
  if (permission === "denied") return { text: gettext("Blocked for this site in your browser's settings."), allow: false };
  return { text: gettext("Not allowed yet in this browser."), allow: true };
}

function start() {
  const root = document.getElementById("push-settings");
  if (!root) return;
  const configElement = document.getElementById("push-config");
  const config = configElement ? JSON.parse(configElement.textContent) : { enabled: false };
  const el = {
    status: document.getElementById("push-status"),
    subscribe: document.getElementById("push-subscribe"),
    unsubscribe: document.getElementById("push-unsubscribe"),
    error: document.getElementById("push-error"),
    desktopStatus: document.getElementById("desktop-status"),
    allow: document.getElementById("desktop-allow"),
  };
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const notifications = "Notification" in window;
  const supported = "serviceWorker" in navigator && "PushManager" in window && notifications;
  let registration = null;
  let subscription = null;

  function draw() {
    const permission = notifications ? Notification.permission : "denied";
    const push = pushView({ enabled: config.enabled, supported, permission, subscribed: Boolean(subscription) });
    el.status.textContent = push.text;
    el.subscribe.hidden = !push.subscribe;
    el.unsubscribe.hidden = !push.unsubscribe;
    const desktop = desktopView({ supported: notifications, permission });
    el.desktopStatus.textContent = desktop.text;
    el.allow.hidden = !desktop.allow;
    root.dataset.state = subscription ? "subscribed" : "unsubscribed";
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = !text;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      let reason = gettext("The server said %(status)s.", { status: response.status });
      try {
        reason = (await response.json()).error || reason;
      } catch {
        // Not JSON: keep the status.
      }
      throw new Error(reason);
    }
  }

  async function subscribe() {
    // Asked here, on the click, never on page load.
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return;
    registration = registration || (await navigator.serviceWorker.register(SERVICE_WORKER, { scope: "/" }));
    let current = await registration.pushManager.getSubscription();
    if (current && !sameKey(current, config.publicKey)) {
      await current.unsubscribe();
      current = null;
    }
    current =
      current ||
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(config.publicKey) }));
    await post(config.subscribeUrl, current.toJSON());
    subscription = current;
  }

  async function unsubscribe() {
    if (!subscription) return;
    await post(config.unsubscribeUrl, { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
    subscription = null;
  }

  function action(button, work) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      showError("");
      try {
        await work();
      } catch (error) {
        showError(gettext("That didn't work: %(error)s", { error: error.message || error }));
      } finally {
        button.disabled = false;
        draw();
      }
    });
  }

  action(el.subscribe, subscribe);
  action(el.unsubscribe, unsubscribe);
  action(el.allow, () => Notification.requestPermission());

  (async () => {
    if (config.enabled && supported) {
      try {
        // Already registered (a push was turned on before): nothing is asked.
        registration = (await navigator.serviceWorker.getRegistration("/")) || null;
        const current = registration ? await registration.pushManager.getSubscription() : null;
        // On here only if the server has it for this user: someone else may have
        // used this browser last, or the server dropped it. "Turn on" then
        // stores the same subscription again.
        subscription = current && (config.endpoints || []).includes(current.endpoint) ? current : null;
      } catch (error) {
        showError(gettext("That didn't work: %(error)s", { error: error.message || error }));
      }
    }
    draw();
  })();
}

if (typeof document !== "undefined") start();

// The service worker, served at /sw.js (scope: the whole site) by
// notifications.push_views.service_worker. It shows a Web Push message as a
// notification and, on a click, focuses a tab of the app already at that page
// or opens one. The payload is the contract's JSON (docs/protocol.md):
// {"title", "body", "url" (a site path), "kind", "id", "tag"}.

const FALLBACK_TITLE = "Relay";
const FALLBACK_PATH = "/notifications/";

// Only a path on this site: never let a payload send a click somewhere else.
function sitePath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\")
    ? url
    : "";
}

function readPayload(event) {
  if (!event.data) return {};
  try {
    const data = event.data.json();
    return data && typeof data === "object" ? data : {};
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener("install", () => {
  // A new version takes over at once: it holds no caches to migrate.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", (event) => {
  const data = readPayload(event);
  const title = typeof data.title === "string" && data.title ? data.title : FALLBACK_TITLE;
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    data: { url: sitePath(data.url) || FALLBACK_PATH, id: data.id },
  };
  if (typeof data.tag === "string" && data.tag) {
    // A grouped notification that grew replaces the one on screen, and says so.
    options.tag = data.tag;
    options.renotify = true;
  }
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = sitePath(event.notification.data && event.notification.data.url) || FALLBACK_PATH;
  const target = new URL(path, self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const same = windows.find((client) => {
        const at = new URL(client.url);
        return at.origin === target.origin && at.pathname + at.search === target.pathname + target.search;
      });
      if (same) return same.focus();
      return self.clients.openWindow(target.href);
    })(),
  );
});

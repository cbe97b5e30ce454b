// The crew tablet's service worker: keeps the page's shell (HTML, script, style, manifest) so
// the tablet opens without signal. Network first (a new release shows when online), the
// cached copy when the network fails. API calls and websockets are never touched: what the
// crew does offline waits in the page's own queue (tablet.js).
"use strict";

const CACHE = "jijiu-tablet-v1";
const SHELL = ["/tablet", "/static/tablet.js", "/static/tablet.css", "/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((answer) => {
        if (answer.ok) {
          const copy = answer.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return answer;
      })
      .catch(() => caches.match(url.pathname)),
  );
});

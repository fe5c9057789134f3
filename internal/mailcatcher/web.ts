import type { IncomingMessage, ServerResponse } from "node:http";
import type { MessageStore } from "./message-store.js";
import { renderList, renderMessage, renderNotFound } from "./pages.js";

// Pages never need scripts; remote images are blocked too, which keeps tracking pixels in caught mail
// from calling home. The sandboxed srcdoc iframe inherits this policy.
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  res.end(JSON.stringify(body));
}

function sendPage(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, PAGE_HEADERS);
  res.end(html);
}

/**
 * Routes: GET / (list page), GET /messages/:id (one message), GET /api/messages[?to=addr],
 * GET /api/messages/:id, GET /api/messages/:id/raw, DELETE /api/messages, DELETE /api/messages/:id.
 */
export function createWebHandler(store: MessageStore) {
  return (req: IncomingMessage, res: ServerResponse) => {
    try {
      route(store, req, res);
    } catch {
      // Malformed URLs (bad percent-encoding) must not take the process down.
      if (!res.headersSent) sendJson(res, 400, { error: "bad request" });
      else res.destroy();
    }
  };
}

function route(store: MessageStore, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://mailcatcher");
  const path = url.pathname;
  const method = req.method ?? "GET";
  const read = method === "GET" || method === "HEAD";

  if (path === "/" && read) return sendPage(res, 200, renderList(store.list()));

  const page = /^\/messages\/([^/]+)$/.exec(path);
  if (page && read) {
    const m = store.get(decodeURIComponent(page[1]));
    return m ? sendPage(res, 200, renderMessage(m)) : sendPage(res, 404, renderNotFound());
  }

  if (path === "/api/messages") {
    if (read) {
      const to = url.searchParams.get("to")?.toLowerCase();
      const list = store.list();
      const matches = to
        ? list.filter((m) => [...m.to, ...m.cc, ...m.envelope.to].some((a) => a.toLowerCase() === to))
        : list;
      return sendJson(res, 200, matches);
    }
    if (method === "DELETE") {
      store.clear();
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { error: "method not allowed" });
  }

  const api = /^\/api\/messages\/([^/]+)(\/raw)?$/.exec(path);
  if (api) {
    const id = decodeURIComponent(api[1]);
    if (read && api[2]) {
      const raw = store.raw(id);
      if (!raw) return sendJson(res, 404, { error: "not found" });
      res.writeHead(200, {
        "content-type": "message/rfc822",
        "content-disposition": `inline; filename="${id.replace(/[^A-Za-z0-9_-]/g, "")}.eml"`,
        "x-content-type-options": "nosniff",
        "content-length": raw.length,
      });
      res.end(raw);
      return;
    }
    if (read) {
      const m = store.get(id);
      return m ? sendJson(res, 200, m) : sendJson(res, 404, { error: "not found" });
    }
    if (method === "DELETE" && !api[2]) {
      return store.remove(id) ? void res.writeHead(204).end() : sendJson(res, 404, { error: "not found" });
    }
    return sendJson(res, 405, { error: "method not allowed" });
  }

  return sendJson(res, 404, { error: "not found" });
}

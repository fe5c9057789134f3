import type http from "node:http";

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface HttpRoute {
  /** Path prefix, e.g. "/l/" or an exact path like "/healthz". */
  prefix: string;
  exact?: boolean;
  handle: HttpHandler;
}

/**
 * Routes the HTTP/1.1 listener: plain pages and probes by path prefix, everything else to Connect.
 * Kept tiny on purpose; the paths are few and fixed.
 */
export function createHttpHandler(routes: HttpRoute[], fallback: HttpHandler): HttpHandler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const r = routes.find((x) => (x.exact ? path === x.prefix : path.startsWith(x.prefix)));
    const h = r ? r.handle : fallback;
    Promise.resolve(h(req, res)).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      }
      res.end("internal error");
      req.socket.emit("handler-error", err);
    });
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const s = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s), "cache-control": "no-store" });
  res.end(s);
}

export function sendHtml(res: http.ServerResponse, status: number, html: string, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    ...headers,
  });
  res.end(html);
}

/** Escapes text for HTML bodies and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

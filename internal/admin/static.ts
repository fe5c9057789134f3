import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRoute } from "../server/http-routes.js";
import { sendHtml } from "../server/http-routes.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The panel's own scripts only; previews of mail render in an iframe with sandbox="" (no scripts, no
 * same origin) that inherits this policy, so mail images over https show and nothing else loads.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/**
 * web/admin/dist of the checkout this module runs from (internal/admin or dist/internal/admin), found
 * by the panel's sources, so a build made after the server started is served too.
 */
export function findAdminDist(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "web", "admin", "index.html"))) return join(dir, "web", "admin", "dist");
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * Serves the built panel at /admin/. Hashed assets are cached for a year; index.html never, so a new
 * build reaches browsers at once. Paths without an extension are the app's own routes (index.html).
 */
export function createStaticRoute(dir: string | undefined): HttpRoute {
  const root = dir ? resolve(dir) : undefined;
  return {
    prefix: "/admin",
    async handle(req, res) {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/admin") {
        res.writeHead(301, { location: "/admin/" });
        res.end();
        return;
      }
      if (!path.startsWith("/admin/") || (req.method !== "GET" && req.method !== "HEAD")) {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found");
        return;
      }
      if (!root || !existsSync(join(root, "index.html"))) {
        sendHtml(res, 503, "<!doctype html><title>Admin</title><p>The admin panel is not built: run <code>npm run build:admin</code>.</p>");
        return;
      }
      let rel: string;
      try {
        rel = normalize(decodeURIComponent(path.slice("/admin/".length)));
      } catch {
        rel = "";
      }
      let file = resolve(root, rel);
      if (file !== root && !file.startsWith(root + sep)) file = root;
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) {
        if (extname(rel)) {
          res.writeHead(404, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
          res.end("not found");
          return;
        }
        file = join(root, "index.html");
      }
      const body = await readFile(file);
      const immutable = file.startsWith(join(root, "assets") + sep);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-length": body.length,
        "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
        ...SECURITY_HEADERS,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}

import type { HttpRoute } from "../server/http-routes.js";
import { sendHtml } from "../server/http-routes.js";
import type { Logger } from "../log/logger.js";
import type { Links } from "./links.js";

const page = (title: string, text: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#18181b">
<h1 style="font-size:1.5rem">${title}</h1><p>${text}</p></body></html>`;

// One page for unknown, forged, tampered and expired codes alike: no hint which it was.
const NOT_FOUND = page("Link not found", "This link does not exist or has expired.");
const TRY_AGAIN = page("Please try again", "We could not confirm your email just now. Please try the link again in a minute.");

// The code is in the path: the target must not receive it in a Referer header.
const PRIVATE = { "referrer-policy": "no-referrer" };

/** GET /l/{code}: 302 to the link's target, the same 404 for every bad link, 503 when the user service is down. */
export function createLinkRoute(links: Links, log: Logger): HttpRoute {
  return {
    prefix: "/l/",
    async handle(req, res) {
      if (req.method !== "GET") {
        sendHtml(res, 405, page("Method not allowed", "Open this link in a browser."), { allow: "GET", ...PRIVATE });
        return;
      }
      const code = (req.url ?? "").split("?")[0].slice("/l/".length);
      let v;
      try {
        v = await links.visit(code);
      } catch (err) {
        log.error({ err: (err as Error).message }, "link visit failed");
        v = { kind: "unavailable" as const };
      }
      if (v.kind === "redirect") {
        res.writeHead(302, { location: v.url, "cache-control": "no-store", "content-length": 0, ...PRIVATE });
        res.end();
      } else if (v.kind === "not_found") {
        sendHtml(res, 404, NOT_FOUND, PRIVATE);
      } else {
        sendHtml(res, 503, TRY_AGAIN, { "retry-after": "30", ...PRIVATE });
      }
    },
  };
}

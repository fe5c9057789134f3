import type http from "node:http";
import type { Logger } from "../log/logger.js";
import { escapeHtml, sendHtml, type HttpRoute } from "../server/http-routes.js";
import type { Db } from "../store/db.js";
import { CATEGORIES } from "../template/index.js";
import { LOCKED_CATEGORY } from "./rules.js";
import { categoryOff, updatePrefs } from "./store.js";
import { addSuppression } from "./suppression.js";
import { findToken, markTokenUsed, type StoredToken } from "./tokens.js";

export interface UnsubscribeDeps {
  db: Db;
  log: Logger;
  /** Every channel a category can be turned off on. */
  channels: () => readonly string[];
}

type Scope = "category" | "all";

const TEXT = {
  en: {
    title: "Unsubscribe",
    ask: (c: string) => `Do you want to stop receiving ${c} messages from Cinema Online?`,
    one: (c: string) => `Unsubscribe from ${c} messages`,
    all: "Turn off all notifications",
    allNote: "Account and security messages (such as email confirmation) are still sent.",
    doneOne: (c: string) => `You will no longer receive ${c} messages.`,
    doneAll: "All notifications are off. You will still get account and security messages.",
    missing: "This link is not valid. It may have expired.",
  },
  ru: {
    title: "Отписка",
    ask: (c: string) => `Больше не получать сообщения категории «${c}» от Онлайн-кинотеатра?`,
    one: (c: string) => `Отписаться от категории «${c}»`,
    all: "Отключить все уведомления",
    allNote: "Сообщения об аккаунте и безопасности (например, подтверждение почты) будут приходить.",
    doneOne: (c: string) => `Сообщения категории «${c}» больше не будут приходить.`,
    doneAll: "Все уведомления отключены. Сообщения об аккаунте и безопасности будут приходить.",
    missing: "Ссылка недействительна. Возможно, срок её действия истёк.",
  },
};

const CATEGORY_NAMES: Record<string, { en: string; ru: string }> = {
  marketing: { en: "news and offers", ru: "новости и предложения" },
  service: { en: "service", ru: "сервисные" },
  transactional: { en: "account", ru: "аккаунт" },
};

const lang = (locale: string) => (locale.toLowerCase().startsWith("ru") ? "ru" : "en");

function page(locale: string, title: string, body: string): string {
  return `<!doctype html><html lang="${lang(locale)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>body{font-family:Arial,Helvetica,sans-serif;background:#f4f4f5;color:#18181b;margin:0;padding:40px 12px}
main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:32px}
button{font-size:16px;padding:10px 18px;border-radius:6px;border:0;cursor:pointer;background:#111827;color:#fff;margin:8px 0}
button.secondary{background:#e4e4e7;color:#18181b}small{color:#71717a}</style></head>
<body><main>${body}</main></body></html>`;
}

const HEADERS = { "referrer-policy": "no-referrer", "x-robots-tag": "noindex" };

function notFound(res: http.ServerResponse) {
  sendHtml(res, 404, page("en", "Not found", `<p>${TEXT.en.missing}</p><p lang="ru">${TEXT.ru.missing}</p>`), HEADERS);
}

async function readBody(req: http.IncomingMessage, max = 8192): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) break;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * What the POST asks for. Mail clients send RFC 8058's `List-Unsubscribe=One-Click` (form-encoded
 * or multipart); our page's second button adds scope=all. Anything else turns off the category:
 * only people and mail providers POST, link scanners only GET.
 */
function scopeOf(body: string, contentType: string): Scope {
  if (contentType.includes("multipart/form-data")) return /name="?scope"?\r?\n\r?\nall\b/.test(body) ? "all" : "category";
  return new URLSearchParams(body).get("scope") === "all" ? "all" : "category";
}

/** Applies an unsubscribe: a user's preferences change; a bare address is suppressed instead. */
export async function applyUnsubscribe(d: UnsubscribeDeps, t: StoredToken, scope: Scope): Promise<void> {
  if (t.userId) {
    await updatePrefs(d.db, t.userId, scope === "all" ? { allOff: true } : { switches: categoryOff(t.category, d.channels()) });
    return;
  }
  const categories = scope === "all" ? CATEGORIES.filter((c) => c !== LOCKED_CATEGORY) : [t.category];
  for (const c of categories) {
    await addSuppression(d.db, { address: t.address, scope: c, reason: "unsubscribe", detail: `delivery ${t.deliveryId}` });
  }
}

/** GET /u/{token} shows the choice (and never changes anything); POST /u/{token} unsubscribes. */
export function createUnsubscribeRoute(d: UnsubscribeDeps): HttpRoute {
  return {
    prefix: "/u/",
    async handle(req, res) {
      const path = (req.url ?? "").split("?")[0];
      const token = decodeURIComponent(path.slice("/u/".length));
      const method = req.method ?? "GET";
      if (!["GET", "HEAD", "POST"].includes(method)) {
        res.writeHead(405, { allow: "GET, HEAD, POST" }).end();
        return;
      }
      const t = await findToken(d.db, token);
      if (!t || t.category === LOCKED_CATEGORY) return notFound(res);
      const l = lang(t.locale);
      const txt = TEXT[l];
      const cat = CATEGORY_NAMES[t.category]?.[l] ?? t.category;
      if (method === "POST") {
        const scope = scopeOf(await readBody(req), String(req.headers["content-type"] ?? ""));
        await applyUnsubscribe(d, t, scope);
        await markTokenUsed(d.db, token);
        d.log.info({ deliveryId: t.deliveryId, category: t.category, scope }, "unsubscribed");
        sendHtml(res, 200, page(t.locale, txt.title, `<p>${escapeHtml(scope === "all" ? txt.doneAll : txt.doneOne(cat))}</p>`), HEADERS);
        return;
      }
      const action = `/u/${encodeURIComponent(token)}`;
      sendHtml(
        res,
        200,
        page(
          t.locale,
          txt.title,
          `<h1>${escapeHtml(txt.title)}</h1><p>${escapeHtml(txt.ask(cat))}</p>
<form method="post" action="${action}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">${escapeHtml(txt.one(cat))}</button></form>
<form method="post" action="${action}"><input type="hidden" name="scope" value="all">
<button type="submit" class="secondary">${escapeHtml(txt.all)}</button></form>
<p><small>${escapeHtml(txt.allNote)}</small></p>`,
        ),
        HEADERS,
      );
    },
  };
}

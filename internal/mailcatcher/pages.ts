import type { CaughtMessage } from "./message-store.js";

// Caught mail is untrusted input: every value is escaped, and the HTML body is shown only inside an
// iframe with an empty sandbox (no scripts, no forms, opaque origin) fed through srcdoc.

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:.35rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr:hover td{background:#fafafa}a{color:#0b5cad;text-decoration:none}
.muted{color:#777}pre{white-space:pre-wrap;background:#f8f8f8;padding:.8rem;border:1px solid #eee}
iframe{width:100%;height:60vh;border:1px solid #ccc}h2{margin-top:1.5rem}.hdr td:first-child{white-space:nowrap;font-weight:600}`;

function layout(title: string, body: string, extraHead = ""): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>${extraHead}
<style>${STYLE}</style></head><body>${body}</body></html>`;
}

export function renderList(messages: CaughtMessage[]): string {
  const rows = messages
    .map(
      (m) => `<tr><td class="muted">${escapeHtml(m.date)}</td><td>${escapeHtml(m.from)}</td>
<td>${escapeHtml(m.to.join(", "))}</td>
<td><a href="/messages/${encodeURIComponent(m.id)}">${escapeHtml(m.subject || "(no subject)")}</a></td></tr>`,
    )
    .join("\n");
  const body = `<h1>mailcatcher</h1>
<p class="muted">${messages.length} message(s), newest first. JSON: <a href="/api/messages">/api/messages</a>. Refreshes every 5 s.</p>
<table><thead><tr><th>Date</th><th>From</th><th>To</th><th>Subject</th></tr></thead>
<tbody>${rows || `<tr><td colspan="4" class="muted">No mail yet.</td></tr>`}</tbody></table>`;
  return layout("mailcatcher", body, `<meta http-equiv="refresh" content="5">`);
}

export function renderMessage(m: CaughtMessage): string {
  const id = encodeURIComponent(m.id);
  const headerRows = Object.entries(m.headers)
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v).replace(/\n/g, "<br>")}</td></tr>`)
    .join("\n");
  const attachments = m.attachments.length
    ? `<h2>Attachments</h2><ul>${m.attachments
        .map((a) => `<li>${escapeHtml(a.filename || "(unnamed)")} <span class="muted">${escapeHtml(a.contentType)}, ${a.size} B</span></li>`)
        .join("")}</ul>`
    : "";
  const body = `<p><a href="/">&larr; all messages</a> &middot; <a href="/api/messages/${id}">JSON</a> &middot;
<a href="/api/messages/${id}/raw">raw source</a></p>
<h1>${escapeHtml(m.subject || "(no subject)")}</h1>
<table class="hdr">
<tr><td>From</td><td>${escapeHtml(m.from)}</td></tr>
<tr><td>To</td><td>${escapeHtml(m.to.join(", "))}</td></tr>
<tr><td>Date</td><td>${escapeHtml(m.date)}</td></tr>
<tr><td>Message-ID</td><td>${escapeHtml(m.messageId)}</td></tr>
<tr><td>Envelope</td><td>${escapeHtml(m.envelope.from)} &rarr; ${escapeHtml(m.envelope.to.join(", "))}</td></tr>
</table>
${m.html !== null ? `<h2>HTML</h2><iframe sandbox="" referrerpolicy="no-referrer" srcdoc="${escapeHtml(m.html)}"></iframe>` : ""}
${m.text !== null ? `<h2>Text</h2><pre>${escapeHtml(m.text)}</pre>` : ""}
${attachments}
<h2>Headers</h2><table class="hdr">${headerRows}</table>`;
  return layout(m.subject || "message", body);
}

export function renderNotFound(): string {
  return layout("not found", `<p>No such message. <a href="/">All messages</a></p>`);
}

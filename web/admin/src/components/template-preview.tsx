import { useEffect, useRef, useState } from "react";
import type { TemplateServicePreviewResponse } from "../../../../gen/notify/v1/template_service_pb.js";
import { errorText, templates } from "../api.js";
import { useT } from "../i18n.js";
import { toContents, toVariables, type Draft } from "../template-model.js";
import { Card, ErrorBox } from "./ui.js";

/**
 * Renders the unsaved draft on the server as one types (the same renderer as real mail). The html
 * goes into an iframe with sandbox="" — no scripts, no same origin — so nothing in a template can
 * reach the panel or its session.
 */
export function TemplatePreview({ draft, locale }: { draft: Draft; locale: string }) {
  const t = useT();
  const [userId, setUserId] = useState("");
  const [channel, setChannel] = useState("");
  const [result, setResult] = useState<TemplateServicePreviewResponse>();
  const [error, setError] = useState<string>();
  const seq = useRef(0);
  const ch = draft.channels.includes(channel) ? channel : (draft.channels[0] ?? "email");

  useEffect(() => {
    const n = ++seq.current;
    const id = setTimeout(async () => {
      try {
        const r = await templates().preview({
          locale,
          userId: userId.trim(),
          channel: ch,
          draft: {
            channels: draft.channels,
            defaultLocale: draft.defaultLocale,
            variables: toVariables(draft),
            contents: toContents(draft),
            layout: draft.layout,
            category: draft.category,
          },
        });
        if (n === seq.current) {
          setResult(r);
          setError(undefined);
        }
      } catch (err) {
        if (n === seq.current) setError(errorText(err));
      }
    }, 300);
    return () => clearTimeout(id);
  }, [draft, locale, userId, ch]);

  const parts = result?.parts ?? {};
  return (
    <Card
      title={t("Preview")}
      actions={
        <>
          <select aria-label={t("Channel")} value={ch} onChange={(e) => setChannel(e.target.value)}>
            {draft.channels.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
          <input aria-label={t("Preview as user id")} placeholder={t("Preview as user id")} size={14} value={userId} onChange={(e) => setUserId(e.target.value)} />
        </>
      }
    >
      <ErrorBox error={error} />
      {result && result.problems.length > 0 && (
        <div className="problems" data-testid="preview-problems">
          <b>{t("Problems")}:</b>
          <ul>
            {result.problems.map((p, i) => (
              <li key={i}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {(parts.subject ?? parts.title) !== undefined && (
        <p className="preview-subject" data-testid="preview-subject">
          {parts.subject ?? parts.title}
        </p>
      )}
      {parts.html !== undefined && <iframe title="html preview" className="preview-frame" sandbox="" srcDoc={parts.html} data-testid="preview-html" />}
      {Object.entries(parts)
        .filter(([k]) => k !== "html" && k !== "subject" && k !== "title")
        .map(([k, v]) => (
          <details key={k} open={k !== "text" || parts.html === undefined}>
            <summary>{k}</summary>
            <pre className="preview-text" data-testid={`preview-${k}`}>
              {v}
            </pre>
          </details>
        ))}
    </Card>
  );
}

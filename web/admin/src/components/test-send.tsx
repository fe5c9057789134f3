import type { JsonObject } from "@bufbuild/protobuf";
import { useState, type FormEvent } from "react";
import { errorText, notifications } from "../api.js";
import { useT } from "../i18n.js";
import { Link } from "../router.js";
import { Card, ErrorBox } from "./ui.js";

function randomKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return `admin-test-${[...b].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

/** Sends the shown version to one address through the normal Send path, with the sample data. */
export function TestSend(p: { templateKey: string; version: number; locale: string; data: JsonObject; canSend: boolean }) {
  const t = useT();
  const [to, setTo] = useState("");
  const [sent, setSent] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setSent(undefined);
    try {
      const r = await notifications().send({
        idempotencyKey: randomKey(),
        template: p.templateKey,
        templateVersion: p.version,
        recipients: [{ target: { case: "email", value: to.trim() } }],
        channels: ["email"],
        locale: p.locale,
        data: p.data,
      });
      setSent(r.notificationId);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title={`${t("Send a test")} (v${p.version}, ${p.locale})`}>
      <form className="inline-form" onSubmit={send}>
        <input type="email" required aria-label={t("Address")} placeholder="you@example.com" value={to} disabled={!p.canSend} onChange={(e) => setTo(e.target.value)} />
        <button type="submit" disabled={!p.canSend || busy}>
          {t("Send test")}
        </button>
      </form>
      <ErrorBox error={error} />
      {sent && (
        <p className="notice" role="status">
          {t("Test sent")}: <Link to={`/notifications/${sent}`}>{sent}</Link>
        </p>
      )}
    </Card>
  );
}

import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ReactNode } from "react";
import { DeliveryStatus } from "../../../../gen/notify/v1/notification_service_pb.js";
import { useT } from "../i18n.js";

export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const d = timestampDate(ts);
  return d.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function ErrorBox({ error }: { error?: string }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {error}
    </div>
  );
}

export function Notice({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <div className="notice" role="status">
      {text}
    </div>
  );
}

export function ReadOnlyNote({ show }: { show: boolean }) {
  const t = useT();
  if (!show) return null;
  return <p className="muted readonly-note">{t("Read only: your role cannot change this.")}</p>;
}

export function Card({ title, actions, children }: { title?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function Field({ label, children, wide }: { label: string; children: ReactNode; wide?: boolean }) {
  return (
    <label className={wide ? "field wide" : "field"}>
      <span>{label}</span>
      {children}
    </label>
  );
}

const STATUS_CLASS: Record<number, string> = {
  [DeliveryStatus.SENT]: "ok",
  [DeliveryStatus.DELIVERED]: "ok",
  [DeliveryStatus.READ]: "ok",
  [DeliveryStatus.FAILED]: "bad",
  [DeliveryStatus.DEAD]: "bad",
  [DeliveryStatus.SKIPPED]: "warn",
  [DeliveryStatus.CANCELLED]: "warn",
};

export function statusName(s: DeliveryStatus): string {
  return (DeliveryStatus[s] ?? String(s)).toLowerCase();
}

export function StatusBadge({ status }: { status: DeliveryStatus }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ""}`}>{statusName(status)}</span>;
}

export function Badge({ kind, children }: { kind?: "ok" | "bad" | "warn"; children: ReactNode }) {
  return <span className={`badge ${kind ?? ""}`}>{children}</span>;
}

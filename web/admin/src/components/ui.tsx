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

/** A labelled input; `group` for several inputs (checkboxes, radios) that carry their own labels. */
export function Field({ label, children, wide, group }: { label: string; children: ReactNode; wide?: boolean; group?: boolean }) {
  const cls = wide ? "field wide" : "field";
  if (group) {
    return (
      <div className={cls} role="group" aria-label={label}>
        <span>{label}</span>
        {children}
      </div>
    );
  }
  return (
    <label className={cls}>
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

/** The panel's mark: a film frame with a bell, drawn inline (no emoji font needed on servers). */
export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
      <rect x="2" y="4" width="20" height="16" rx="2" fill="none" stroke="currentColor" strokeWidth="2" />
      <path d="M6 4v16M18 4v16" stroke="currentColor" strokeWidth="1.5" strokeDasharray="2 2" />
      <path d="M12 8a3 3 0 0 1 3 3v2l1 1.5H8L9 13v-2a3 3 0 0 1 3-3z" fill="currentColor" />
    </svg>
  );
}

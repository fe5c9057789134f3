import { useCallback, useEffect, useState, type ComponentType } from "react";
import type { AdminServiceGetDashboardResponse } from "../../../../gen/notify/v1/admin_service_pb.js";
import { admin, errorText } from "../api.js";
import { HourlyChart } from "../components/chart.js";
import { Badge, Card, ErrorBox } from "../components/ui.js";
import { useT } from "../i18n.js";

type Readiness = { ready: boolean; checks: Record<string, unknown> };

const REFRESH_MS = 10_000;

/** A closed breaker is healthy; a closed connection is not. */
function checkKind(key: string, v: string): "ok" | "bad" | "warn" {
  if (/^(up|running|ok|true)$/i.test(v) || (v === "closed" && !/^nats/.test(key))) return "ok";
  if (/half/i.test(v)) return "warn";
  if (/open|down|closed|fail|paused|false/i.test(v)) return "bad";
  return "warn";
}

/** /readyz checks as "name: state" rows; breakers report objects whose `state` is what matters. */
function flatten(prefix: string, v: unknown, out: [string, string, string][]) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.state === "string") out.push([prefix, o.state, JSON.stringify(o)]);
    else for (const [k, x] of Object.entries(o)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    out.push([prefix, s, s]);
  }
}

function HealthList({ r }: { r: Readiness }) {
  const rows: [string, string, string][] = [];
  flatten("", r.checks, rows);
  return (
    <ul className="health">
      {rows.map(([k, v, detail]) => (
        <li key={k} title={detail}>
          <span>{k}</span> <Badge kind={checkKind(k, v)}>{v}</Badge>
        </li>
      ))}
    </ul>
  );
}

export function DashboardPage({ widgets }: { widgets: ComponentType[] }) {
  const t = useT();
  const [data, setData] = useState<AdminServiceGetDashboardResponse>();
  const [ready, setReady] = useState<Readiness>();
  const [error, setError] = useState<string>();

  const load = useCallback(async () => {
    try {
      const [d, r] = await Promise.all([
        admin().getDashboard({ hours: 24 }),
        fetch("/readyz", { cache: "no-store" }).then((x) => x.json() as Promise<Readiness>),
      ]);
      setData(d);
      setReady(r);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  }, []);

  useEffect(() => {
    void load();
    const id = setInterval(load, REFRESH_MS);
    return () => clearInterval(id);
  }, [load]);

  const total = (k: string) => Number(data?.totals[k] ?? 0n);
  return (
    <div className="page">
      <h1>{t("Dashboard")}</h1>
      <ErrorBox error={error} />
      <div className="stats">
        {(["sent", "failed", "skipped", "dead"] as const).map((k) => (
          <div key={k} className={`stat ${k}`} data-testid={`total-${k}`}>
            <b>{total(k)}</b>
            <span>{t(k[0].toUpperCase() + k.slice(1))}</span>
          </div>
        ))}
      </div>
      <Card title={t("Deliveries per hour, last 24 hours")}>{data ? <HourlyChart hours={data.hours} /> : <p className="muted">{t("Loading")}…</p>}</Card>
      <div className="grid2">
        <Card title={t("Queues")}>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{t("Queue")}</th>
                  <th className="num">{t("Pending")}</th>
                  <th className="num">{t("In flight")}</th>
                  <th className="num">{t("Redelivered")}</th>
                </tr>
              </thead>
              <tbody>
                {data?.queues.map((q) => (
                  <tr key={q.consumer}>
                    <td title={q.consumer}>{q.channel ? (q.consumer.endsWith("-chunks") ? `${q.channel} (${t("chunks")})` : q.channel) : q.consumer}</td>
                    <td className="num">{q.exists ? String(q.pending) : "—"}</td>
                    <td className="num">{q.exists ? String(q.ackPending) : "—"}</td>
                    <td className="num">{q.exists ? String(q.redelivered) : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
        <Card title={<>{t("Health and breakers")} {ready && <Badge kind={ready.ready ? "ok" : "bad"}>{ready.ready ? "ready" : "not ready"}</Badge>}</>}>
          {ready ? <HealthList r={ready} /> : <p className="muted">{t("Loading")}…</p>}
        </Card>
      </div>
      {widgets.map((W, i) => (
        <W key={i} />
      ))}
    </div>
  );
}

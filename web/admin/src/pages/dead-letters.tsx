import { useEffect, useState } from "react";
import { OpsService, type DeadLetter } from "../../../../gen/notify/v1/ops_service_pb.js";
import { client, errorText } from "../api.js";
import { Badge, Card, ErrorBox, formatTime, Notice, ReadOnlyNote, StatusBadge } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link } from "../router.js";
import { useCan } from "../session.js";

const ops = () => client(OpsService);

/** The payload as text: pretty JSON when it is JSON, else the bytes as hex. */
function payloadText(b: Uint8Array): string {
  try {
    const s = new TextDecoder("utf-8", { fatal: true }).decode(b);
    try {
      return JSON.stringify(JSON.parse(s), null, 2);
    } catch {
      return s;
    }
  } catch {
    return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  }
}

/** Messages the platform gave up on: filter, inspect, replay the chosen ones or all that match. */
export function DeadLettersPage() {
  const t = useT();
  const can = useCan();
  const ro = !can("admin");
  const [filter, setFilter] = useState({ channel: "", reason: "", includeReplayed: false });
  const [items, setItems] = useState<DeadLetter[]>([]);
  const [next, setNext] = useState("");
  const [picked, setPicked] = useState<Set<bigint>>(new Set());
  const [open, setOpen] = useState<{ d: DeadLetter; payload: string }>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const f = () => ({ ...filter });

  const load = async (token = "") => {
    try {
      const r = await ops().listDeadLetters({ filter: f(), pageSize: 50, pageToken: token });
      setItems((prev) => (token ? [...prev, ...r.deadLetters] : r.deadLetters));
      setNext(r.nextPageToken);
      if (!token) setPicked(new Set());
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), [filter]);

  const inspect = async (id: bigint) => {
    try {
      const r = await ops().getDeadLetter({ id });
      setOpen({ d: r.deadLetter!, payload: payloadText(r.payload) });
    } catch (err) {
      setError(errorText(err));
    }
  };
  const replay = async (all: boolean) => {
    if (all && !window.confirm(t("Replay every dead letter that matches the filter?"))) return;
    try {
      const r = await ops().replayDeadLetters(all ? { filter: f() } : { ids: [...picked] });
      setNotice(`${t("Replayed")}: ${r.replayed}, ${t("skipped")}: ${r.skipped}`);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const toggle = (id: bigint) => {
    const s = new Set(picked);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setPicked(s);
  };

  return (
    <div className="page">
      <h1>{t("Dead letters")}</h1>
      <ReadOnlyNote show={ro} />
      <ErrorBox error={error} />
      <Notice text={notice} />
      <Card
        title={
          <span className="inline-form">
            <input aria-label={t("Channel")} placeholder={t("Channel")} size={10} value={filter.channel} onChange={(e) => setFilter({ ...filter, channel: e.target.value.trim() })} />
            <select aria-label={t("Reason")} value={filter.reason} onChange={(e) => setFilter({ ...filter, reason: e.target.value })}>
              <option value="">{t("Any reason")}</option>
              <option value="max_deliveries">max_deliveries</option>
              <option value="poison">poison</option>
            </select>
            <label className="inline">
              <input type="checkbox" checked={filter.includeReplayed} onChange={(e) => setFilter({ ...filter, includeReplayed: e.target.checked })} />
              {t("Include replayed")}
            </label>
          </span>
        }
        actions={
          <>
            <button disabled={ro || picked.size === 0} onClick={() => void replay(false)}>
              {t("Replay selected")} ({picked.size})
            </button>
            <button disabled={ro || items.length === 0} onClick={() => void replay(true)}>
              {t("Replay all matching")}
            </button>
          </>
        }
      >
        <div className="table-wrap">
          <table data-testid="dead-letters">
            <thead>
              <tr>
                <th />
                <th>{t("Dead at")}</th>
                <th>{t("Channel")}</th>
                <th>{t("Reason")}</th>
                <th>{t("Last error")}</th>
                <th className="hide-sm">{t("Status")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={String(d.id)}>
                  <td>
                    <input type="checkbox" aria-label={`select ${d.id}`} checked={picked.has(d.id)} onChange={() => toggle(d.id)} />
                  </td>
                  <td>{formatTime(d.deadAt)}</td>
                  <td>{d.source}</td>
                  <td>
                    {d.reason} {d.uncertain && <Badge kind="warn">uncertain</Badge>} {d.replayCount > 0 && <Badge>×{d.replayCount}</Badge>}
                  </td>
                  <td className="wrap">{d.error}</td>
                  <td className="hide-sm">{d.deliveryStatus ? <StatusBadge status={d.deliveryStatus} /> : "—"}</td>
                  <td>
                    <button className="small" onClick={() => void inspect(d.id)}>
                      {t("Open")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {items.length === 0 && !error && <p className="muted">{t("Nothing found")}</p>}
        {next && <button onClick={() => void load(next)}>…</button>}
      </Card>
      {open && (
        <Card title={`#${open.d.id} · ${open.d.subject}`} actions={<button onClick={() => setOpen(undefined)}>{t("Close")}</button>}>
          <dl className="props">
            <dt>{t("Last error")}</dt>
            <dd className="wrap">{open.d.error}</dd>
            <dt>{t("Notification")}</dt>
            <dd>{open.d.notificationId ? <Link to={`/notifications/${open.d.notificationId}`}>{open.d.notificationId}</Link> : "—"}</dd>
            <dt>{t("Attempts")}</dt>
            <dd>{open.d.deliveries}</dd>
            <dt>{t("Published")}</dt>
            <dd>{formatTime(open.d.publishedAt)}</dd>
          </dl>
          <h3>payload</h3>
          <pre className="preview-text" data-testid="dead-letter-payload">
            {open.payload}
          </pre>
        </Card>
      )}
    </div>
  );
}

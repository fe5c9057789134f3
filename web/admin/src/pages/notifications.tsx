import { useEffect, useState, type FormEvent } from "react";
import type { Delivery, GetResponse } from "../../../../gen/notify/v1/notification_service_pb.js";
import { admin, errorText, notifications } from "../api.js";
import { Card, ErrorBox, formatTime, StatusBadge } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link, navigate } from "../router.js";

function queryFromUrl(): string {
  return new URLSearchParams(window.location.search).get("q") ?? "";
}

export function NotificationsPage() {
  const t = useT();
  const [query, setQuery] = useState(queryFromUrl);
  const [rows, setRows] = useState<Delivery[]>([]);
  const [matched, setMatched] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<string>();
  const [searched, setSearched] = useState(false);

  const search = async (q: string, token = "") => {
    if (!q.trim()) return;
    try {
      const r = await admin().searchDeliveries({ query: q.trim(), pageSize: 50, pageToken: token });
      setRows((prev) => (token ? [...prev, ...r.deliveries] : r.deliveries));
      setMatched(r.matchedAs);
      setNext(r.nextPageToken);
      setError(undefined);
      setSearched(true);
    } catch (err) {
      setError(errorText(err));
    }
  };

  useEffect(() => {
    const q = queryFromUrl();
    if (q) void search(q);
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    window.history.replaceState(null, "", `?q=${encodeURIComponent(query.trim())}`);
    void search(query);
  };

  return (
    <div className="page">
      <h1>{t("Notifications")}</h1>
      <Card>
        <form className="inline-form" onSubmit={submit}>
          <input
            type="search"
            className="search"
            aria-label={t("Search")}
            placeholder={t("Notification id, user id or email")}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <button type="submit" className="primary">
            {t("Search")}
          </button>
        </form>
        <ErrorBox error={error} />
        {searched && <p className="muted">{matched.replace("_", " ")}</p>}
        <div className="table-wrap">
          <table data-testid="search-results">
            <thead>
              <tr>
                <th>{t("Created")}</th>
                <th>{t("Template")}</th>
                <th className="hide-sm">{t("Channel")}</th>
                <th>{t("Status")}</th>
                <th className="num hide-sm">{t("Attempts")}</th>
                <th>{t("Last error")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} className="clickable" onClick={() => navigate(`/notifications/${d.notificationId}`)}>
                  <td>
                    <Link to={`/notifications/${d.notificationId}`}>{formatTime(d.createdAt)}</Link>
                  </td>
                  <td>{d.template}</td>
                  <td className="hide-sm">{d.channel}</td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td className="num hide-sm">{d.attempts}</td>
                  <td className="wrap">{d.lastError}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {searched && rows.length === 0 && <p className="muted">{t("Nothing found")}</p>}
        {next && <button onClick={() => void search(query, next)}>…</button>}
      </Card>
    </div>
  );
}

export function NotificationPage({ params }: { params: Record<string, string> }) {
  const t = useT();
  const [data, setData] = useState<GetResponse>();
  const [error, setError] = useState<string>();
  const load = () =>
    notifications()
      .get({ notificationId: params.id })
      .then(setData, (err) => setError(errorText(err)));
  useEffect(() => {
    void load();
  }, [params.id]);
  const n = data?.notification;
  return (
    <div className="page">
      <p>
        <Link to="/notifications">← {t("Notifications")}</Link>
      </p>
      <h1 className="mono">{params.id}</h1>
      <ErrorBox error={error} />
      {n && (
        <Card title={t("Notification")} actions={<button onClick={() => void load()}>{t("Refresh")}</button>}>
          <dl className="props">
            <dt>{t("Template")}</dt>
            <dd>
              <Link to={`/templates/${encodeURIComponent(n.template)}`}>{n.template}</Link> v{n.templateVersion}
            </dd>
            <dt>{t("Category")}</dt>
            <dd>{n.category}</dd>
            <dt>{t("Created")}</dt>
            <dd>{formatTime(n.createdAt)}</dd>
            <dt>source</dt>
            <dd>{n.source}</dd>
            <dt>idempotency key</dt>
            <dd className="mono">{n.idempotencyKey}</dd>
          </dl>
        </Card>
      )}
      {data?.deliveries.map((d) => (
        <Card
          key={d.id}
          title={
            <>
              {d.userId ? `user ${d.userId}` : t("Address")} · {d.channel} <StatusBadge status={d.status} />
            </>
          }
        >
          <p className="muted mono">
            {d.id} {d.messageId && `· ${d.messageId}`}
          </p>
          {d.lastError && <p className="error">{d.lastError}</p>}
          <h3>{t("History")}</h3>
          <ol className="timeline" data-testid="delivery-history">
            {d.events.map((e, i) => (
              <li key={i}>
                <time>{formatTime(e.at)}</time> <StatusBadge status={e.status} /> <span className="wrap">{e.detail}</span>
              </li>
            ))}
          </ol>
        </Card>
      ))}
    </div>
  );
}

import { useEffect, useState } from "react";
import type { Template } from "../../../../gen/notify/v1/template_service_pb.js";
import { errorText, templates } from "../api.js";
import { Badge, Card, ErrorBox, formatTime } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link } from "../router.js";
import { useCan } from "../session.js";

export function TemplatesPage() {
  const t = useT();
  const can = useCan();
  const [query, setQuery] = useState("");
  const [archived, setArchived] = useState(false);
  const [items, setItems] = useState<Template[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState<string>();

  const load = async (token = "") => {
    try {
      const r = await templates().list({ query, includeArchived: archived, pageSize: 50, pageToken: token });
      setItems((prev) => (token ? [...prev, ...r.templates] : r.templates));
      setNext(r.nextPageToken);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };

  // Searching as one types, a moment after the last key.
  useEffect(() => {
    const id = setTimeout(() => void load(), 250);
    return () => clearTimeout(id);
  }, [query, archived]);

  return (
    <div className="page">
      <h1>{t("Templates")}</h1>
      <Card
        actions={
          can("manage") && (
            <Link className="button primary" to="/templates/new">
              + {t("New template")}
            </Link>
          )
        }
        title={
          <input
            type="search"
            className="search"
            placeholder={t("Search")}
            aria-label={t("Search")}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        }
      >
        <label className="inline">
          <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> {t("Show archived")}
        </label>
        <ErrorBox error={error} />
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t("Key")}</th>
                <th>{t("Name")}</th>
                <th className="hide-sm">{t("Category")}</th>
                <th className="hide-sm">{t("Channels")}</th>
                <th className="num">{t("Version")}</th>
                <th className="hide-sm">{t("Created")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((x) => (
                <tr key={x.key}>
                  <td>
                    <Link to={`/templates/${encodeURIComponent(x.key)}`}>{x.key}</Link> {x.archived && <Badge kind="warn">{t("Archived")}</Badge>}
                  </td>
                  <td>{x.name}</td>
                  <td className="hide-sm">{x.category}</td>
                  <td className="hide-sm">{x.channels.join(", ")}</td>
                  <td className="num">
                    {x.currentVersion}
                    {x.latestVersion > x.currentVersion && <span className="muted"> (+{x.latestVersion - x.currentVersion} {t("Draft").toLowerCase()})</span>}
                  </td>
                  <td className="hide-sm">{formatTime(x.updatedAt ?? x.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {items.length === 0 && !error && <p className="muted">{t("Nothing found")}</p>}
        {next && <button onClick={() => void load(next)}>…</button>}
      </Card>
    </div>
  );
}

import { useEffect, useState, type FormEvent } from "react";
import type { ApiKey } from "../../../../gen/notify/v1/admin_service_pb.js";
import { admin, errorText } from "../api.js";
import { Badge, Card, ErrorBox, formatTime, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { useCan } from "../session.js";

const SCOPES = ["send", "read", "manage", "admin"];

export function ApiKeysPage() {
  const t = useT();
  const can = useCan();
  const readOnly = !can("admin");
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["send", "read"]);
  const [fresh, setFresh] = useState<string>();
  const [error, setError] = useState<string>();

  const load = () => admin().listApiKeys({}).then((r) => setKeys(r.keys), (err) => setError(errorText(err)));
  useEffect(() => void load(), []);

  const createKey = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const r = await admin().createApiKey({ name: name.trim(), scopes });
      setFresh(r.key);
      setName("");
      setError(undefined);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const revoke = async (n: string) => {
    if (!window.confirm(`${t("Revoke")} ${n}?`)) return;
    try {
      await admin().revokeApiKey({ name: n });
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div className="page">
      <h1>{t("API keys")}</h1>
      <ReadOnlyNote show={readOnly} />
      <ErrorBox error={error} />
      {fresh && (
        <div className="notice" role="status">
          {t("Copy this key now; it is not shown again:")}
          <pre className="secret" data-testid="new-key">
            {fresh}
          </pre>
          <button className="small" onClick={() => setFresh(undefined)}>
            {t("Close")}
          </button>
        </div>
      )}
      {!readOnly && (
        <Card title={t("Create")}>
          <form className="inline-form" onSubmit={createKey}>
            <input aria-label={t("Name")} placeholder="ugc-service" required pattern="[A-Za-z0-9_.\-]{1,100}" value={name} onChange={(e) => setName(e.target.value)} />
            <span className="checks">
              {SCOPES.map((s) => (
                <label key={s} className="inline">
                  <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
                  {s}
                </label>
              ))}
            </span>
            <button type="submit" className="primary" disabled={scopes.length === 0}>
              {t("Create")}
            </button>
          </form>
        </Card>
      )}
      <Card>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t("Name")}</th>
                <th>{t("Key")}</th>
                <th>{t("Scopes")}</th>
                <th>{t("Created")}</th>
                <th>{t("Last used")}</th>
                <th>{t("Status")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.name}>
                  <td>{k.name}</td>
                  <td className="mono">{k.prefix}…</td>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{formatTime(k.createdAt)}</td>
                  <td>{formatTime(k.lastUsedAt)}</td>
                  <td>{k.revokedAt ? <Badge kind="bad">{t("Revoked")}</Badge> : <Badge kind="ok">{t("Active")}</Badge>}</td>
                  <td>
                    {!k.revokedAt && (
                      <button className="small" disabled={readOnly} onClick={() => void revoke(k.name)}>
                        {t("Revoke")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}

import { useContext, useState, type FormEvent } from "react";
import { AdminRole } from "../../../../gen/notify/v1/admin_service_pb.js";
import { admin, errorText } from "../api.js";
import { Card, ErrorBox, Field, Notice } from "../components/ui.js";
import { LangContext, useT } from "../i18n.js";
import { useSession } from "../session.js";

export function AccountPage() {
  const t = useT();
  const s = useSession();
  const { lang, setLang } = useContext(LangContext);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

  const change = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await admin().changePassword({ currentPassword: current, newPassword: next });
      setCurrent("");
      setNext("");
      setError(undefined);
      setNotice(t("Password changed"));
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div className="page">
      <h1>{t("Account")}</h1>
      <Card>
        <dl className="props">
          <dt>{t("Email")}</dt>
          <dd>{s?.user.email}</dd>
          <dt>{t("Role")}</dt>
          <dd>{AdminRole[s?.user.role ?? 0]?.toLowerCase()}</dd>
          <dt>{t("Scopes")}</dt>
          <dd>{s?.scopes.join(", ")}</dd>
          <dt>{t("Language")}</dt>
          <dd>
            <select aria-label={t("Language")} value={lang} onChange={(e) => setLang(e.target.value as "en" | "ru")}>
              <option value="en">English</option>
              <option value="ru">Русский</option>
            </select>
          </dd>
        </dl>
      </Card>
      <Card title={t("Change password")}>
        <form className="form-grid" onSubmit={change}>
          <Field label={t("Current password")}>
            <input type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          </Field>
          <Field label={t("New password")}>
            <input type="password" autoComplete="new-password" minLength={10} required value={next} onChange={(e) => setNext(e.target.value)} />
          </Field>
          <div>
            <button type="submit" className="primary">
              {t("Change password")}
            </button>
          </div>
        </form>
        <ErrorBox error={error} />
        <Notice text={notice} />
      </Card>
    </div>
  );
}

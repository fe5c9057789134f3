import { useState, type FormEvent } from "react";
import { admin, errorText } from "../api.js";
import { ErrorBox, Logo } from "../components/ui.js";
import { useT } from "../i18n.js";
import type { SessionInfo } from "../session.js";

export function SignInPage({ onSignedIn }: { onSignedIn: (s: SessionInfo) => void }) {
  const t = useT();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await admin().signIn({ email, password });
      setPassword("");
      onSignedIn({ user: r.user!, scopes: r.scopes });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form className="card" onSubmit={submit} aria-label={t("Sign in")}>
        <h1>
          <Logo /> {t("Sign in")}
        </h1>
        <label className="field">
          <span>{t("Email")}</span>
          <input name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label className="field">
          <span>{t("Password")}</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t("Signing in…") : t("Sign in")}
        </button>
      </form>
    </main>
  );
}

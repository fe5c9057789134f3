import { useEffect, useState, type ReactNode } from "react";
import { AdminRole } from "../../../gen/notify/v1/admin_service_pb.js";
import { admin, Code, ConnectError, errorText, onSignedOut } from "./api.js";
import { ErrorBox, Logo } from "./components/ui.js";
import { initialLang, LangContext, useT, type Lang } from "./i18n.js";
import { PAGES } from "./pages.js";
import { SignInPage } from "./pages/sign-in.js";
import { Link, match, usePath } from "./router.js";
import { SessionContext, useCan, useSession, type SessionInfo } from "./session.js";

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const t = useT();
  const path = usePath();
  const can = useCan();
  const s = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);
  let page: { render: () => ReactNode } | undefined;
  for (const p of PAGES) {
    const params = match(p.path, path);
    if (params) {
      page = { render: () => p.render(params) };
      break;
    }
  }
  const active = (p: string) => (p === "/" ? path === "/" : path === p || path.startsWith(`${p}/`));
  return (
    <div className="shell">
      <header className="topbar">
        <button className="menu-toggle" aria-label="menu" aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)}>
          ☰
        </button>
        <Link to="/" className="brand">
          <Logo /> Notify admin
        </Link>
        <span className="who">
          <Link to="/account" data-testid="who">
            {s?.user.email}
          </Link>{" "}
          <span className="badge">{AdminRole[s?.user.role ?? 0]?.toLowerCase()}</span>
        </span>
        <button className="small" onClick={onSignOut}>
          {t("Sign out")}
        </button>
      </header>
      <nav className={menuOpen ? "sidebar open" : "sidebar"}>
        {PAGES.filter((p) => p.nav && can(p.scope)).map((p) => (
          <Link key={p.path} to={p.path} className={active(p.path) ? "active" : ""}>
            {t(p.nav!)}
          </Link>
        ))}
      </nav>
      <main className="content">{page ? page.render() : <p>404</p>}</main>
    </div>
  );
}

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [session, setSession] = useState<SessionInfo | null>();
  const [error, setError] = useState<string>();
  const setLang = (l: Lang) => {
    localStorage.setItem("admin.lang", l);
    setLangState(l);
  };

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  useEffect(() => {
    admin()
      .getSession({})
      .then(
        (r) => setSession({ user: r.user!, scopes: r.scopes }),
        (err) => {
          if (err instanceof ConnectError && err.code === Code.Unauthenticated) setSession(null);
          else setError(errorText(err));
        },
      );
    return onSignedOut(() => setSession(null));
  }, []);

  const signOut = async () => {
    await admin()
      .signOut({})
      .catch(() => undefined);
    setSession(null);
  };

  return (
    <LangContext.Provider value={{ lang, setLang }}>
      <ErrorBox error={error} />
      {session === null && <SignInPage onSignedIn={setSession} />}
      {session && (
        <SessionContext.Provider value={session}>
          <Shell onSignOut={() => void signOut()} />
        </SessionContext.Provider>
      )}
    </LangContext.Provider>
  );
}

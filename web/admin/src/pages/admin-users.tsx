import { useEffect, useState, type FormEvent } from "react";
import { AdminRole, type AdminUser } from "../../../../gen/notify/v1/admin_service_pb.js";
import { admin, errorText } from "../api.js";
import { Badge, Card, ErrorBox, formatTime, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { useCan, useSession } from "../session.js";

const ROLES: [AdminRole, string][] = [
  [AdminRole.VIEWER, "viewer"],
  [AdminRole.MANAGER, "manager"],
  [AdminRole.ADMIN, "admin"],
];

export function AdminUsersPage() {
  const t = useT();
  const can = useCan();
  const me = useSession()?.user;
  const readOnly = !can("admin");
  const [users, setUsers] = useState<AdminUser[]>([]);
  const [form, setForm] = useState({ email: "", name: "", role: AdminRole.MANAGER, password: "" });
  const [error, setError] = useState<string>();

  const load = () => admin().listAdminUsers({}).then((r) => setUsers(r.users), (err) => setError(errorText(err)));
  useEffect(() => void load(), []);

  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(undefined);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const createUser = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      await admin().createAdminUser(form);
      setForm({ email: "", name: "", role: AdminRole.MANAGER, password: "" });
    });
  };
  const resetPassword = (u: AdminUser) => {
    const pw = window.prompt(`${t("Reset password")}: ${u.email}`);
    if (pw) void act(() => admin().updateAdminUser({ id: u.id, password: pw }));
  };

  return (
    <div className="page">
      <h1>{t("Admin users")}</h1>
      <ReadOnlyNote show={readOnly} />
      <ErrorBox error={error} />
      {!readOnly && (
        <Card title={t("Create")}>
          <form className="inline-form wrap" onSubmit={createUser}>
            <input type="email" required aria-label={t("Email")} placeholder={t("Email")} value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
            <input aria-label={t("Name")} placeholder={t("Name")} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
            <select aria-label={t("Role")} value={form.role} onChange={(e) => setForm({ ...form, role: Number(e.target.value) })}>
              {ROLES.map(([r, n]) => (
                <option key={r} value={r}>
                  {n}
                </option>
              ))}
            </select>
            <input
              type="password"
              required
              minLength={10}
              autoComplete="new-password"
              aria-label={t("Password")}
              placeholder={t("Password")}
              value={form.password}
              onChange={(e) => setForm({ ...form, password: e.target.value })}
            />
            <button type="submit" className="primary">
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
                <th>{t("Email")}</th>
                <th>{t("Name")}</th>
                <th>{t("Role")}</th>
                <th>{t("Last sign-in")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.email} {u.disabled && <Badge kind="bad">{t("Disabled")}</Badge>}
                  </td>
                  <td>{u.name}</td>
                  <td>
                    <select
                      aria-label={`${t("Role")} ${u.email}`}
                      value={u.role}
                      disabled={readOnly || u.id === me?.id}
                      onChange={(e) => void act(() => admin().updateAdminUser({ id: u.id, role: Number(e.target.value) }))}
                    >
                      {ROLES.map(([r, n]) => (
                        <option key={r} value={r}>
                          {n}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{formatTime(u.lastSignInAt)}</td>
                  <td className="row-actions">
                    <button className="small" disabled={readOnly || u.id === me?.id} onClick={() => void act(() => admin().updateAdminUser({ id: u.id, disabled: !u.disabled }))}>
                      {u.disabled ? t("Enable") : t("Disable")}
                    </button>
                    <button className="small" disabled={readOnly} onClick={() => resetPassword(u)}>
                      {t("Reset password")}
                    </button>
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

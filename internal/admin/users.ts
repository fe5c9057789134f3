import { newId } from "../ids/ids.js";
import type { Db } from "../store/db.js";
import { hashPassword } from "./passwords.js";
import type { Role } from "./roles.js";

export interface AdminUserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
  lastSignInAt?: Date;
}

export interface AdminUserChange {
  name?: string;
  role?: Role;
  disabled?: boolean;
  password?: string;
}

export interface AdminUserStore {
  /** Throws the driver's ER_DUP_ENTRY when the email is taken. */
  create(u: { email: string; name: string; role: Role; password: string }): Promise<AdminUserRow>;
  byEmail(email: string): Promise<AdminUserRow | undefined>;
  byId(id: string): Promise<AdminUserRow | undefined>;
  list(): Promise<AdminUserRow[]>;
  update(id: string, change: AdminUserChange): Promise<AdminUserRow | undefined>;
  /** Enabled users with the admin role (the last one may not be demoted or disabled). */
  countActiveAdmins(): Promise<number>;
  markSignedIn(id: string): Promise<void>;
}

type Row = Record<string, unknown>;

const toUser = (r: Row): AdminUserRow => ({
  id: String(r.id),
  email: String(r.email),
  name: String(r.name),
  role: String(r.role) as Role,
  passwordHash: String(r.password_hash),
  disabled: Number(r.disabled) === 1,
  createdAt: r.created_at as Date,
  lastSignInAt: (r.last_sign_in_at as Date | null) ?? undefined,
});

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createAdminUserStore(db: Db): AdminUserStore {
  const one = async (sql: string, args: string[]) => {
    const [rows] = (await db.execute(sql, args)) as unknown as [Row[]];
    return rows[0] ? toUser(rows[0]) : undefined;
  };
  const store: AdminUserStore = {
    async create(u) {
      const id = newId();
      await db.execute("INSERT INTO admin_users (id, email, name, role, password_hash) VALUES (?, ?, ?, ?, ?)", [
        id,
        normalizeEmail(u.email),
        u.name,
        u.role,
        await hashPassword(u.password),
      ]);
      return (await store.byId(id))!;
    },
    byEmail: (email) => one("SELECT * FROM admin_users WHERE email = ?", [normalizeEmail(email)]),
    byId: (id) => one("SELECT * FROM admin_users WHERE id = ?", [id]),
    async list() {
      const [rows] = (await db.query("SELECT * FROM admin_users ORDER BY email")) as unknown as [Row[]];
      return rows.map(toUser);
    },
    async update(id, c) {
      const sets: string[] = [];
      const args: (string | number)[] = [];
      const set = (column: string, v: string | number) => {
        sets.push(`${column} = ?`);
        args.push(v);
      };
      if (c.name !== undefined) set("name", c.name);
      if (c.role !== undefined) set("role", c.role);
      if (c.disabled !== undefined) set("disabled", c.disabled ? 1 : 0);
      if (c.password !== undefined) set("password_hash", await hashPassword(c.password));
      if (sets.length > 0) {
        sets.push("updated_at = CURRENT_TIMESTAMP(3)");
        await db.execute(`UPDATE admin_users SET ${sets.join(", ")} WHERE id = ?`, [...args, id]);
      }
      return store.byId(id);
    },
    async countActiveAdmins() {
      const [rows] = (await db.query("SELECT COUNT(*) AS n FROM admin_users WHERE role = 'admin' AND disabled = 0")) as unknown as [
        { n: number }[],
      ];
      return Number(rows[0].n);
    },
    async markSignedIn(id) {
      await db.execute("UPDATE admin_users SET last_sign_in_at = CURRENT_TIMESTAMP(3) WHERE id = ?", [id]);
    },
  };
  return store;
}

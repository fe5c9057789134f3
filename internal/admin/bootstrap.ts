import { generatePassword } from "./passwords.js";
import type { AdminUserStore } from "./users.js";

export interface BootstrapResult {
  email: string;
  /** Set only when the password was generated here (to be shown once to whoever started the server). */
  generatedPassword?: string;
}

/**
 * The first admin user. With an email configured, that user is created when missing (an existing one
 * keeps the password it was given in the panel). Without one, an admin@localhost with a generated
 * password is created, only while there is no admin user at all.
 */
export async function ensureFirstAdmin(
  users: AdminUserStore,
  o: { email?: string; password?: string },
): Promise<BootstrapResult | undefined> {
  if (o.email) {
    if (await users.byEmail(o.email)) return undefined;
    const password = o.password ?? generatePassword();
    if (!(await createUnlessRaced(users, { email: o.email, name: "Administrator", role: "admin", password }))) return undefined;
    return { email: o.email, generatedPassword: o.password ? undefined : password };
  }
  if ((await users.list()).length > 0) return undefined;
  const password = generatePassword();
  const email = "admin@localhost";
  if (!(await createUnlessRaced(users, { email, name: "Administrator", role: "admin", password }))) return undefined;
  return { email, generatedPassword: password };
}

/**
 * Several processes of a scaled deployment start at once and all see no admin yet; the one whose
 * insert loses on the unique email simply finds the user made by another.
 */
async function createUnlessRaced(users: AdminUserStore, u: Parameters<AdminUserStore["create"]>[0]): Promise<boolean> {
  try {
    await users.create(u);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "ER_DUP_ENTRY") return false;
    throw err;
  }
}

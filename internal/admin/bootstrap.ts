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
    await users.create({ email: o.email, name: "Administrator", role: "admin", password });
    return { email: o.email, generatedPassword: o.password ? undefined : password };
  }
  if ((await users.list()).length > 0) return undefined;
  const password = generatePassword();
  const email = "admin@localhost";
  await users.create({ email, name: "Administrator", role: "admin", password });
  return { email, generatedPassword: password };
}

import { Code, ConnectError } from "@connectrpc/connect";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { checkLayout, checkKey, type ContentInput } from "./checks.js";
import { invalid } from "./manage.js";
import * as store from "./store.js";
import type { LayoutRow } from "./store.js";

/** Layout writes and reads. A layout version is immutable; template versions pin one by id. */

export interface LayoutInput {
  key: string;
  name: string;
  description: string;
  defaultLocale: string;
  contents: ContentInput[];
}

export async function createLayout(db: Db, l: LayoutInput, actor: string): Promise<LayoutRow> {
  const problems = checkLayout({ key: l.key, defaultLocale: l.defaultLocale, contents: l.contents });
  if (l.name.length > 200) problems.push("name: longer than 200 characters");
  if (l.description.length > 2000) problems.push("description: longer than 2000 characters");
  if (problems.length > 0) throw invalid(problems);
  const contents: Record<string, Record<string, string>> = {};
  for (const c of l.contents) contents[c.locale] = c.parts;
  try {
    return await withTx(db, async (c) => {
      const latest = await store.findLayout(c, l.key, 0, true);
      const id = await store.insertLayout(c, {
        key: l.key,
        version: (latest?.version ?? 0) + 1,
        name: l.name || latest?.name || "",
        description: l.description || latest?.description || "",
        defaultLocale: l.defaultLocale,
        contents,
        createdBy: actor,
      });
      return (await store.findLayoutById(c, id))!;
    });
  } catch (err) {
    // Two first versions of a new key raced (there was no row to lock); the loser retries.
    if ((err as { code?: string })?.code === "ER_DUP_ENTRY") {
      throw new ConnectError(`key: layout "${l.key}" changed concurrently; retry`, Code.Aborted);
    }
    throw err;
  }
}

export async function getLayout(db: Db, key: string, version: number): Promise<LayoutRow> {
  const problems = checkKey(key);
  if (problems.length > 0) throw invalid(problems);
  const l = await store.findLayout(db, key, version);
  if (!l) {
    throw new ConnectError(
      version > 0 ? `version: layout "${key}" has no version ${version}` : `key: layout "${key}" not found`,
      Code.NotFound,
    );
  }
  return l;
}

import { Code, ConnectError } from "@connectrpc/connect";
import type { Conn, Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { checkKey, checkVersion, type ContentInput } from "./checks.js";
import * as store from "./store.js";
import type { LayoutRow, TemplateRow, VersionRow } from "./store.js";
import type { VariableSpec } from "./types.js";

/** Template writes: create, new versions, publish, archive. Versions are only ever inserted. */

export function invalid(problems: string[]): ConnectError {
  return new ConnectError(problems.join("; "), Code.InvalidArgument);
}

function isDuplicate(err: unknown): boolean {
  return (err as { code?: string })?.code === "ER_DUP_ENTRY";
}

export interface VersionFields {
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  contents: ContentInput[];
  layout: string;
  layoutVersion: number;
  note: string;
}

export interface StoredVersion {
  template: TemplateRow;
  version: VersionRow;
  current: boolean;
  layout?: { key: string; version: number };
  contents: Map<string, Record<string, string>>;
}

/** The layout a new version pins: the given version, or the layout's latest. */
async function resolveLayout(q: Db | Conn, key: string, version: number): Promise<LayoutRow | undefined> {
  if (!key) return undefined;
  const l = await store.findLayout(q, key, version);
  if (!l) {
    const what = version > 0 ? `layout "${key}" has no version ${version}` : `layout "${key}" not found`;
    throw new ConnectError(`${version > 0 ? "layout_version" : "layout"}: ${what}`, Code.NotFound);
  }
  return l;
}

function validate(f: VersionFields): void {
  const problems = checkVersion({
    category: f.category,
    channels: f.channels,
    defaultLocale: f.defaultLocale,
    variables: f.variables,
    contents: f.contents,
    hasLayout: f.layout !== "",
  });
  if (problems.length > 0) throw invalid(problems);
}

async function insert(c: Conn, templateId: number, number: number, f: VersionFields, layout: LayoutRow | undefined, actor: string) {
  const id = await store.insertVersion(c, {
    templateId,
    version: number,
    category: f.category,
    channels: f.channels,
    defaultLocale: f.defaultLocale,
    variables: f.variables,
    layoutId: layout?.id ?? null,
    note: f.note,
    createdBy: actor,
    contents: f.contents,
  });
  return id;
}

/** Reads back what was written, in the same transaction, so the reply is exactly what is stored. */
async function readBack(c: Conn, key: string, version: number): Promise<StoredVersion> {
  const found = await store.findTemplateVersion(c, key, version);
  if (!found?.version) throw new ConnectError(`template "${key}" v${version} vanished`, Code.Internal);
  const contents = await store.findContents(c, found.version.id);
  const layouts = found.version.layoutId ? await store.findLayoutKeys(c, [found.version.layoutId]) : new Map();
  return {
    template: found.template,
    version: found.version,
    current: found.template.currentVersionId === found.version.id,
    layout: found.version.layoutId ? layouts.get(found.version.layoutId) : undefined,
    contents,
  };
}

export async function createTemplate(
  db: Db,
  t: { key: string; name: string; description: string } & VersionFields,
  actor: string,
): Promise<StoredVersion> {
  const keyProblems = checkKey(t.key);
  if (t.name.length > 200) keyProblems.push("name: longer than 200 characters");
  if (t.description.length > 2000) keyProblems.push("description: longer than 2000 characters");
  if (keyProblems.length > 0) throw invalid(keyProblems);
  validate(t);
  const layout = await resolveLayout(db, t.layout, t.layoutVersion);
  try {
    return await withTx(db, async (c) => {
      const templateId = await store.insertTemplate(c, t);
      const versionId = await insert(c, templateId, 1, t, layout, actor);
      await store.updateTemplateHead(c, templateId, { latestVersion: 1, currentVersionId: versionId });
      return readBack(c, t.key, 1);
    });
  } catch (err) {
    if (isDuplicate(err)) throw new ConnectError(`key: template "${t.key}" already exists`, Code.AlreadyExists);
    throw err;
  }
}

export interface UpdateInput {
  key: string;
  name?: string;
  description?: string;
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  contents: ContentInput[];
  layout: string;
  layoutVersion: number;
  withoutLayout: boolean;
  publish: boolean;
  expectedLatestVersion: number;
  note: string;
}

export async function updateTemplate(db: Db, u: UpdateInput, actor: string): Promise<StoredVersion> {
  if (u.withoutLayout && u.layout) throw invalid(["layout: must be empty when without_layout is set"]);
  if ((u.name ?? "").length > 200) throw invalid(["name: longer than 200 characters"]);
  if ((u.description ?? "").length > 2000) throw invalid(["description: longer than 2000 characters"]);
  try {
    return await withTx(db, async (c) => {
      // The row lock serialises concurrent updates of one template, so version numbers never collide.
      const t = await store.findTemplate(c, u.key, true);
      if (!t) throw new ConnectError(`key: template "${u.key}" not found`, Code.NotFound);
      if (u.expectedLatestVersion > 0 && u.expectedLatestVersion !== t.latestVersion) {
        throw new ConnectError(
          `expected_latest_version: template "${u.key}" is at version ${t.latestVersion}, not ${u.expectedLatestVersion}`,
          Code.Aborted,
        );
      }
      const base = (await store.findTemplateVersion(c, u.key, t.latestVersion))?.version;
      const baseLayout = base?.layoutId ? (await store.findLayoutKeys(c, [base.layoutId])).get(base.layoutId) : undefined;
      const f: VersionFields = {
        category: u.category || base?.category || "",
        channels: u.channels.length > 0 ? u.channels : (base?.channels ?? []),
        defaultLocale: u.defaultLocale || base?.defaultLocale || "en",
        variables: u.variables,
        contents: u.contents,
        layout: u.withoutLayout ? "" : u.layout || baseLayout?.key || "",
        layoutVersion: u.layout ? u.layoutVersion : 0,
        note: u.note,
      };
      validate(f);
      const layout = await resolveLayout(c, f.layout, f.layoutVersion);
      const number = t.latestVersion + 1;
      const versionId = await insert(c, t.id, number, f, layout, actor);
      await store.updateTemplateHead(c, t.id, {
        latestVersion: number,
        currentVersionId: u.publish ? versionId : undefined,
        name: u.name,
        description: u.description,
      });
      return readBack(c, u.key, number);
    });
  } catch (err) {
    if (isDuplicate(err)) throw new ConnectError(`key: template "${u.key}" changed concurrently; retry`, Code.Aborted);
    throw err;
  }
}

export async function publishVersion(db: Db, key: string, version: number): Promise<{ template: TemplateRow; current: VersionRow }> {
  if (version < 1) throw invalid(["version: required (from 1)"]);
  return withTx(db, async (c) => {
    const t = await store.findTemplate(c, key, true);
    if (!t) throw new ConnectError(`key: template "${key}" not found`, Code.NotFound);
    const v = (await store.findTemplateVersion(c, key, version))?.version;
    if (!v) throw new ConnectError(`version: template "${key}" has no version ${version}`, Code.NotFound);
    if (t.currentVersionId !== v.id) await store.updateTemplateHead(c, t.id, { currentVersionId: v.id });
    const after = await store.findTemplateVersion(c, key, 0);
    return { template: after!.template, current: after!.version! };
  });
}

export async function archiveTemplate(db: Db, key: string, restore: boolean): Promise<{ template: TemplateRow; current?: VersionRow }> {
  const t = await store.findTemplate(db, key);
  if (!t) throw new ConnectError(`key: template "${key}" not found`, Code.NotFound);
  await store.setArchived(db, t.id, !restore);
  const after = await store.findTemplateVersion(db, key, 0);
  return { template: after!.template, current: after!.version };
}

/** A stored version with contents: the given number, or the current one for 0. */
export async function getVersion(db: Db, key: string, version: number, field = "key"): Promise<StoredVersion> {
  const found = await store.findTemplateVersion(db, key, version);
  if (!found) throw new ConnectError(`${field}: template "${key}" not found`, Code.NotFound);
  if (!found.version) {
    throw new ConnectError(
      version > 0 ? `version: template "${key}" has no version ${version}` : `${field}: template "${key}" has no current version`,
      Code.NotFound,
    );
  }
  const contents = await store.findContents(db, found.version.id);
  const layouts = found.version.layoutId ? await store.findLayoutKeys(db, [found.version.layoutId]) : new Map();
  return {
    template: found.template,
    version: found.version,
    current: found.template.currentVersionId === found.version.id,
    layout: found.version.layoutId ? layouts.get(found.version.layoutId) : undefined,
    contents,
  };
}

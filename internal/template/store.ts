import type { ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { Conn, Db } from "../store/db.js";
import { toDate } from "../store/db.js";
import type { VariableSpec } from "./types.js";

/** All template SQL in one place; handlers and the catalog call these. */

type Q = Db | Conn;

export interface TemplateRow {
  id: number;
  key: string;
  name: string;
  description: string;
  currentVersionId: number | null;
  latestVersion: number;
  archivedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface VersionRow {
  id: number;
  templateId: number;
  version: number;
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  layoutId: number | null;
  note: string;
  createdBy: string;
  createdAt: Date;
}

export interface LayoutRow {
  id: number;
  key: string;
  version: number;
  name: string;
  description: string;
  defaultLocale: string;
  contents: Record<string, Record<string, string>>;
  createdBy: string;
  createdAt: Date;
}

/** The current version joined to its template, for listings. */
export interface TemplateWithVersion extends TemplateRow {
  current?: VersionRow;
}

/** JSON columns arrive parsed or as text depending on the server's column metadata. */
function json<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

function templateRow(r: RowDataPacket): TemplateRow {
  return {
    id: Number(r.t_id),
    key: r.template_key,
    name: r.name,
    description: r.description,
    currentVersionId: r.current_version_id == null ? null : Number(r.current_version_id),
    latestVersion: Number(r.latest_version),
    archivedAt: toDate(r.archived_at),
    createdAt: toDate(r.t_created_at)!,
    updatedAt: toDate(r.updated_at)!,
  };
}

function versionRow(r: RowDataPacket): VersionRow {
  return {
    id: Number(r.v_id),
    templateId: Number(r.template_id),
    version: Number(r.version),
    category: r.category,
    channels: json<string[]>(r.channels),
    defaultLocale: r.default_locale,
    variables: json<VariableSpec[]>(r.variables),
    layoutId: r.layout_id == null ? null : Number(r.layout_id),
    note: r.note,
    createdBy: r.created_by,
    createdAt: toDate(r.v_created_at)!,
  };
}

function layoutRow(r: RowDataPacket): LayoutRow {
  return {
    id: Number(r.id),
    key: r.layout_key,
    version: Number(r.version),
    name: r.name,
    description: r.description,
    defaultLocale: r.default_locale,
    contents: json<Record<string, Record<string, string>>>(r.contents),
    createdBy: r.created_by,
    createdAt: toDate(r.created_at)!,
  };
}

const T_COLS = `t.id AS t_id, t.template_key, t.name, t.description, t.current_version_id, t.latest_version,
  t.archived_at, t.created_at AS t_created_at, t.updated_at`;
const V_COLS = `v.id AS v_id, v.template_id, v.version, v.category, v.channels, v.default_locale, v.variables,
  v.layout_id, v.note, v.created_by, v.created_at AS v_created_at`;

export async function findTemplate(q: Q, key: string, forUpdate = false): Promise<TemplateRow | undefined> {
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT ${T_COLS} FROM templates t WHERE t.template_key = ?${forUpdate ? " FOR UPDATE" : ""}`,
    [key],
  );
  return rows[0] ? templateRow(rows[0]) : undefined;
}

/** The template and one version of it: the given number, or the current one when version is 0. */
export async function findTemplateVersion(
  q: Q,
  key: string,
  version: number,
): Promise<{ template: TemplateRow; version?: VersionRow } | undefined> {
  const join = version > 0 ? "v.template_id = t.id AND v.version = ?" : "v.id = t.current_version_id";
  const params = version > 0 ? [version, key] : [key];
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT ${T_COLS}, ${V_COLS} FROM templates t LEFT JOIN template_versions v ON ${join} WHERE t.template_key = ?`,
    params,
  );
  const r = rows[0];
  if (!r) return undefined;
  return { template: templateRow(r), version: r.v_id == null ? undefined : versionRow(r) };
}

export async function findVersionById(q: Q, versionId: number): Promise<(VersionRow & { key: string }) | undefined> {
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT ${V_COLS}, t.template_key FROM template_versions v JOIN templates t ON t.id = v.template_id WHERE v.id = ?`,
    [versionId],
  );
  return rows[0] ? { ...versionRow(rows[0]), key: rows[0].template_key } : undefined;
}

/** A page of versions, newest first, below the given version number (0: from the latest). */
export async function listVersions(q: Q, templateId: number, beforeVersion: number, limit: number): Promise<VersionRow[]> {
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT ${V_COLS} FROM template_versions v WHERE v.template_id = ?${beforeVersion > 0 ? " AND v.version < ?" : ""}
     ORDER BY v.version DESC LIMIT ?`,
    beforeVersion > 0 ? [templateId, beforeVersion, limit] : [templateId, limit],
  );
  return rows.map(versionRow);
}

/** Locales of several versions at once (listings). */
export async function findLocalesFor(q: Q, versionIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (versionIds.length === 0) return out;
  const [rows] = await q.query<RowDataPacket[]>(
    "SELECT version_id, locale FROM template_contents WHERE version_id IN (?) ORDER BY locale",
    [versionIds],
  );
  for (const r of rows) {
    const id = Number(r.version_id);
    out.set(id, [...(out.get(id) ?? []), r.locale as string]);
  }
  return out;
}

/** Layout keys and versions by id (to show a version's layout pin). */
export async function findLayoutKeys(q: Q, ids: number[]): Promise<Map<number, { key: string; version: number }>> {
  const out = new Map<number, { key: string; version: number }>();
  if (ids.length === 0) return out;
  const [rows] = await q.query<RowDataPacket[]>("SELECT id, layout_key, version FROM layouts WHERE id IN (?)", [ids]);
  for (const r of rows) out.set(Number(r.id), { key: r.layout_key, version: Number(r.version) });
  return out;
}

/** Contents of a version by locale; only the given locales when listed. */
export async function findContents(
  q: Q,
  versionId: number,
  locales?: string[],
): Promise<Map<string, Record<string, string>>> {
  const filter = locales?.length ? " AND locale IN (?)" : "";
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT locale, parts FROM template_contents WHERE version_id = ?${filter} ORDER BY locale`,
    locales?.length ? [versionId, locales] : [versionId],
  );
  return new Map(rows.map((r) => [r.locale as string, json<Record<string, string>>(r.parts)]));
}

export async function findLocales(q: Q, versionId: number): Promise<string[]> {
  const [rows] = await q.query<RowDataPacket[]>(
    "SELECT locale FROM template_contents WHERE version_id = ? ORDER BY locale",
    [versionId],
  );
  return rows.map((r) => r.locale as string);
}

export async function insertTemplate(
  c: Conn,
  t: { key: string; name: string; description: string },
): Promise<number> {
  const [res] = await c.query<ResultSetHeader>(
    "INSERT INTO templates (template_key, name, description, created_at, updated_at) VALUES (?, ?, ?, NOW(3), NOW(3))",
    [t.key, t.name, t.description],
  );
  return res.insertId;
}

export interface NewVersion {
  templateId: number;
  version: number;
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  layoutId: number | null;
  note: string;
  createdBy: string;
  contents: { locale: string; parts: Record<string, string> }[];
}

export async function insertVersion(c: Conn, v: NewVersion): Promise<number> {
  const [res] = await c.query<ResultSetHeader>(
    `INSERT INTO template_versions
       (template_id, version, category, channels, default_locale, variables, layout_id, note, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3))`,
    [
      v.templateId,
      v.version,
      v.category,
      JSON.stringify(v.channels),
      v.defaultLocale,
      JSON.stringify(v.variables),
      v.layoutId,
      v.note,
      v.createdBy,
    ],
  );
  const id = res.insertId;
  await c.query("INSERT INTO template_contents (version_id, locale, parts) VALUES ?", [
    v.contents.map((x) => [id, x.locale, JSON.stringify(x.parts)]),
  ]);
  return id;
}

/** Records a new latest version number and optionally makes a version current. */
export async function updateTemplateHead(
  c: Conn,
  templateId: number,
  fields: { latestVersion?: number; currentVersionId?: number; name?: string; description?: string },
): Promise<void> {
  const sets: string[] = ["updated_at = NOW(3)"];
  const params: unknown[] = [];
  if (fields.latestVersion !== undefined) sets.push("latest_version = ?"), params.push(fields.latestVersion);
  if (fields.currentVersionId !== undefined) sets.push("current_version_id = ?"), params.push(fields.currentVersionId);
  if (fields.name !== undefined) sets.push("name = ?"), params.push(fields.name);
  if (fields.description !== undefined) sets.push("description = ?"), params.push(fields.description);
  await c.query(`UPDATE templates SET ${sets.join(", ")} WHERE id = ?`, [...params, templateId]);
}

export async function setArchived(q: Q, templateId: number, archived: boolean): Promise<void> {
  await q.query(
    `UPDATE templates SET archived_at = ${archived ? "COALESCE(archived_at, NOW(3))" : "NULL"}, updated_at = NOW(3) WHERE id = ?`,
    [templateId],
  );
}

/** A page of templates ordered by key, after the given key, each with its current version. */
export async function listTemplates(
  q: Q,
  opts: { query: string; afterKey: string; limit: number; includeArchived: boolean },
): Promise<TemplateWithVersion[]> {
  const where: string[] = ["t.template_key > ?"];
  const params: unknown[] = [opts.afterKey];
  if (opts.query) {
    const like = `%${opts.query.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    where.push("(t.template_key LIKE ? OR t.name LIKE ? OR t.description LIKE ?)");
    params.push(like, like, like);
  }
  if (!opts.includeArchived) where.push("t.archived_at IS NULL");
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT ${T_COLS}, ${V_COLS} FROM templates t LEFT JOIN template_versions v ON v.id = t.current_version_id
     WHERE ${where.join(" AND ")} ORDER BY t.template_key LIMIT ?`,
    [...params, opts.limit],
  );
  return rows.map((r) => ({ ...templateRow(r), current: r.v_id == null ? undefined : versionRow(r) }));
}

export async function findLayoutById(q: Q, id: number): Promise<LayoutRow | undefined> {
  const [rows] = await q.query<RowDataPacket[]>("SELECT * FROM layouts WHERE id = ?", [id]);
  return rows[0] ? layoutRow(rows[0]) : undefined;
}

/** A layout version, or the latest one when version is 0. */
export async function findLayout(q: Q, key: string, version: number, forUpdate = false): Promise<LayoutRow | undefined> {
  const [rows] = await q.query<RowDataPacket[]>(
    version > 0
      ? "SELECT * FROM layouts WHERE layout_key = ? AND version = ?"
      : `SELECT * FROM layouts WHERE layout_key = ? ORDER BY version DESC LIMIT 1${forUpdate ? " FOR UPDATE" : ""}`,
    version > 0 ? [key, version] : [key],
  );
  return rows[0] ? layoutRow(rows[0]) : undefined;
}

export async function insertLayout(c: Conn, l: Omit<LayoutRow, "id" | "createdAt">): Promise<number> {
  const [res] = await c.query<ResultSetHeader>(
    `INSERT INTO layouts (layout_key, version, name, description, default_locale, contents, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NOW(3))`,
    [l.key, l.version, l.name, l.description, l.defaultLocale, JSON.stringify(l.contents), l.createdBy],
  );
  return res.insertId;
}

/** The latest version of each layout, ordered by key, after the given key. */
export async function listLayouts(q: Q, opts: { query: string; afterKey: string; limit: number }): Promise<LayoutRow[]> {
  const params: unknown[] = [opts.afterKey];
  let filter = "";
  if (opts.query) {
    filter = " AND (l.layout_key LIKE ? OR l.name LIKE ?)";
    const like = `%${opts.query.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    params.push(like, like);
  }
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT l.* FROM layouts l
     JOIN (SELECT layout_key, MAX(version) AS version FROM layouts GROUP BY layout_key) m
       ON m.layout_key = l.layout_key AND m.version = l.version
     WHERE l.layout_key > ?${filter} ORDER BY l.layout_key LIMIT ?`,
    [...params, opts.limit],
  );
  return rows.map(layoutRow);
}

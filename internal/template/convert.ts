import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  LayoutSchema,
  LocaleContentSchema,
  TemplateSchema,
  TemplateVersionSchema,
  VariableSchema,
  VariableType as PbVariableType,
  type Layout,
  type LocaleContent,
  type Template,
  type TemplateVersion,
  type Variable,
} from "../../gen/notify/v1/template_service_pb.js";
import type { ContentInput } from "./checks.js";
import type { LayoutRow, TemplateRow, VersionRow } from "./store.js";
import type { VariableSpec, VariableType } from "./types.js";

/** Proto messages <-> the module's plain types. */

const TYPE_TO_PB: Record<VariableType, PbVariableType> = {
  string: PbVariableType.STRING,
  number: PbVariableType.NUMBER,
  boolean: PbVariableType.BOOLEAN,
  url: PbVariableType.URL,
  list: PbVariableType.LIST,
  object: PbVariableType.OBJECT,
};

const PB_TO_TYPE = new Map<PbVariableType, VariableType>(
  Object.entries(TYPE_TO_PB).map(([k, v]) => [v, k as VariableType]),
);

/** An unset type becomes "" so that checkDeclarations reports it with the field path. */
export function specFromPb(v: Variable): VariableSpec {
  const spec: VariableSpec = {
    name: v.name,
    type: PB_TO_TYPE.get(v.type) ?? ("" as VariableType),
    required: v.required,
  };
  if (v.sample) spec.sample = toJson(ValueSchema, v.sample);
  if (v.description) spec.description = v.description;
  return spec;
}

export function specToPb(s: VariableSpec): Variable {
  return create(VariableSchema, {
    name: s.name,
    type: TYPE_TO_PB[s.type] ?? PbVariableType.UNSPECIFIED,
    required: s.required,
    sample: s.sample === undefined ? undefined : fromJson(ValueSchema, s.sample as JsonValue),
    description: s.description ?? "",
  });
}

export function contentsFromPb(list: LocaleContent[]): ContentInput[] {
  return list.map((c) => ({ locale: c.locale, parts: { ...c.parts } }));
}

export function contentsToPb(map: Map<string, Record<string, string>> | Record<string, Record<string, string>>): LocaleContent[] {
  const entries = map instanceof Map ? [...map.entries()] : Object.entries(map);
  return entries
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([locale, parts]) => create(LocaleContentSchema, { locale, parts }));
}

export function templateToPb(t: TemplateRow, current?: VersionRow): Template {
  return create(TemplateSchema, {
    key: t.key,
    name: t.name,
    description: t.description,
    category: current?.category ?? "",
    channels: current?.channels ?? [],
    defaultLocale: current?.defaultLocale ?? "",
    currentVersion: current?.version ?? 0,
    latestVersion: t.latestVersion,
    archived: t.archivedAt !== undefined,
    createdAt: timestampFromDate(t.createdAt),
    updatedAt: timestampFromDate(t.updatedAt),
  });
}

export function versionToPb(
  v: VersionRow,
  opts: {
    current: boolean;
    layout?: { key: string; version: number };
    contents?: Map<string, Record<string, string>>;
    locales?: string[];
  },
): TemplateVersion {
  return create(TemplateVersionSchema, {
    version: v.version,
    variables: v.variables.map(specToPb),
    contents: opts.contents ? contentsToPb(opts.contents) : [],
    createdAt: timestampFromDate(v.createdAt),
    createdBy: v.createdBy,
    layout: opts.layout?.key ?? "",
    layoutVersion: opts.layout?.version ?? 0,
    category: v.category,
    channels: v.channels,
    defaultLocale: v.defaultLocale,
    note: v.note,
    current: opts.current,
    locales: opts.locales ?? (opts.contents ? [...opts.contents.keys()].sort() : []),
  });
}

export function layoutToPb(l: LayoutRow): Layout {
  return create(LayoutSchema, {
    key: l.key,
    version: l.version,
    name: l.name,
    description: l.description,
    defaultLocale: l.defaultLocale,
    contents: contentsToPb(l.contents),
    createdAt: timestampFromDate(l.createdAt),
    createdBy: l.createdBy,
  });
}

/** Page tokens are opaque to clients: base64url of a small JSON cursor. */
export function encodePageToken(cursor: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

export function decodePageToken(token: string): Record<string, unknown> | undefined {
  if (!token) return {};
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

import { create, fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  LocaleContentSchema,
  VariableSchema,
  VariableType,
  type Template,
  type TemplateVersion,
} from "../../../gen/notify/v1/template_service_pb.js";

/** Parts each channel reads (see LocaleContent in template_service.proto). */
export const PARTS_BY_CHANNEL: Record<string, string[]> = {
  email: ["subject", "html", "text"],
  websocket: ["title", "body"],
  sms: ["sms"],
};
export const CHANNELS = Object.keys(PARTS_BY_CHANNEL);
export const CATEGORIES = ["transactional", "marketing", "service"];
export const VARIABLE_TYPES: [VariableType, string][] = [
  [VariableType.STRING, "string"],
  [VariableType.NUMBER, "number"],
  [VariableType.BOOLEAN, "boolean"],
  [VariableType.URL, "url"],
  [VariableType.LIST, "list"],
  [VariableType.OBJECT, "object"],
];

export interface VariableRow {
  name: string;
  type: VariableType;
  required: boolean;
  /** The sample as JSON text, as typed ("Dune", 3, ["a"]). */
  sample: string;
  description: string;
}

/** The editor's working copy of a template version. */
export interface Draft {
  key: string;
  name: string;
  description: string;
  category: string;
  channels: string[];
  defaultLocale: string;
  layout: string;
  variables: VariableRow[];
  /** locale -> part -> mustache source */
  contents: Record<string, Record<string, string>>;
  note: string;
}

export function emptyDraft(): Draft {
  return {
    key: "",
    name: "",
    description: "",
    category: "transactional",
    channels: ["email"],
    defaultLocale: "en",
    layout: "",
    variables: [],
    contents: { en: { subject: "", html: "", text: "" } },
    note: "",
  };
}

export function draftFromVersion(t: Template, v: TemplateVersion): Draft {
  return {
    key: t.key,
    name: t.name,
    description: t.description,
    category: v.category,
    channels: [...v.channels],
    defaultLocale: v.defaultLocale,
    layout: v.layout,
    variables: v.variables.map((x) => ({
      name: x.name,
      type: x.type,
      required: x.required,
      sample: x.sample ? sampleText(toJson(ValueSchema, x.sample)) : "",
      description: x.description,
    })),
    contents: Object.fromEntries(v.contents.map((c) => [c.locale, { ...c.parts }])),
    note: "",
  };
}

/**
 * A sample as typed in the editor, read by the variable's type: strings and URLs as they are, numbers
 * and booleans parsed, lists and objects as JSON (text that is not JSON stays a string, and the
 * server's type check reports it).
 */
export function parseSample(text: string, type: VariableType): JsonValue | undefined {
  if (text.trim() === "") return undefined;
  if (type === VariableType.STRING || type === VariableType.URL) return text;
  if (type === VariableType.NUMBER && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** The editor's text for a stored sample: the inverse of parseSample. */
export function sampleText(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function toVariables(d: Draft) {
  return d.variables
    .filter((v) => v.name.trim())
    .map((v) => {
      const s = parseSample(v.sample, v.type);
      return create(VariableSchema, {
        name: v.name.trim(),
        type: v.type,
        required: v.required,
        description: v.description,
        sample: s === undefined ? undefined : fromJson(ValueSchema, s),
      });
    });
}

/** Only the parts of the chosen channels, so a dropped channel's leftovers are not sent. */
export function toContents(d: Draft) {
  const parts = new Set(d.channels.flatMap((c) => PARTS_BY_CHANNEL[c] ?? []));
  return Object.entries(d.contents).map(([locale, ps]) =>
    create(LocaleContentSchema, { locale, parts: Object.fromEntries(Object.entries(ps).filter(([k]) => parts.has(k))) }),
  );
}

/** Send data for a test: each top-level variable's sample (fields of lists and objects ride inside). */
export function sampleData(d: Draft): JsonObject {
  const out: JsonObject = {};
  for (const v of d.variables) {
    const name = v.name.trim();
    if (!name || name.includes(".")) continue;
    const s = parseSample(v.sample, v.type);
    if (s !== undefined) out[name] = s;
  }
  return out;
}

import { structuredPatch } from "diff";
import { CHANNEL_PARTS } from "./parts.js";
import type { StoredVersion } from "./manage.js";
import type { VariableSpec } from "./types.js";

/** One changed part, as unified diff lines (hunk headers, then " ", "-", "+" lines). */
export interface PartDiff {
  locale: string;
  part: string;
  lines: string[];
}

const PART_ORDER = Object.values(CHANNEL_PARTS).flatMap((ps) => ps.map((p) => p.name));

function unified(a: string, b: string, context: number): string[] {
  if (a === b) return [];
  // A final newline on both sides keeps "\ No newline at end of file" out of every hunk.
  const fix = (s: string) => (s === "" || s.endsWith("\n") ? s : `${s}\n`);
  const patch = structuredPatch("a", "b", fix(a), fix(b), "", "", { context });
  const out: string[] = [];
  for (const h of patch.hunks) {
    out.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    out.push(...h.lines);
  }
  return out;
}

function settingsText(v: StoredVersion): string {
  return [
    `category: ${v.version.category}`,
    `channels: ${v.version.channels.join(", ")}`,
    `default_locale: ${v.version.defaultLocale}`,
    `layout: ${v.layout ? `${v.layout.key} v${v.layout.version}` : "(none)"}`,
  ].join("\n");
}

function variableLine(s: VariableSpec): string {
  const sample = s.sample === undefined ? "" : ` sample=${JSON.stringify(s.sample)}`;
  return `${s.name}: ${s.type}${s.required ? ", required" : ""}${sample}${s.description ? ` -- ${s.description}` : ""}`;
}

function variablesText(v: StoredVersion): string {
  return [...v.version.variables].sort((x, y) => x.name.localeCompare(y.name)).map(variableLine).join("\n");
}

function partRank(name: string): number {
  const i = PART_ORDER.indexOf(name);
  return i < 0 ? PART_ORDER.length : i;
}

/** The differences between two versions: settings, variables, then every part of every locale. */
export function diffVersions(from: StoredVersion, to: StoredVersion, context = 3): PartDiff[] {
  const out: PartDiff[] = [];
  const push = (locale: string, part: string, a: string, b: string) => {
    const lines = unified(a, b, context);
    if (lines.length > 0) out.push({ locale, part, lines });
  };
  push("", "settings", settingsText(from), settingsText(to));
  push("", "variables", variablesText(from), variablesText(to));
  const locales = [...new Set([...from.contents.keys(), ...to.contents.keys()])].sort();
  for (const locale of locales) {
    const a = from.contents.get(locale) ?? {};
    const b = to.contents.get(locale) ?? {};
    const parts = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(
      (x, y) => partRank(x) - partRank(y) || x.localeCompare(y),
    );
    for (const part of parts) push(locale, part, a[part] ?? "", b[part] ?? "");
  }
  return out;
}

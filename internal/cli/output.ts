import type { DescEnum } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** Left-aligned columns separated by two spaces, with a header row; cells are single-line. */
export function formatTable(headers: string[], rows: string[][]): string {
  const clean = rows.map((r) => r.map((c) => c.replace(/\s+/g, " ")));
  const widths = headers.map((h, i) => Math.max(h.length, ...clean.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), ...clean.map(line)].join("\n") + "\n";
}

/** "2025-03-01 18:00:05Z", or "-" when unset. */
export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return "-";
  return timestampDate(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** The enum value's name without its type prefix, lower case: DELIVERY_STATUS_SENT -> "sent". */
export function enumLabel(desc: DescEnum, value: number): string {
  const v = desc.values.find((x) => x.number === value);
  if (!v) return String(value);
  const name = v.name.toLowerCase();
  const prefix = desc.sharedPrefix; // lower case with the trailing "_", e.g. "delivery_status_"
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Key: value lines with aligned values, for a single record. */
export function formatFields(fields: [string, string][]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join("\n") + "\n";
}

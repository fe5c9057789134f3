/**
 * The one place that knows which parts each channel renders. A new channel adds one entry here (or
 * its module exports the same shape and is added to CHANNEL_PARTS); validation, rendering, Preview
 * and Diff all read this map.
 */

/** How a part is rendered: "html" escapes HTML; "line" is plain text on one line (CR/LF removed); "text" is plain text. */
export type PartKind = "html" | "line" | "text";

export interface PartSpec {
  name: string;
  kind: PartKind;
  /** The part is wrapped in the template's layout (layout parts of the same name). */
  layout?: boolean;
}

export const CHANNEL_PARTS: Readonly<Record<string, readonly PartSpec[]>> = {
  email: [
    { name: "subject", kind: "line" },
    { name: "html", kind: "html", layout: true },
    { name: "text", kind: "text", layout: true },
  ],
  websocket: [
    { name: "title", kind: "line" },
    { name: "body", kind: "text" },
  ],
  sms: [{ name: "sms", kind: "text" }],
};

/** Parts a layout has; the template's rendered part goes into the layout's {{{content}}}. */
export const LAYOUT_PARTS: readonly PartSpec[] = [
  { name: "html", kind: "html" },
  { name: "text", kind: "text" },
];

export function knownChannels(): string[] {
  return Object.keys(CHANNEL_PARTS);
}

export function isKnownChannel(channel: string): boolean {
  return Object.hasOwn(CHANNEL_PARTS, channel);
}

/** The parts of a channel, or undefined when the channel is unknown. */
export function channelParts(channel: string): readonly PartSpec[] | undefined {
  return isKnownChannel(channel) ? CHANNEL_PARTS[channel] : undefined;
}

/** The parts of several channels, each part once (channels may share a part name). */
export function partsOfChannels(channels: readonly string[]): PartSpec[] {
  const out = new Map<string, PartSpec>();
  for (const ch of channels) for (const p of channelParts(ch) ?? []) if (!out.has(p.name)) out.set(p.name, p);
  return [...out.values()];
}

/** Limits on template sources and rendered output, in UTF-8 bytes. */
export const MAX_SOURCE_BYTES = 256 * 1024;
export const MAX_OUTPUT_BYTES = 1024 * 1024;

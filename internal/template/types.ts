import type { User } from "../../gen/cinema/users/v1/user_directory_pb.js";

/** The types a template variable may declare; Send data is checked against them. */
export type VariableType = "string" | "number" | "boolean" | "url" | "list" | "object";

export const VARIABLE_TYPES: readonly VariableType[] = ["string", "number", "boolean", "url", "list", "object"];

/**
 * One declared variable. Dotted names describe fields: "user.name" is the field name of the object
 * user; "films.title" is the field title of every item of the list films.
 */
export interface VariableSpec {
  name: string;
  type: VariableType;
  required: boolean;
  sample?: unknown;
  description?: string;
}

export type Category = "transactional" | "marketing" | "service";

export const CATEGORIES: readonly Category[] = ["transactional", "marketing", "service"];

/** A template version pinned by Send; everything the pipeline needs to plan and later render it. */
export interface PinnedTemplate {
  templateId: number;
  versionId: number;
  key: string;
  version: number;
  category: string;
  channels: string[];
  defaultLocale: string;
  locales: string[];
  variables: VariableSpec[];
}

/** One channel's rendered parts, e.g. subject, html (layout applied), text; title, body; sms. */
export interface RenderedMessage {
  locale: string;
  parts: Record<string, string>;
}

export interface TemplateCatalog {
  /** Pins a version for Send. ConnectError NotFound naming the field ("template") when the key/version is unknown; FailedPrecondition when archived. */
  resolveForSend(key: string, version?: number, field?: string): Promise<PinnedTemplate>;
  /** Validates Send data against the schema; throws ConnectError InvalidArgument whose message names the offending field as `${fieldPrefix}.${var}` (e.g. "data.film_title: required variable missing"). Variables under "user." are filled by enrichment and are not checked here. */
  validateData(t: PinnedTemplate, data: Record<string, unknown>, fieldPrefix?: string): void;
  /** Renders one channel's parts of a pinned version in the best locale (requested -> template default). Compiled templates cached per version+locale; a miss loads from MariaDB. Unsubscribe URL etc. arrive in data. */
  render(versionId: number, locale: string | undefined, channel: string, data: Record<string, unknown>): Promise<RenderedMessage>;
  /**
   * Whether rendering a version on a channel depends on who the user is: its parts (or their layout)
   * read `user.*`, or it has more than one locale and the sender named none (the user's locale then
   * chooses). A worker skips the user directory for a delivery that needs neither this nor an address.
   */
  needsUser(versionId: number, channel: string, locale: string | undefined): Promise<boolean>;
}

/** Where Preview finds a real user's data (the user directory client, batched and rate limited). */
export interface UserLookup {
  getUsers(ids: string[]): Promise<Map<string, User>>;
}

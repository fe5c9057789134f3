import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import type { VariableSpec } from "./types.js";

/**
 * Variables every template may use without declaring them. user.* is filled by enrichment from the
 * user directory just before rendering; the *_url variables are filled by the platform (unsubscribe
 * and preference links by the delivery worker, confirm_url by the links module). None of them is
 * required at Send, but when a caller passes one it must have the declared type.
 */
export const USER_VARIABLES: readonly VariableSpec[] = [
  { name: "user", type: "object", required: false, description: "The recipient, from the user directory." },
  { name: "user.id", type: "string", required: false, sample: "u-1001", description: "User id." },
  { name: "user.name", type: "string", required: false, sample: "Anna", description: "Display name." },
  { name: "user.email", type: "string", required: false, sample: "anna@example.com", description: "Email address." },
  { name: "user.locale", type: "string", required: false, sample: "en", description: "Locale, e.g. ru or en." },
  { name: "user.time_zone", type: "string", required: false, sample: "Europe/Moscow", description: "IANA time zone." },
  {
    name: "user.favourite_genres",
    type: "list",
    required: false,
    sample: ["drama", "sci-fi"],
    description: "Favourite genres; use {{#user.favourite_genres}}{{.}}{{/user.favourite_genres}}.",
  },
  { name: "user.phone", type: "string", required: false, sample: "+79001234567", description: "Phone in E.164." },
  { name: "user.birthday", type: "string", required: false, sample: "1990-05-17", description: "Birthday, YYYY-MM-DD." },
  { name: "user.email_confirmed", type: "boolean", required: false, sample: true, description: "Email confirmed." },
  {
    name: "user.subscription_expires_at",
    type: "string",
    required: false,
    sample: "2025-06-01T00:00:00.000Z",
    description: "When the subscription ends (ISO 8601); empty without a subscription.",
  },
];

export const PLATFORM_VARIABLES: readonly VariableSpec[] = [
  {
    name: "unsubscribe_url",
    type: "url",
    required: false,
    sample: "https://cinema.example/u/sample-token",
    description: "One-click unsubscribe link; present on marketing mail only.",
  },
  {
    name: "preferences_url",
    type: "url",
    required: false,
    sample: "https://cinema.example/settings/notifications",
    description: "The user's notification settings page.",
  },
  {
    name: "confirm_url",
    type: "url",
    required: false,
    sample: "https://cinema.example/l/AbCdEfGhIjKlMnOpQrStUv",
    description: "Short email confirmation link (welcome mail).",
  },
  { name: "site_url", type: "url", required: false, sample: "https://cinema.example/", description: "The cinema's home page." },
];

export const BUILTIN_VARIABLES: readonly VariableSpec[] = [...USER_VARIABLES, ...PLATFORM_VARIABLES];

/** Variables only a layout sees: the rendered template part and the rendered subject. */
export const LAYOUT_VARIABLES: readonly VariableSpec[] = [
  { name: "content", type: "string", required: false, description: "The rendered template part; use {{{content}}}." },
  { name: "subject", type: "string", required: false, sample: "Subject", description: "The rendered subject." },
];

const BUILTIN_NAMES = new Set(BUILTIN_VARIABLES.map((v) => v.name));

export function isBuiltinVariable(name: string): boolean {
  return BUILTIN_NAMES.has(name) || name.startsWith("user.");
}

/** Filled by enrichment after Send, so Send does not check them. */
export function isEnrichmentVariable(name: string): boolean {
  return name === "user" || name.startsWith("user.");
}

/** The user.* variables of a user from the directory: what enrichment puts under data.user. */
export function userToVariables(user: User): Record<string, unknown> {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    locale: user.locale,
    time_zone: user.timeZone,
    favourite_genres: [...user.favouriteGenres],
    phone: user.phone,
    birthday: user.birthday,
    email_confirmed: user.emailConfirmed,
    subscription_expires_at: user.subscriptionExpiresAt ? timestampDate(user.subscriptionExpiresAt).toISOString() : "",
  };
}

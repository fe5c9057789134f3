import { createClient, ConnectError, Code, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { AdminService } from "../../../gen/notify/v1/admin_service_pb.js";
import { NotificationService } from "../../../gen/notify/v1/notification_service_pb.js";
import { TemplateService } from "../../../gen/notify/v1/template_service_pb.js";

/**
 * The panel calls the platform's own Connect services on the origin it was served from; the session
 * cookie (HttpOnly, SameSite=Strict) goes along because the calls are same-origin. Connect's JSON
 * format keeps requests readable in the browser's network tab.
 */
const transport = createConnectTransport({
  baseUrl: window.location.origin,
  useBinaryFormat: false,
  fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "same-origin" }),
});

const clients = new Map<DescService, unknown>();

/** A typed client for any generated service (pages of later areas use their own services the same way). */
export function client<S extends DescService>(service: S): Client<S> {
  let c = clients.get(service) as Client<S> | undefined;
  if (!c) {
    c = createClient(service, transport);
    clients.set(service, c);
  }
  return c;
}

export const admin = () => client(AdminService);
export const notifications = () => client(NotificationService);
export const templates = () => client(TemplateService);

/** Listeners told when a call finds the session gone, so the app returns to the sign-in page. */
const signedOut = new Set<() => void>();
export function onSignedOut(fn: () => void): () => void {
  signedOut.add(fn);
  return () => signedOut.delete(fn);
}

/** A readable message for an error, and a sign-out notice when the session ended. */
export function errorText(err: unknown): string {
  if (err instanceof ConnectError) {
    if (err.code === Code.Unauthenticated) for (const fn of signedOut) fn();
    return `${Code[err.code]}: ${err.rawMessage}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export { Code, ConnectError };

import type { Logger } from "../log/logger.js";
import type { User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import type { Availability } from "../reliability/availability.js";

/** Who a delivery goes to: a user of the cinema (enriched from the user directory) or a bare address. */
export interface Recipient {
  userId?: string;
  /** Bare address given at Send (email channel). */
  address?: string;
  user?: User;
}

export interface OutgoingMessage {
  deliveryId: string;
  notificationId: string;
  category: string;
  templateKey?: string;
  senderId?: string;
  recipient: Recipient;
  /** Rendered template parts for this channel (email: subject, html, text). */
  parts: Record<string, string>;
  /** Extra headers, e.g. List-Unsubscribe for marketing email. */
  headers: Record<string, string>;
  /** Automatic (system-generated) rather than a person's mailing. */
  automatic: boolean;
  /** The delivery's logger: every line about this delivery carries its ids, channel and attempt. */
  log: Logger;
  /** The history's detail for this attempt ("attempt 2"), for a channel that records `sent` itself. */
  sentDetail: string;
}

export interface SendResult {
  /** The channel's id of what was sent (the email Message-ID...). */
  messageId: string;
  /**
   * The channel recorded the delivery as sent itself, in the transaction that stored its message
   * (in-app: with the inbox row, before the frame left), so the worker does not.
   */
  recorded?: boolean;
}

/**
 * A delivery channel. Adding one is a new file in internal/channel that exports a factory, plus one
 * line in registry.ts; its settings come from NOTIFY_CHANNEL_<NAME>_* variables. The template parts it
 * renders are declared once, in internal/template/parts.ts (CHANNEL_PARTS), which validation, rendering
 * and preview all read.
 */
export interface Channel {
  readonly name: string;
  /** Whether a bare address (not a user id) can be delivered on this channel. */
  readonly takesBareAddress: boolean;
  /** The address to use for this recipient, or undefined when the user has none for this channel. */
  address(r: Recipient): string | undefined;
  send(msg: OutgoingMessage): Promise<SendResult>;
  /** Per-dependency state for /readyz (breaker open/closed...). */
  status?(): Record<string, string>;
  /**
   * False while every route out is down (all breakers open): its workers stop pulling and wait
   * instead of burning attempts. Absent means always available.
   */
  readonly availability?: Availability;
  close(): Promise<void>;
}

/** A failure with its retry class: transient errors are retried with back-off, permanent ones never. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly reason = transient ? "transient" : "permanent",
    /** The peer may have accepted the message before the failure (connection lost after DATA). */
    readonly uncertain = false,
  ) {
    super(message);
    this.name = "DeliveryError";
  }
}

export interface ChannelDeps {
  log: Logger;
  /** Settings from NOTIFY_CHANNEL_<NAME>_<KEY> variables, keys lower-cased without the prefix. */
  settings: Record<string, string>;
}

import type { CarriedProfile } from "../users/profile.js";

/** Stored notification states (notifications.status). */
export const NotificationState = { Accepted: 1, Planned: 2 } as const;

/**
 * Stored delivery states (deliveries.status); the numbers equal notify.v1.DeliveryStatus so the API
 * maps them without a table.
 */
export const DeliveryState = {
  Pending: 1,
  Sending: 2,
  Sent: 3,
  Delivered: 4,
  Read: 5,
  Failed: 6,
  Skipped: 7,
  Dead: 8,
  Cancelled: 9,
} as const;
export type DeliveryStateValue = (typeof DeliveryState)[keyof typeof DeliveryState];

/** States after which nothing more is sent for a delivery. */
export const FINAL_STATES: readonly number[] = [
  DeliveryState.Sent,
  DeliveryState.Delivered,
  DeliveryState.Read,
  DeliveryState.Failed,
  DeliveryState.Skipped,
  DeliveryState.Dead,
  DeliveryState.Cancelled,
];

/** Body of a message on the requests subject. */
export interface RequestMessage {
  notificationId: string;
}

/** Body of a message on a deliver.<channel> subject: all a worker needs besides the shared data. */
export interface DeliverMessage {
  /** delivery id */
  d: string;
  /** notification id */
  n: string;
  /** channel */
  ch: string;
  /** user id (absent for a bare address) */
  u?: string;
  /** bare address (email) */
  a?: string;
  /** template version id */
  v: number;
  /** locale asked for by the sender ("" = the user's) */
  l: string;
  /** category */
  c: string;
  /**
   * The notification's own fields, carried when it is small and not a campaign's (one notification,
   * few deliveries), so the worker need not read its row; absent, the worker reads the row once per
   * notification.
   */
  x?: { data: string; template: string; sender: string };
  /**
   * The recipient's profile as a campaign's fan-out read it from the directory (users/profile.ts): a
   * worker that gets the message within a minute uses it instead of asking the user service again.
   */
  p?: CarriedProfile;
  /**
   * Attempts made before this message was published (a delivery tried first in the process that
   * planned it, internal/delivery/local.ts); the broker's count starts again at 1.
   */
  k?: number;
}

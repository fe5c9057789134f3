/** notifyd settings for chaos runs: short timers so recovery is visible within seconds. */
export const CHAOS_ENV: Record<string, string> = {
  // MaxDeliver 7; the last retry ~20 s after the first attempt.
  NOTIFY_RETRY_BACKOFF: "500ms,1s,2s,3s,5s,8s",
  NOTIFY_ACK_WAIT: "3s",
  NOTIFY_LEASE: "5s",
  NOTIFY_RECONCILE_AFTER: "15s",
  NOTIFY_RECONCILE_EVERY: "3s",
  NOTIFY_BREAKER_THRESHOLD: "5",
  NOTIFY_BREAKER_WINDOW: "10s",
  NOTIFY_BREAKER_PROBE: "1s",
  NOTIFY_RAMP_DURATION: "5s",
  NOTIFY_SMTP_RATE: "400",
  NOTIFY_SHUTDOWN_GRACE: "5s",
  NOTIFY_RELAY_POLL: "250ms",
  NOTIFY_WORKER_BATCH: "64",
};

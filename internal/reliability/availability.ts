/**
 * Whether a dependency (or a channel made of several) can take calls now. Workers wait on it before
 * claiming a delivery, and consumer loops pause while it is false, so an outage parks messages in the
 * stream instead of burning their attempts.
 */
export interface Availability {
  readonly available: boolean;
  /** Resolves once calls may go through; rejects with the signal's reason when it aborts first. */
  whenAvailable(signal?: AbortSignal): Promise<void>;
  /** Called on every change; returns the unsubscribe function. */
  onChange(fn: (available: boolean) => void): () => void;
}

/** A settable availability, the building block of breakers and combinations. */
export function createAvailability(initial = true): Availability & { set(v: boolean): void } {
  let available = initial;
  const listeners = new Set<(v: boolean) => void>();
  let waiters: (() => void)[] = [];
  return {
    get available() {
      return available;
    },
    set(v: boolean) {
      if (v === available) return;
      available = v;
      if (v) {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      }
      for (const l of [...listeners]) l(v);
    },
    whenAvailable(signal) {
      if (available) return Promise.resolve();
      if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("aborted"));
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          waiters = waiters.filter((w) => w !== done);
          reject(signal?.reason ?? new Error("aborted"));
        };
        waiters.push(done);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** Available while at least one of the parts is (a channel with a fallback relay). */
export function anyAvailable(parts: Availability[]): Availability {
  const out = createAvailability(parts.length === 0 || parts.some((p) => p.available));
  for (const p of parts) p.onChange(() => out.set(parts.some((q) => q.available)));
  return out;
}

/** Available only while every part is (a worker that needs the user service and a channel). */
export function allAvailable(parts: Availability[]): Availability {
  const out = createAvailability(parts.every((p) => p.available));
  for (const p of parts) p.onChange(() => out.set(parts.every((q) => q.available)));
  return out;
}

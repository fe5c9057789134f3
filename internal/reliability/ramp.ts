export interface RampOptions {
  /** Sets the allowed share of the full rate, 0..1. */
  apply(fraction: number): void;
  /** Share to start from when the ramp begins (e.g. 0.1). */
  startFraction: number;
  durationMs: number;
  /** Step length; the rate rises linearly, one step at a time. */
  stepMs?: number;
}

export interface Ramp {
  /** Starts (or restarts) climbing from startFraction to 1. */
  start(): void;
  /** Jumps to full rate and stops climbing. */
  finish(): void;
  readonly fraction: number;
  readonly ramping: boolean;
}

/**
 * After a dependency comes back, its load returns gradually: a relay or user service that just
 * recovered is not hit at once by the whole backlog, which would knock it over again.
 */
export function createRamp(o: RampOptions): Ramp {
  const step = o.stepMs ?? 1000;
  let fraction = 1;
  let timer: NodeJS.Timeout | undefined;
  let began = 0;

  const set = (f: number) => {
    fraction = Math.min(1, Math.max(o.startFraction, f));
    o.apply(fraction);
  };
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };

  return {
    start() {
      stop();
      if (o.durationMs <= 0 || o.startFraction >= 1) return set(1);
      began = Date.now();
      set(o.startFraction);
      timer = setInterval(() => {
        const f = o.startFraction + ((1 - o.startFraction) * (Date.now() - began)) / o.durationMs;
        set(f);
        if (f >= 1) stop();
      }, step);
      timer.unref();
    },
    finish() {
      stop();
      set(1);
    },
    get fraction() {
      return fraction;
    },
    get ramping() {
      return timer !== undefined;
    },
  };
}

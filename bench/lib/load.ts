/** Calls fn(0..n-1) from `concurrency` callers, each awaiting its call before taking the next index. */
export async function callers(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/**
 * The rate of `n` calls from `concurrency` callers once both ends are warm. Rounds of `n` calls are
 * repeated until one's rate is within `tolerance` of the round before (JIT, pools and caches have
 * settled), at most `maxRounds`, and the last round's rate is the answer: measured here, a fresh
 * grpc-js client and server run at half speed for their first few thousand calls, and a baseline timed
 * cold would flatter every ratio against it. `beforeRound` runs just before each round starts (to take
 * CPU counters for the round that counts); `fn` gets the round number, for distinct keys.
 */
export async function steadyRate(
  n: number,
  concurrency: number,
  fn: (i: number, round: number) => Promise<unknown>,
  o: { tolerance?: number; maxRounds?: number; beforeRound?: () => void } = {},
): Promise<{ rate: number; rounds: number }> {
  const tolerance = o.tolerance ?? 0.1;
  const maxRounds = o.maxRounds ?? 4;
  let prev = NaN;
  for (let round = 1; ; round++) {
    o.beforeRound?.();
    const t0 = performance.now();
    await callers(n, concurrency, (i) => fn(i, round));
    const rate = n / ((performance.now() - t0) / 1000);
    if (round >= maxRounds || Math.abs(rate - prev) <= tolerance * prev) return { rate, rounds: round };
    prev = rate;
  }
}

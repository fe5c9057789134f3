/** Calls fn(0..n-1) from `concurrency` callers, each awaiting its call before taking the next index. */
export async function callers(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

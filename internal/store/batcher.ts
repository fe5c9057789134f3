/**
 * Gathers the calls made close together into one call of `run`: concurrent deliveries then share one
 * database round trip instead of paying one each. Each caller still awaits its own result, so nothing
 * that depends on a write having happened (an ack, a send) runs before it did.
 *
 * A batch leaves when it holds `maxItems`, or `maxDelayMs` after its first item (0: at the end of the
 * current turn of the event loop, which adds no wait when calls come one at a time). `run` returns one
 * result per item, in order; if it throws, every caller of that batch gets the error.
 */
export interface BatcherOptions<I, O> {
  run: (items: I[]) => Promise<O[]>;
  maxItems?: number;
  maxDelayMs?: number;
}

export function createBatcher<I, O>(o: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const maxItems = o.maxItems ?? 100;
  const maxDelayMs = o.maxDelayMs ?? 0;
  let queue: { item: I; resolve: (v: O) => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  const flush = () => {
    if (timer) {
      if (maxDelayMs > 0) clearTimeout(timer as NodeJS.Timeout);
      else clearImmediate(timer as NodeJS.Immediate);
      timer = undefined;
    }
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    o.run(batch.map((b) => b.item)).then(
      (out) => {
        if (out.length !== batch.length) {
          const err = new Error(`batch returned ${out.length} results for ${batch.length} items`);
          for (const b of batch) b.reject(err);
          return;
        }
        batch.forEach((b, i) => b.resolve(out[i]));
      },
      (err) => {
        for (const b of batch) b.reject(err);
      },
    );
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= maxItems) flush();
      else if (!timer) timer = maxDelayMs > 0 ? setTimeout(flush, maxDelayMs) : setImmediate(flush);
    });
}

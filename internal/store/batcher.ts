/**
 * Gathers the calls made close together into one call of `run`: concurrent deliveries then share one
 * database round trip instead of paying one each. Each caller still awaits its own result, so nothing
 * that depends on a write having happened (an ack, a send) runs before it did.
 *
 * A batch leaves when it holds `maxItems`, or `maxDelayMs` after its first item (0: at the end of the
 * current turn of the event loop, which adds no wait when calls come one at a time). With
 * `maxConcurrent`, a batch that is due while that many are under way waits for one of them to finish,
 * gathering more items meanwhile: under load batches grow by themselves, at low load nothing waits.
 * `run` returns one result per item, in order; if it throws, every caller of that batch gets the error.
 */
export interface BatcherOptions<I, O> {
  run: (items: I[]) => Promise<O[]>;
  maxItems?: number;
  maxDelayMs?: number;
  maxConcurrent?: number;
}

export function createBatcher<I, O>(o: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const maxItems = o.maxItems ?? 100;
  const maxDelayMs = o.maxDelayMs ?? 0;
  const maxConcurrent = o.maxConcurrent ?? Infinity;
  let running = 0;
  let queue: { item: I; resolve: (v: O) => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  const flush = () => {
    if (timer) {
      if (maxDelayMs > 0) clearTimeout(timer as NodeJS.Timeout);
      else clearImmediate(timer as NodeJS.Immediate);
      timer = undefined;
    }
    while (queue.length > 0 && running < maxConcurrent) start(queue.splice(0, maxItems));
  };

  const start = (batch: typeof queue) => {
    running++;
    new Promise<O[]>((resolve) => resolve(o.run(batch.map((b) => b.item))))
      .then(
        (out) => {
          if (out.length !== batch.length) throw new Error(`batch returned ${out.length} results for ${batch.length} items`);
          batch.forEach((b, i) => b.resolve(out[i]));
        },
        (err) => {
          for (const b of batch) b.reject(err);
        },
      )
      .catch((err) => {
        for (const b of batch) b.reject(err);
      })
      .finally(() => {
        running--;
        // Items left behind while every slot was busy; a pending timer flushes the others.
        if (queue.length > 0 && !timer) flush();
      });
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= maxItems) flush();
      else if (!timer) timer = maxDelayMs > 0 ? setTimeout(flush, maxDelayMs) : setImmediate(flush);
    });
}

/**
 * A batcher for lookups by key: `load` answers many distinct keys at once (one `IN (...)` query);
 * each caller gets the value for its key, or undefined.
 */
export function createKeyedBatcher<K, V>(
  load: (keys: K[]) => Promise<Map<K, V>>,
  o: Omit<BatcherOptions<K, V | undefined>, "run"> = {},
): (key: K) => Promise<V | undefined> {
  return createBatcher<K, V | undefined>({
    maxItems: 500,
    maxConcurrent: 2,
    ...o,
    run: async (keys) => {
      const found = await load([...new Set(keys)]);
      return keys.map((k) => found.get(k));
    },
  });
}

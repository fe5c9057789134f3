import { headers as natsHeaders, type JetStreamClient, type PubAck } from "nats";

export interface OutMessage {
  subject: string;
  /** Broker dedup id: the same id within the dedup window is stored once. */
  msgId: string;
  data: Uint8Array;
  headers?: Record<string, string>;
}

/**
 * Publishes many messages with up to `window` publishes awaiting their ack at once: one-at-a-time
 * publishing caps throughput at the broker round-trip (~3.5k/s here), an unbounded burst spikes it.
 * Rejects if any publish fails; messages already stored stay stored and a retry is deduplicated.
 */
export async function publishAll(js: JetStreamClient, msgs: OutMessage[], window = 256): Promise<PubAck[]> {
  const acks: PubAck[] = new Array(msgs.length);
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < msgs.length) {
      const i = next++;
      const m = msgs[i];
      try {
        let h;
        if (m.headers) {
          h = natsHeaders();
          for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
        }
        acks[i] = await js.publish(m.subject, m.data, { msgID: m.msgId, headers: h, timeout: 10_000 });
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, msgs.length) }, lane));
  if (failed !== undefined) throw failed;
  return acks;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export function decodeJson<T>(data: Uint8Array): T {
  return JSON.parse(dec.decode(data)) as T;
}

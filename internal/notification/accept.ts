import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Db, TxConn } from "../store/db.js";
import { withTx } from "../store/db.js";
import { createBatcher } from "../store/batcher.js";
import { newId } from "../ids/ids.js";
import type { PinnedTemplate, TemplateCatalog } from "../template/index.js";
import type { Topology } from "../bus/topology.js";
import { invalid, type NormalRequest } from "./validate.js";
import { NotificationState } from "./model.js";
import type { NotificationRow } from "./queries.js";
import type { Handoff } from "../planner/handoff.js";

export interface Accepted {
  notificationId: string;
  duplicate: boolean;
  acceptedAt: Date;
}

export interface AcceptDeps {
  db: Db;
  templates: TemplateCatalog;
  topology: Topology;
  /** Channel names the platform can deliver on. */
  channels: () => string[];
  /**
   * Called after each commit that created notifications: `handedOff` when they went to the planner in
   * this process (their outbox rows are not due yet), otherwise the relay should wake up now.
   */
  onCommitted?: (fresh: number, handedOff: boolean) => void;
  /** The planner in this process, when there is one: single Sends are planned here (see planner/handoff.ts). */
  handoff?: Handoff;
}

interface Prepared {
  req: NormalRequest;
  pinned: PinnedTemplate;
  channels: string[];
  category: string;
  hash: string;
  id: string;
}

/**
 * Accepts notifications: pins the template version, validates the data against it, and writes the
 * notification rows plus their outbox rows in ONE transaction, replying only after COMMIT. A single
 * Send is a batch of one, so both RPCs share this path.
 */
export function createAcceptor(deps: AcceptDeps) {
  const topic = deps.topology.subjects.requests;
  const prepare = async (req: NormalRequest, prefix: string, pinned: PinnedTemplate): Promise<Prepared> => {
    const known = new Set(deps.channels());
    req.channels.forEach((c, i) => {
      if (!known.has(c)) throw invalid(`${prefix}channels[${i}]`, `unknown channel "${c}"; known: ${[...known].join(", ")}`);
      if (!pinned.channels.includes(c)) {
        throw invalid(`${prefix}channels[${i}]`, `template "${pinned.key}" has no content for channel "${c}"`);
      }
    });
    const channels = req.channels.length ? req.channels : pinned.channels.filter((c: string) => known.has(c));
    deps.templates.validateData(pinned, req.data, `${prefix}data`);
    // A sender may make a notification more subject to the user's choices (marketing), never less:
    // relabelling a marketing template as transactional would bypass opt-outs.
    if (req.category && req.category !== pinned.category && req.category !== "marketing") {
      throw invalid(`${prefix}category`, `template "${pinned.key}" is ${pinned.category}; it can only be sent as ${pinned.category} or marketing`);
    }
    // The hash covers everything that changes what is sent, so a retry with other content under the
    // same key is detected instead of silently answered with the first notification.
    const hash = createHash("sha256")
      .update(
        JSON.stringify([
          pinned.key,
          pinned.version,
          req.recipients,
          channels,
          req.category || pinned.category,
          req.dataJson,
          req.sendAfter?.toISOString() ?? "",
          req.locale,
          req.senderId,
        ]),
      )
      .digest("hex");
    return { req, pinned, channels, category: req.category || pinned.category, hash, id: newId() };
  };

  // Group commit: single Sends arriving together share one transaction (and one fsync), which is
  // what lets many concurrent callers approach the database's raw commit rate.
  const single = createBatcher<Item, Accepted | ConnectError>({
    maxItems: 500,
    maxConcurrent: 2,
    run: async (items) => {
      // Items of a group are independent (a conflict fails its own caller only), so the COMMIT rides
      // with the writes: one round trip for the whole group.
      const local = deps.handoff?.accepting() ? deps.handoff : undefined;
      const availableAt = local ? new Date(Date.now() + local.graceMs) : new Date();
      const r = await withTx(deps.db, (c) => write(c, items, topic, true, availableAt));
      if (r.fresh.length > 0) {
        // A Send for later waits in the outbox until its send_after, whoever accepted it.
        const now = Date.now();
        local?.take(r.fresh.filter((n) => !n.send_after || n.send_after.getTime() <= now));
        deps.onCommitted?.(r.fresh.length, local !== undefined);
      }
      return r.out;
    },
  });

  return async function accept(source: string, reqs: NormalRequest[], prefixes: string[]): Promise<Accepted[]> {
    const keys = new Map<string, number>();
    reqs.forEach((r, i) => {
      const prev = keys.get(r.idempotencyKey);
      if (prev !== undefined) throw invalid(`${prefixes[i]}idempotency_key`, `repeats items[${prev}]`);
      keys.set(r.idempotencyKey, i);
    });
    // A batch usually names few templates: pin each (key, version) once, not once per item.
    const pins = new Map<string, Promise<PinnedTemplate>>();
    const pin = (r: NormalRequest, prefix: string) => {
      const k = `${r.template}\u0000${r.templateVersion}`;
      let p = pins.get(k);
      if (!p) {
        p = deps.templates.resolveForSend(r.template, r.templateVersion || undefined, `${prefix}template`);
        pins.set(k, p);
      }
      return p;
    };
    const prepared: Prepared[] = [];
    for (let i = 0; i < reqs.length; i++) prepared.push(await prepare(reqs[i], prefixes[i], await pin(reqs[i], prefixes[i])));

    if (prepared.length === 1) {
      const r = await single({ source, p: prepared[0], prefix: prefixes[0] });
      if (r instanceof ConnectError) throw r;
      return [r];
    }
    // A batch is all or nothing: one bad item rolls the others back.
    const result = await withTx(deps.db, async (c) => {
      const r = await write(c, prepared.map((p, i) => ({ source, p, prefix: prefixes[i] })), topic, false, new Date());
      const failed = r.out.find((x): x is ConnectError => x instanceof ConnectError);
      if (failed) throw failed;
      return r;
    });
    if (result.fresh.length > 0) deps.onCommitted?.(result.fresh.length, false);
    return result.out as Accepted[];
  };
}

interface Item {
  source: string;
  p: Prepared;
  prefix: string;
}

/** The columns a Send writes; the row as written is what the planner in this process plans from. */
const COLUMNS = [
  "id",
  "source",
  "idempotency_key",
  "payload_hash",
  "template_key",
  "template_version",
  "template_version_id",
  "category",
  "channels",
  "locale",
  "sender_id",
  "data",
  "recipients",
  "recipient_count",
  "status",
  "send_after",
  "created_at",
] as const satisfies readonly (keyof NotificationRow)[];

function rowOf(source: string, p: Prepared, now: Date): NotificationRow {
  return {
    id: p.id,
    source,
    idempotency_key: p.req.idempotencyKey,
    payload_hash: p.hash,
    template_key: p.pinned.key,
    template_version: p.pinned.version,
    template_version_id: p.pinned.versionId,
    category: p.category,
    channels: p.channels.join(","),
    locale: p.req.locale,
    sender_id: p.req.senderId,
    campaign_id: null,
    data: p.req.dataJson,
    recipients: JSON.stringify(p.req.recipients),
    recipient_count: p.req.recipients.length,
    status: NotificationState.Accepted,
    send_after: p.req.sendAfter ?? null,
    created_at: now,
  };
}

/**
 * Writes the notifications and their outbox rows; an item whose key is taken by another notification
 * gets its error in place of a result (its row was not written). A batch that names the same key twice
 * settles it here too: the first is new, the second its duplicate or a conflict. `commit`: the COMMIT
 * goes out with the writes, so nothing after them can roll them back. `availableAt`: when the relay may
 * publish the new outbox rows (a Send with a later send_after is published then). Returns the rows of
 * the notifications created here.
 */
async function write(
  c: TxConn,
  items: Item[],
  topic: string,
  commit: boolean,
  availableAt: Date,
): Promise<{ out: (Accepted | ConnectError)[]; fresh: NotificationRow[] }> {
  const now = new Date();
  const rows = items.map(({ source, p }) => rowOf(source, p, now));
  // INSERT IGNORE, and an outbox row for each notification that exists under an id of this call: ids
  // are new, so those are exactly the rows this INSERT created (a retry's row keeps its first id). The
  // payload is the planner's RequestMessage, {"notificationId": id}. Only when some row was ignored is
  // anything read back, by key: the common case (all new) is one statement packet.
  const sql = `INSERT IGNORE INTO notifications (${COLUMNS.join(", ")}) VALUES ?;
     INSERT INTO outbox (topic, msg_id, payload, available_at)
       SELECT ?, id, JSON_OBJECT('notificationId', id), IF(send_after > ?, send_after, ?) FROM notifications WHERE id IN (?)`;
  const values = [rows.map((r) => COLUMNS.map((c) => r[c])), topic, now, availableAt, items.map(({ p }) => p.id)];
  const [[ins]] = (await (commit ? c.commitWith(sql, values) : c.query(sql, values))) as unknown as [[{ affectedRows: number }, unknown]];
  type Found = { id: string; source: string; idempotency_key: string; payload_hash: string; created_at: Date };
  let found: Found[];
  if (ins.affectedRows === rows.length) {
    found = items.map(({ source, p }) => ({ id: p.id, source, idempotency_key: p.req.idempotencyKey, payload_hash: p.hash, created_at: now }));
  } else {
    found = [];
    const bySource = new Map<string, string[]>();
    for (const { source, p } of items) bySource.set(source, [...(bySource.get(source) ?? []), p.req.idempotencyKey]);
    for (const [source, keys] of bySource) {
      const [r] = (await c.query(
        "SELECT id, source, idempotency_key, payload_hash, created_at FROM notifications WHERE source = ? AND idempotency_key IN (?)",
        [source, keys],
      )) as unknown as [Found[]];
      found.push(...r);
    }
  }
  const byKey = new Map(found.map((r) => [`${r.source}\u0000${r.idempotency_key}`, r]));
  const fresh: NotificationRow[] = [];
  const out = items.map(({ source, p, prefix }, i): Accepted | ConnectError => {
    const row = byKey.get(`${source}\u0000${p.req.idempotencyKey}`);
    if (!row) throw new ConnectError("notification vanished during accept", Code.Internal);
    if (row.id === p.id) {
      fresh.push(rows[i]);
      return { notificationId: p.id, duplicate: false, acceptedAt: now };
    }
    if (row.payload_hash === p.hash) return { notificationId: row.id, duplicate: true, acceptedAt: row.created_at };
    return new ConnectError(
      `${prefix}idempotency_key: "${p.req.idempotencyKey}" was already used for a different notification (${row.id})`,
      Code.AlreadyExists,
    );
  });
  return { out, fresh };
}

export type Acceptor = ReturnType<typeof createAcceptor>;

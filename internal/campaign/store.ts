import { Code, ConnectError } from "@connectrpc/connect";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { invalid } from "../notification/validate.js";
import { DeliveryState } from "../notification/model.js";
import { AudienceKind, CampaignState, FINAL_RUN_STATES, RunState, type CampaignRow, type CampaignSpecNormal, type RunRow } from "./model.js";

// The campaign tables' SQL, in one place.

const specColumns = (s: CampaignSpecNormal) => ({
  name: s.name,
  template_key: s.templateKey,
  template_version: s.templateVersion,
  channels: s.channels.join(","),
  category: s.category,
  locale: s.locale,
  data: JSON.stringify(s.data),
  audience_kind: s.audienceKind,
  segment: JSON.stringify(s.segment),
  schedule_kind: s.scheduleKind,
  schedule_at: s.scheduleAt,
  cron: s.cron,
  time_zone: s.timeZone,
  local_time: s.localTime ? 1 : 0,
  end_at: s.endAt,
  misfire: s.misfire,
  rate: s.rate,
});

export function notFound(id: number): ConnectError {
  return new ConnectError(`campaign ${id} not found`, Code.NotFound);
}

export async function insertCampaign(db: Db, s: CampaignSpecNormal, createdBy: string): Promise<number> {
  const cols = { ...specColumns(s), status: CampaignState.Draft, created_by: createdBy };
  const [r] = (await db.query("INSERT INTO campaigns SET ?", [cols])) as unknown as [{ insertId: number }];
  return Number(r.insertId);
}

export async function getCampaign(db: Db, id: number): Promise<CampaignRow | undefined> {
  const [rows] = (await db.query("SELECT * FROM campaigns WHERE id = ?", [id])) as unknown as [CampaignRow[]];
  return rows[0];
}

export async function requireCampaign(db: Db, id: number): Promise<CampaignRow> {
  if (!id) throw invalid("campaign_id", "required");
  const c = await getCampaign(db, id);
  if (!c) throw notFound(id);
  return c;
}

export async function updateDraft(db: Db, id: number, s: CampaignSpecNormal): Promise<void> {
  const [r] = (await db.query(
    "UPDATE campaigns SET ?, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status = ?",
    [specColumns(s), id, CampaignState.Draft],
  )) as unknown as [{ affectedRows: number }];
  if (r.affectedRows === 0) await mustBeDraft(db, id);
}

async function mustBeDraft(db: Db, id: number): Promise<never> {
  const c = await getCampaign(db, id);
  if (!c) throw notFound(id);
  throw new ConnectError(`campaign ${id} is no longer a draft; only drafts can be edited`, Code.FailedPrecondition);
}

export async function listCampaigns(db: Db, o: { status?: number; limit: number; beforeId?: number }): Promise<CampaignRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (o.status) {
    where.push("status = ?");
    args.push(o.status);
  }
  if (o.beforeId) {
    where.push("id < ?");
    args.push(o.beforeId);
  }
  args.push(o.limit);
  const [rows] = (await db.query(
    `SELECT * FROM campaigns ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
    args,
  )) as unknown as [CampaignRow[]];
  return rows;
}

/**
 * Adds ids to a draft's list. The primary key collapses repeats; the limit is checked on the
 * distinct total inside the transaction, so parallel uploads cannot overshoot it.
 */
export async function appendIds(db: Db, id: number, ids: string[], max: number): Promise<{ total: number; duplicates: number }> {
  return withTx(db, async (c) => {
    const [rows] = (await c.query("SELECT status, audience_kind, audience_ids FROM campaigns WHERE id = ? FOR UPDATE", [id])) as unknown as [
      { status: number; audience_kind: number; audience_ids: number }[],
    ];
    const row = rows[0];
    if (!row) throw notFound(id);
    if (row.status !== CampaignState.Draft) throw new ConnectError(`campaign ${id} is no longer a draft`, Code.FailedPrecondition);
    if (row.audience_kind !== AudienceKind.Ids) throw new ConnectError(`campaign ${id}'s audience is not an id list`, Code.FailedPrecondition);
    const [r] = (await c.query("INSERT IGNORE INTO campaign_audience_ids (campaign_id, user_id) VALUES ?", [
      ids.map((u) => [id, u]),
    ])) as unknown as [{ affectedRows: number }];
    const total = row.audience_ids + r.affectedRows;
    if (total > max) {
      throw invalid("user_ids", `the audience would hold ${total} distinct ids; at most ${max} (NOTIFY_CAMPAIGN_MAX_AUDIENCE_IDS)`);
    }
    await c.query("UPDATE campaigns SET audience_ids = ?, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?", [total, id]);
    return { total, duplicates: ids.length - r.affectedRows };
  });
}

/** Moves a campaign between states; `from` lists the states the move is allowed from. */
export async function transition(
  db: Db,
  id: number,
  from: number[],
  to: number,
  extra: Record<string, unknown> = {},
): Promise<CampaignRow> {
  const [r] = (await db.query(
    `UPDATE campaigns SET status = ?, ${Object.keys(extra).map((k) => `${k} = ?, `).join("")}updated_at = CURRENT_TIMESTAMP(3)
     WHERE id = ? AND status IN (?)`,
    [to, ...Object.values(extra), id, from],
  )) as unknown as [{ affectedRows: number }];
  const c = await getCampaign(db, id);
  if (!c) throw notFound(id);
  if (r.affectedRows === 0 && c.status !== to) {
    throw new ConnectError(`campaign ${id} is ${stateName(c.status)}; this needs ${from.map(stateName).join(" or ")}`, Code.FailedPrecondition);
  }
  return c;
}

export function stateName(s: number): string {
  return (Object.entries(CampaignState).find(([, v]) => v === s)?.[0] ?? String(s)).toLowerCase();
}

export async function setRate(db: Db, id: number, rate: number): Promise<CampaignRow> {
  const [r] = (await db.query(
    "UPDATE campaigns SET rate = ?, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status NOT IN (?)",
    [rate, id, [CampaignState.Completed, CampaignState.Cancelled]],
  )) as unknown as [{ affectedRows: number }];
  const c = await getCampaign(db, id);
  if (!c) throw notFound(id);
  if (r.affectedRows === 0 && c.rate !== rate) throw new ConnectError(`campaign ${id} is ${stateName(c.status)}`, Code.FailedPrecondition);
  return c;
}

export async function listRuns(db: Db, campaignId: number, limit: number): Promise<RunRow[]> {
  const [rows] = (await db.query("SELECT * FROM campaign_runs WHERE campaign_id = ? ORDER BY occurrence_at DESC, id DESC LIMIT ?", [
    campaignId,
    limit,
  ])) as unknown as [RunRow[]];
  return rows;
}

export async function getRun(db: Db, runId: number): Promise<RunRow | undefined> {
  const [rows] = (await db.query("SELECT * FROM campaign_runs WHERE id = ?", [runId])) as unknown as [RunRow[]];
  return rows[0];
}

/** Deliveries of one notification by status, from the (notification_id, status) index. */
export async function deliveryCounts(db: Db, notificationId: string): Promise<Map<number, number>> {
  const [rows] = (await db.query("SELECT status, COUNT(*) AS n FROM deliveries WHERE notification_id = ? GROUP BY status", [
    notificationId,
  ])) as unknown as [{ status: number; n: number }[]];
  return new Map(rows.map((r) => [Number(r.status), Number(r.n)]));
}

/**
 * Cancels what a campaign has not sent yet: its open runs, and the pending deliveries of their
 * notifications (a worker that later gets their messages finds them final and skips them).
 */
export async function cancelOpenWork(db: Db, campaignId: number): Promise<number> {
  await db.query(
    "UPDATE campaign_runs SET status = ?, finished_at = CURRENT_TIMESTAMP(3), lease_until = NULL WHERE campaign_id = ? AND status NOT IN (?)",
    [RunState.Cancelled, campaignId, FINAL_RUN_STATES],
  );
  const [runs] = (await db.query("SELECT notification_id FROM campaign_runs WHERE campaign_id = ? AND notification_id IS NOT NULL", [
    campaignId,
  ])) as unknown as [{ notification_id: string }[]];
  let cancelled = 0;
  for (const { notification_id: n } of runs) cancelled += await cancelPendingDeliveries(db, n);
  return cancelled;
}

export async function cancelPendingDeliveries(db: Db, notificationId: string): Promise<number> {
  let total = 0;
  for (;;) {
    // Small batches keep each transaction's lock footprint small while workers are busy on the table;
    // the rows are locked first, so a worker's claim cannot slip between the history event and the update.
    const n = await withTx(db, async (c) => {
      const [ids] = (await c.query("SELECT id FROM deliveries WHERE notification_id = ? AND status = ? LIMIT 2000 FOR UPDATE", [
        notificationId,
        DeliveryState.Pending,
      ])) as unknown as [{ id: string }[]];
      if (ids.length === 0) return 0;
      const list = ids.map((r) => r.id);
      await c.query("INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES ?", [
        list.map((id) => [id, new Date(), DeliveryState.Cancelled, "campaign cancelled"]),
      ]);
      await c.query("UPDATE deliveries SET status = ?, last_error = 'campaign cancelled', updated_at = CURRENT_TIMESTAMP(3) WHERE id IN (?)", [
        DeliveryState.Cancelled,
        list,
      ]);
      return list.length;
    });
    if (n === 0) return total;
    total += n;
  }
}

import { setTimeout as delay } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  CampaignServiceWatchProgressResponseSchema,
  type CampaignServiceWatchProgressResponse,
  type CampaignStatus,
} from "../../gen/notify/v1/campaign_service_pb.js";
import type { Db } from "../store/db.js";
import { toProgress } from "./convert.js";
import { CampaignState, FINAL_RUN_STATES, type RunRow } from "./model.js";
import { deliveryCounts, getRun, listRuns, requireCampaign } from "./store.js";

/**
 * Waits ms, or less when the signal aborts. Node's timer removes its abort listener when the wait ends:
 * a watch lives as long as its client and waits once a second on the same signal.
 */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * Streams one run's counters about once a second until the run is over and nothing of it is pending
 * (or the client goes away). Counts come from the ledger through the (notification_id, status) index,
 * so watching costs one index range scan per second.
 */
export async function* watchProgress(
  db: Db,
  campaignId: number,
  runId: number,
  signal: AbortSignal,
  intervalMs = 1000,
): AsyncGenerator<CampaignServiceWatchProgressResponse> {
  await requireCampaign(db, campaignId);
  let last: { at: number; handled: number } | undefined;
  let rate = 0;
  while (!signal.aborted) {
    const c = await requireCampaign(db, campaignId);
    let run: RunRow | undefined;
    if (runId) {
      run = await getRun(db, runId);
      if (!run || run.campaign_id !== campaignId) throw new ConnectError(`run ${runId} of campaign ${campaignId} not found`, Code.NotFound);
    } else {
      run = (await listRuns(db, campaignId, 1))[0];
    }
    if (!run) {
      // Nothing ran yet: wait for the first occurrence unless the campaign can no longer produce one.
      if (c.status === CampaignState.Cancelled || c.status === CampaignState.Completed) return;
      await sleep(intervalMs, signal);
      continue;
    }
    const counts = run.notification_id ? await deliveryCounts(db, run.notification_id) : new Map<number, number>();
    const pending = (counts.get(1) ?? 0) + (counts.get(2) ?? 0);
    const handled = [...counts.values()].reduce((a, b) => a + b, 0) - pending;
    const now = Date.now();
    if (last && now > last.at) rate = Math.max(0, ((handled - last.handled) * 1000) / (now - last.at));
    last = { at: now, handled };
    yield create(CampaignServiceWatchProgressResponseSchema, {
      progress: toProgress(run, counts, Math.round(rate * 10) / 10),
      campaignStatus: c.status as CampaignStatus,
      rateLimit: c.rate,
    });
    if (FINAL_RUN_STATES.includes(run.status) && pending === 0) return;
    if (c.status === CampaignState.Cancelled && pending === 0) return;
    await sleep(intervalMs, signal);
  }
}

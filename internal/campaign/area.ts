import { hostname } from "node:os";
import { CampaignService } from "../../gen/notify/v1/campaign_service_pb.js";
import type { Area } from "../app/area.js";
import { newId } from "../ids/ids.js";
import { createPlanner } from "../planner/planner.js";
import { createFanout } from "./fanout.js";
import { chunkDeliveries, chunkSizeFor } from "../delivery/chunks.js";
import { createScheduler, type Scheduler } from "./scheduler.js";
import { CAMPAIGN_RULES, createCampaignService } from "./service.js";

/**
 * Campaigns and the automatic event generator. The api role serves CampaignService; the scheduler
 * role turns occurrences into runs and fans runs out (several scheduler processes share the work).
 */
export const campaignArea: Area = {
  name: "campaign",
  setup(s) {
    const { ctx } = s;
    const cfg = ctx.cfg.campaign;
    const log = ctx.log.child({ area: "campaign" });
    const control = ctx.topology.subjects.campaignControl;

    if (s.roles.has("api")) {
      s.addService(
        (router) =>
          router.service(
            CampaignService,
            createCampaignService({
              db: ctx.db,
              nc: ctx.bus.nc,
              controlSubject: control,
              templates: ctx.templates,
              users: ctx.users,
              channels: () => [...ctx.channels.keys()],
              maxRate: cfg.maxRate,
              maxAudienceIds: cfg.maxAudienceIds,
              allZones: cfg.timeZones,
            }),
          ),
        CAMPAIGN_RULES,
      );
    }

    let scheduler: Scheduler | undefined;
    if (s.roles.has("scheduler")) {
      // The owner name fences a fan-out that lost its lease; unique per process start.
      const owner = `${hostname()}:${process.pid}:${newId().slice(-12)}`;
      const planner = createPlanner({
        db: ctx.db,
        js: ctx.bus.js,
        topology: ctx.topology,
        policy: s.planPolicy,
        log,
        addressChannels: [...ctx.channels.values()].filter((c) => c.takesBareAddress).map((c) => c.name),
        observe: s.pipeline.planned,
      });
      const fanout = createFanout({
        db: ctx.db,
        js: ctx.bus.js,
        planner,
        templates: ctx.templates,
        users: ctx.users,
        log,
        owner,
        pageSize: cfg.pageSize,
        leaseMs: cfg.leaseMs,
        maxBacklog: cfg.maxBacklog,
        allZones: cfg.timeZones,
        pack: (msgs) => chunkDeliveries(msgs, ctx.topology, chunkSizeFor(ctx.cfg.worker.chunk, ctx.cfg.retry.backoffMs.length)),
      });
      scheduler = createScheduler({
        db: ctx.db,
        nc: ctx.bus.nc,
        controlSubject: control,
        fanout,
        log,
        owner,
        pollMs: cfg.pollMs,
        leaseMs: cfg.leaseMs,
        misfireGraceMs: cfg.misfireGraceMs,
        concurrency: cfg.concurrency,
        allZones: cfg.timeZones,
      });
    }

    return {
      started() {
        scheduler?.start();
      },
      async stop() {
        await scheduler?.stop();
      },
    };
  },
};

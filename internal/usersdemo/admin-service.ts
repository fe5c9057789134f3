import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  GetStatsResponseSchema,
  ResetStatsResponseSchema,
  SetFaultsResponseSchema,
  type DemoAdminService,
} from "../../gen/cinema/users/v1/demo_admin_service_pb.js";
import type { Logger } from "../log/logger.js";
import type { LoadControl } from "./load-control.js";

export function createAdminService(control: LoadControl, log: Logger): ServiceImpl<typeof DemoAdminService> {
  return {
    setFaults(req) {
      const faults = { latencyMs: req.latencyMs, errorRate: req.errorRate, down: req.down };
      control.setFaults(faults);
      log.info({ faults }, "faults set");
      return create(SetFaultsResponseSchema);
    },
    getStats() {
      const s = control.stats();
      return create(GetStatsResponseSchema, {
        calls: Object.fromEntries(Object.entries(s.calls).map(([k, v]) => [k, BigInt(v)])),
        maxConcurrency: s.maxConcurrency,
        maxBatchSize: s.maxBatchSize,
        idsRequested: BigInt(s.idsRequested),
        injectedErrors: BigInt(s.injectedErrors),
        maxCallsPerSecond: s.maxCallsPerSecond,
      });
    },
    resetStats() {
      control.resetStats();
      return create(ResetStatsResponseSchema);
    },
  };
}

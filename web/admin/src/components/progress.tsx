import { CampaignStatus, RunStatus, type Progress } from "../../../../gen/notify/v1/campaign_service_pb.js";
import { useT } from "../i18n.js";
import { Badge } from "./ui.js";

/** Deliveries of a run that reached a final state, out of its audience. */
export function progressPercent(p: Progress | undefined): number {
  if (!p) return 0;
  const total = Number(p.audienceTotal > p.planned ? p.audienceTotal : p.planned);
  if (p.status === RunStatus.COMPLETED && p.pending === 0n) return 100;
  if (total === 0) return 0;
  const done = Number(p.sent + p.failed + p.skipped + p.dead + p.cancelled);
  return Math.min(100, Math.floor((done * 100) / total));
}

export function ProgressBar({ p }: { p?: Progress }) {
  const pct = progressPercent(p);
  return (
    <div className="progress" role="progressbar" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} data-testid="progress">
      <div style={{ width: `${pct}%` }} />
      <span>{pct}%</span>
    </div>
  );
}

export function campaignStatusName(s: CampaignStatus): string {
  return (CampaignStatus[s] ?? String(s)).toLowerCase();
}

export function CampaignStatusBadge({ s }: { s: CampaignStatus }) {
  const kind = s === CampaignStatus.COMPLETED ? "ok" : s === CampaignStatus.CANCELLED ? "bad" : s === CampaignStatus.PAUSED ? "warn" : undefined;
  return <Badge kind={kind}>{campaignStatusName(s)}</Badge>;
}

/** The counters of a run, as a small table. */
export function ProgressCounters({ p }: { p: Progress }) {
  const t = useT();
  const rows: [string, bigint | number | string][] = [
    [t("Audience"), p.audienceTotal],
    [t("Planned"), p.planned],
    [t("Sent"), p.sent],
    [t("Failed"), p.failed],
    [t("Skipped"), p.skipped],
    [t("Dead"), p.dead],
    [t("Cancelled"), p.cancelled],
    [t("Pending"), p.pending],
    [t("Rate"), `${p.rate.toFixed(1)}/s`],
    ["ETA", p.etaSeconds > 0 ? `${Math.ceil(p.etaSeconds)} s` : "—"],
  ];
  return (
    <dl className="counters">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

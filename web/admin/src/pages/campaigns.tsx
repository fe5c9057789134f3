import { useEffect, useState, type ComponentType } from "react";
import { CampaignService, CampaignStatus, type Campaign, type Progress } from "../../../../gen/notify/v1/campaign_service_pb.js";
import { client, errorText } from "../api.js";
import { CampaignStatusBadge, ProgressBar } from "../components/progress.js";
import { Card, ErrorBox, formatTime } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link } from "../router.js";
import { useCan } from "../session.js";

export const campaigns = () => client(CampaignService);

const FILTERS: [CampaignStatus, string][] = [
  [CampaignStatus.UNSPECIFIED, "all"],
  [CampaignStatus.DRAFT, "draft"],
  [CampaignStatus.SCHEDULED, "scheduled"],
  [CampaignStatus.PAUSED, "paused"],
  [CampaignStatus.COMPLETED, "completed"],
  [CampaignStatus.CANCELLED, "cancelled"],
];

export function CampaignsPage() {
  const t = useT();
  const can = useCan();
  const [status, setStatus] = useState(CampaignStatus.UNSPECIFIED);
  const [items, setItems] = useState<Campaign[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    campaigns()
      .list({ status, pageSize: 100 })
      .then((r) => setItems(r.campaigns), (err) => setError(errorText(err)));
  }, [status]);
  return (
    <div className="page">
      <h1>{t("Campaigns")}</h1>
      <Card
        title={
          <select aria-label={t("Status")} value={status} onChange={(e) => setStatus(Number(e.target.value))}>
            {FILTERS.map(([s, n]) => (
              <option key={s} value={s}>
                {n}
              </option>
            ))}
          </select>
        }
        actions={
          can("manage") && (
            <Link className="button primary" to="/campaigns/new">
              + {t("New campaign")}
            </Link>
          )
        }
      >
        <ErrorBox error={error} />
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t("Name")}</th>
                <th>{t("Template")}</th>
                <th>{t("Status")}</th>
                <th className="hide-sm">{t("Next run")}</th>
                <th className="hide-sm">{t("Created")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={String(c.id)}>
                  <td>
                    <Link to={`/campaigns/${c.id}`}>{c.spec?.name || `#${c.id}`}</Link>
                  </td>
                  <td>{c.spec?.template}</td>
                  <td>
                    <CampaignStatusBadge s={c.status} />
                  </td>
                  <td className="hide-sm">{formatTime(c.nextOccurrenceAt)}</td>
                  <td className="hide-sm">{formatTime(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {items.length === 0 && !error && <p className="muted">{t("Nothing found")}</p>}
      </Card>
    </div>
  );
}

/** Dashboard card: campaigns that are scheduled or running, with their latest run's progress. */
export const RunningCampaignsWidget: ComponentType = () => {
  const t = useT();
  const [rows, setRows] = useState<{ c: Campaign; p?: Progress }[]>([]);
  useEffect(() => {
    const load = async () => {
      const r = await campaigns().list({ status: CampaignStatus.SCHEDULED, pageSize: 10 });
      const withRuns = await Promise.all(
        r.campaigns.map(async (c) => ({ c, p: (await campaigns().get({ campaignId: c.id })).runs[0] })),
      );
      setRows(withRuns);
    };
    void load().catch(() => undefined);
    const id = setInterval(() => void load().catch(() => undefined), 10_000);
    return () => clearInterval(id);
  }, []);
  return (
    <Card title={t("Running campaigns")}>
      {rows.length === 0 && <p className="muted">{t("Nothing found")}</p>}
      {rows.map(({ c, p }) => (
        <div key={String(c.id)} className="campaign-row">
          <Link to={`/campaigns/${c.id}`}>{c.spec?.name || `#${c.id}`}</Link>
          <ProgressBar p={p} />
        </div>
      ))}
    </Card>
  );
};

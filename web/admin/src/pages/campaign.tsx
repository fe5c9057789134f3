import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { CampaignStatus, type Campaign, type CampaignServiceWatchProgressResponse, type Progress } from "../../../../gen/notify/v1/campaign_service_pb.js";
import { errorText } from "../api.js";
import { CampaignStatusBadge, ProgressBar, ProgressCounters } from "../components/progress.js";
import { Card, ErrorBox, formatTime, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link } from "../router.js";
import { useCan } from "../session.js";
import { campaigns } from "./campaigns.js";

function describeSchedule(c: Campaign): string {
  const k = c.spec?.schedule?.kind;
  if (!k || k.case === "now") return "now";
  if (k.case === "at") return k.value ? timestampDate(k.value).toLocaleString() : "";
  const cron = k.value;
  return `cron "${cron?.expression}" ${cron?.timeZone || "UTC"}${cron?.localTime ? " (local time)" : ""}`;
}

function describeAudience(c: Campaign): string {
  const k = c.spec?.audience?.kind;
  if (!k || k.case === "all") return "everyone";
  if (k.case === "userIds") return `${c.audienceIds} uploaded ids`;
  const s = Object.entries(k.value ?? {}).filter(([n, v]) => !n.startsWith("$") && v !== "" && v !== 0 && v !== false);
  return `segment ${s.map(([n, v]) => `${n}=${String(v)}`).join(", ")}`;
}

/**
 * A campaign with its latest run's progress, streamed by WatchProgress (Connect server streaming works
 * over HTTP/1.1). When a run ends the page reloads the campaign and, for a recurring one, watches again.
 */
export function CampaignPage({ params }: { params: Record<string, string> }) {
  const t = useT();
  const can = useCan();
  const id = BigInt(params.id);
  const [c, setC] = useState<Campaign>();
  const [runs, setRuns] = useState<Progress[]>([]);
  const [live, setLive] = useState<CampaignServiceWatchProgressResponse>();
  const [rate, setRate] = useState("");
  const [error, setError] = useState<string>();
  const [watchKey, setWatchKey] = useState(0);

  const load = async () => {
    try {
      const r = await campaigns().get({ campaignId: id });
      setC(r.campaign);
      setRuns(r.runs);
      setRate((x) => x || String(r.campaign?.spec?.rate ?? ""));
    } catch (err) {
      setError(errorText(err));
    }
  };

  useEffect(() => {
    void load();
  }, [params.id]);

  useEffect(() => {
    const ac = new AbortController();
    let again: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      for await (const r of campaigns().watchProgress({ campaignId: id }, { signal: ac.signal })) setLive(r);
      await load();
      // A recurring campaign has more runs ahead; a paused one may resume.
      again = setTimeout(() => setWatchKey((k) => k + 1), 3000);
    })().catch((err) => {
      if (!ac.signal.aborted) setError(errorText(err));
    });
    return () => {
      ac.abort();
      if (again) clearTimeout(again);
    };
  }, [params.id, watchKey]);

  const act = async (f: () => Promise<{ campaign?: Campaign }>) => {
    try {
      const r = await f();
      if (r.campaign) setC(r.campaign);
      setError(undefined);
      setWatchKey((k) => k + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const status = live?.campaignStatus || c?.status || CampaignStatus.UNSPECIFIED;
  const p = live?.progress ?? runs[0];
  const ro = !can("manage");
  return (
    <div className="page">
      <p>
        <Link to="/campaigns">← {t("Campaigns")}</Link>
      </p>
      <h1>
        {c?.spec?.name || `#${params.id}`} <CampaignStatusBadge s={status} />
      </h1>
      <ReadOnlyNote show={ro} />
      <ErrorBox error={error} />
      <Card
        title={t("Progress")}
        actions={
          <>
            {status === CampaignStatus.DRAFT && (
              <button className="primary" disabled={ro} onClick={() => void act(() => campaigns().schedule({ campaignId: id }))}>
                {t("Start")}
              </button>
            )}
            {status === CampaignStatus.SCHEDULED && (
              <button disabled={ro} onClick={() => void act(() => campaigns().pause({ campaignId: id }))}>
                {t("Pause")}
              </button>
            )}
            {status === CampaignStatus.PAUSED && (
              <button disabled={ro} onClick={() => void act(() => campaigns().resume({ campaignId: id }))}>
                {t("Resume")}
              </button>
            )}
            {(status === CampaignStatus.SCHEDULED || status === CampaignStatus.PAUSED || status === CampaignStatus.DRAFT) && (
              <button disabled={ro} onClick={() => window.confirm(t("Cancel this campaign?")) && void act(() => campaigns().cancel({ campaignId: id }))}>
                {t("Cancel")}
              </button>
            )}
          </>
        }
      >
        <ProgressBar p={p} />
        {p && <ProgressCounters p={p} />}
        {p?.error && <p className="error">{p.error}</p>}
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act(() => campaigns().setRate({ campaignId: id, rate: Number(rate) }));
          }}
        >
          <label className="inline">
            {t("Rate (messages per second)")}
            <input name="rate" type="number" min={1} value={rate} disabled={ro} onChange={(e) => setRate(e.target.value)} />
          </label>
          <button type="submit" disabled={ro}>
            {t("Change rate")}
          </button>
          {live && <span className="muted">limit {live.rateLimit}/s</span>}
        </form>
      </Card>
      {c && (
        <Card title={t("Settings")}>
          <dl className="props">
            <dt>{t("Template")}</dt>
            <dd>
              <Link to={`/templates/${encodeURIComponent(c.spec?.template ?? "")}`}>{c.spec?.template}</Link>
              {c.spec?.templateVersion ? ` v${c.spec.templateVersion}` : ""}
            </dd>
            <dt>{t("Audience")}</dt>
            <dd>{describeAudience(c)}</dd>
            <dt>{t("When")}</dt>
            <dd>{describeSchedule(c)}</dd>
            <dt>{t("Channels")}</dt>
            <dd>{c.spec?.channels.join(", ") || "—"}</dd>
            <dt>{t("Next run")}</dt>
            <dd>{formatTime(c.nextOccurrenceAt)}</dd>
            <dt>{t("Created")}</dt>
            <dd>
              {formatTime(c.createdAt)} · {c.createdBy}
            </dd>
          </dl>
        </Card>
      )}
      {runs.length > 0 && (
        <Card title={t("Runs")}>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{t("Occurrence")}</th>
                  <th className="num">{t("Audience")}</th>
                  <th className="num">{t("Sent")}</th>
                  <th className="num">{t("Failed")}</th>
                  <th>{t("Progress")}</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={String(r.runId)}>
                    <td>{formatTime(r.occurrenceAt)}</td>
                    <td className="num">{String(r.audienceTotal)}</td>
                    <td className="num">{String(r.sent)}</td>
                    <td className="num">{String(r.failed)}</td>
                    <td>
                      <ProgressBar p={r} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
    </div>
  );
}

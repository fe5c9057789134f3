import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { MisfirePolicy, type Audience, type Schedule } from "../../../../gen/notify/v1/campaign_service_pb.js";
import type { Template, TemplateVersion } from "../../../../gen/notify/v1/template_service_pb.js";
import { errorText, templates } from "../api.js";
import { Card, ErrorBox, Field, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { navigate } from "../router.js";
import { useCan } from "../session.js";
import { CATEGORIES, CHANNELS } from "../template-model.js";
import { campaigns } from "./campaigns.js";

const STEPS = ["Template", "Audience", "Content", "Schedule", "Rate"];
const APPEND_CHUNK = 10_000;

const initial = {
  name: "",
  template: "",
  templateVersion: 0,
  audience: "all" as "all" | "segment" | "userIds",
  segment: { favouriteGenre: "", locale: "", subscriptionExpiresWithinDays: 0, birthdayMonthDay: "", birthdayToday: false, timeZone: "" },
  userIds: "",
  channels: [] as string[],
  category: "",
  locale: "",
  data: "{}",
  when: "now" as "now" | "at" | "cron",
  at: "",
  cron: "0 18 * * 5",
  timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  localTime: false,
  misfire: MisfirePolicy.FIRE_ONCE,
  rate: 100,
};
type Form = typeof initial;

function parseIds(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

function audienceOf(f: Form): Audience {
  if (f.audience === "segment") return { kind: { case: "segment", value: f.segment } } as Audience;
  if (f.audience === "userIds") return { kind: { case: "userIds", value: true } } as Audience;
  return { kind: { case: "all", value: true } } as Audience;
}

function scheduleOf(f: Form): Schedule {
  if (f.when === "at") return { kind: { case: "at", value: timestampFromDate(new Date(f.at)) } } as Schedule;
  if (f.when === "cron") return { kind: { case: "cron", value: { expression: f.cron, timeZone: f.timeZone, localTime: f.localTime } } } as Schedule;
  return { kind: { case: "now", value: true } } as Schedule;
}

/** A campaign in five steps; "Create and start" stores it, uploads the ids, and schedules it. */
export function CampaignWizardPage() {
  const t = useT();
  const can = useCan();
  const [step, setStep] = useState(0);
  const [f, setF] = useState<Form>(initial);
  const [tpls, setTpls] = useState<Template[]>([]);
  const [versions, setVersions] = useState<TemplateVersion[]>([]);
  const [estimate, setEstimate] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Form>) => setF((x) => ({ ...x, ...patch }));

  useEffect(() => {
    templates()
      .list({ pageSize: 200 })
      .then((r) => setTpls(r.templates), (err) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    setVersions([]);
    if (f.template) templates().listVersions({ key: f.template, pageSize: 50 }).then((r) => setVersions(r.versions), () => undefined);
  }, [f.template]);
  useEffect(() => setEstimate(undefined), [f.audience, f.segment, f.userIds]);

  const estimateAudience = async () => {
    if (f.audience === "userIds") return setEstimate(String(parseIds(f.userIds).length));
    try {
      setEstimate(String((await campaigns().estimateAudience({ audience: audienceOf(f) })).count));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const submit = async (start: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      let data: JsonObject;
      try {
        data = JSON.parse(f.data || "{}") as JsonObject;
      } catch {
        throw new Error(`${t("Data")}: not valid JSON`);
      }
      const spec = {
        name: f.name,
        template: f.template,
        templateVersion: f.templateVersion,
        audience: audienceOf(f),
        schedule: scheduleOf(f),
        rate: f.rate,
        channels: f.channels,
        category: f.category,
        locale: f.locale,
        data,
        misfirePolicy: f.misfire,
      };
      const { campaign } = await campaigns().create({ spec });
      const id = campaign!.id;
      if (f.audience === "userIds") {
        const ids = parseIds(f.userIds);
        for (let i = 0; i < ids.length; i += APPEND_CHUNK) await campaigns().appendAudience({ campaignId: id, userIds: ids.slice(i, i + APPEND_CHUNK) });
      }
      if (start) await campaigns().schedule({ campaignId: id });
      navigate(`/campaigns/${id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const seg = f.segment;
  const setSeg = (patch: Partial<Form["segment"]>) => set({ segment: { ...seg, ...patch } });
  return (
    <div className="page">
      <h1>{t("New campaign")}</h1>
      <ReadOnlyNote show={!can("manage")} />
      <ol className="steps">
        {STEPS.map((s, i) => (
          <li key={s} className={i === step ? "active" : i < step ? "done" : ""}>
            <button type="button" className="link" onClick={() => setStep(i)}>
              {i + 1}. {t(s)}
            </button>
          </li>
        ))}
      </ol>
      <ErrorBox error={error} />
      <Card title={t(STEPS[step])}>
        <fieldset disabled={!can("manage")} className="form-grid">
          {step === 0 && (
            <>
              <Field label={t("Name")}>
                <input name="name" value={f.name} onChange={(e) => set({ name: e.target.value })} />
              </Field>
              <Field label={t("Template")}>
                <select name="template" value={f.template} onChange={(e) => set({ template: e.target.value, templateVersion: 0 })}>
                  <option value="">—</option>
                  {tpls.map((x) => (
                    <option key={x.key} value={x.key}>
                      {x.key} — {x.name}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label={t("Version")}>
                <select name="templateVersion" value={f.templateVersion} onChange={(e) => set({ templateVersion: Number(e.target.value) })}>
                  <option value={0}>{t("Current at each run")}</option>
                  {versions.map((v) => (
                    <option key={v.version} value={v.version}>
                      v{v.version} {v.current ? `(${t("Current").toLowerCase()})` : ""} {v.note}
                    </option>
                  ))}
                </select>
              </Field>
            </>
          )}
          {step === 1 && (
            <>
              <Field label={t("Audience")} wide group>
                <span className="checks">
                  {(["all", "segment", "userIds"] as const).map((k) => (
                    <label key={k} className="inline">
                      <input type="radio" name="audience" checked={f.audience === k} onChange={() => set({ audience: k })} />
                      {t({ all: "Everyone", segment: "Segment", userIds: "Uploaded user ids" }[k])}
                    </label>
                  ))}
                </span>
              </Field>
              {f.audience === "segment" && (
                <>
                  <Field label={t("Favourite genre")}>
                    <input name="genre" value={seg.favouriteGenre} onChange={(e) => setSeg({ favouriteGenre: e.target.value })} />
                  </Field>
                  <Field label={t("Locale")}>
                    <input name="segmentLocale" value={seg.locale} onChange={(e) => setSeg({ locale: e.target.value })} />
                  </Field>
                  <Field label={t("Time zone")}>
                    <input name="segmentTz" value={seg.timeZone} onChange={(e) => setSeg({ timeZone: e.target.value })} />
                  </Field>
                  <Field label={t("Subscription ends within days")}>
                    <input type="number" min={0} value={seg.subscriptionExpiresWithinDays} onChange={(e) => setSeg({ subscriptionExpiresWithinDays: Number(e.target.value) })} />
                  </Field>
                  <Field label={t("Birthday (MM-DD)")}>
                    <input value={seg.birthdayMonthDay} placeholder="05-17" onChange={(e) => setSeg({ birthdayMonthDay: e.target.value })} />
                  </Field>
                </>
              )}
              {f.audience === "userIds" && (
                <Field label={t("User ids (one per line, or comma separated)")} wide>
                  <textarea name="userIds" rows={6} value={f.userIds} onChange={(e) => set({ userIds: e.target.value })} />
                  <input
                    type="file"
                    accept=".txt,.csv"
                    aria-label={t("Upload a file of ids")}
                    onChange={async (e) => {
                      const file = e.target.files?.[0];
                      if (file) set({ userIds: await file.text() });
                    }}
                  />
                </Field>
              )}
              <div className="field wide">
                <span className="inline-form">
                  <button type="button" onClick={() => void estimateAudience()}>
                    {t("Estimate size")}
                  </button>
                  {estimate !== undefined && (
                    <b data-testid="estimate">
                      {estimate} {t("recipients")}
                    </b>
                  )}
                </span>
              </div>
            </>
          )}
          {step === 2 && (
            <>
              <Field label={t("Channels")} group>
                <span className="checks">
                  {CHANNELS.map((c) => (
                    <label key={c} className="inline">
                      <input type="checkbox" checked={f.channels.includes(c)} onChange={(e) => set({ channels: e.target.checked ? [...f.channels, c] : f.channels.filter((x) => x !== c) })} />
                      {c}
                    </label>
                  ))}
                </span>
              </Field>
              <Field label={t("Category")}>
                <select value={f.category} onChange={(e) => set({ category: e.target.value })}>
                  <option value="">{t("Template's")}</option>
                  {CATEGORIES.map((c) => (
                    <option key={c}>{c}</option>
                  ))}
                </select>
              </Field>
              <Field label={t("Locale")}>
                <input value={f.locale} placeholder={t("Each user's")} onChange={(e) => set({ locale: e.target.value })} />
              </Field>
              <Field label={t("Data")} wide>
                <textarea name="data" rows={5} value={f.data} onChange={(e) => set({ data: e.target.value })} />
              </Field>
            </>
          )}
          {step === 3 && (
            <>
              <Field label={t("When")} wide group>
                <span className="checks">
                  {(["now", "at", "cron"] as const).map((k) => (
                    <label key={k} className="inline">
                      <input type="radio" name="when" checked={f.when === k} onChange={() => set({ when: k })} />
                      {t({ now: "Now", at: "At a time", cron: "Recurring" }[k])}
                    </label>
                  ))}
                </span>
              </Field>
              {f.when === "at" && (
                <Field label={t("At")}>
                  <input type="datetime-local" value={f.at} onChange={(e) => set({ at: e.target.value })} />
                </Field>
              )}
              {f.when === "cron" && (
                <>
                  <Field label="cron">
                    <input name="cron" value={f.cron} onChange={(e) => set({ cron: e.target.value })} />
                  </Field>
                  <Field label={t("Time zone")}>
                    <input name="timeZone" value={f.timeZone} onChange={(e) => set({ timeZone: e.target.value })} />
                  </Field>
                  <Field label={t("Each user's local time")}>
                    <input type="checkbox" checked={f.localTime} onChange={(e) => set({ localTime: e.target.checked })} />
                  </Field>
                  <Field label={t("Missed runs")}>
                    <select value={f.misfire} onChange={(e) => set({ misfire: Number(e.target.value) })}>
                      <option value={MisfirePolicy.FIRE_ONCE}>{t("Send once")}</option>
                      <option value={MisfirePolicy.SKIP}>{t("Skip")}</option>
                    </select>
                  </Field>
                </>
              )}
            </>
          )}
          {step === 4 && (
            <Field label={t("Rate (messages per second)")}>
              <input name="rate" type="number" min={1} value={f.rate} onChange={(e) => set({ rate: Number(e.target.value) })} />
            </Field>
          )}
        </fieldset>
        <div className="inline-form wizard-nav">
          <button type="button" disabled={step === 0} onClick={() => setStep(step - 1)}>
            ← {t("Back")}
          </button>
          {step < STEPS.length - 1 ? (
            <button type="button" className="primary" onClick={() => setStep(step + 1)}>
              {t("Next")} →
            </button>
          ) : (
            <>
              <button type="button" disabled={busy || !can("manage")} onClick={() => void submit(false)}>
                {t("Save draft")}
              </button>
              <button type="button" className="primary" disabled={busy || !can("manage") || !f.template || !f.name} onClick={() => void submit(true)}>
                {t("Create and start")}
              </button>
            </>
          )}
        </div>
      </Card>
    </div>
  );
}

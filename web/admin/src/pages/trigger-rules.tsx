import type { JsonObject } from "@bufbuild/protobuf";
import { useEffect, useState } from "react";
import { TriggerAction, TriggerService, type EventTypeStats, type TriggerRule } from "../../../../gen/notify/v1/trigger_service_pb.js";
import { client, errorText } from "../api.js";
import { Badge, Card, ErrorBox, Field, formatTime, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { useCan } from "../session.js";
import { CATEGORIES, CHANNELS } from "../template-model.js";

const triggers = () => client(TriggerService);

const blank = {
  id: 0,
  eventType: "",
  name: "",
  action: TriggerAction.SEND,
  template: "",
  channels: [] as string[],
  category: "",
  condition: "",
  delaySeconds: 0,
  aggregateWindowSeconds: 0,
  enabled: true,
};
type Form = typeof blank;

const toForm = (r: TriggerRule): Form => ({
  id: r.id,
  eventType: r.eventType,
  name: r.name,
  action: r.action,
  template: r.template,
  channels: [...r.channels],
  category: r.category,
  condition: r.condition && Object.keys(r.condition).length ? JSON.stringify(r.condition) : "",
  delaySeconds: r.delaySeconds,
  aggregateWindowSeconds: r.aggregateWindowSeconds,
  enabled: r.enabled,
});

/** Which template each site event sends, on which channels, when. */
export function TriggerRulesPage() {
  const t = useT();
  const can = useCan();
  const ro = !can("manage");
  const [rules, setRules] = useState<TriggerRule[]>([]);
  const [stats, setStats] = useState<EventTypeStats[]>([]);
  const [form, setForm] = useState<Form>();
  const [error, setError] = useState<string>();

  const load = async () => {
    try {
      const [r, s] = await Promise.all([triggers().list({}), triggers().stats({})]);
      setRules(r.rules);
      setStats(s.types);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), []);

  const save = async () => {
    if (!form) return;
    try {
      const condition = form.condition.trim() ? (JSON.parse(form.condition) as JsonObject) : undefined;
      const rule = { ...form, condition };
      if (form.id) await triggers().update({ rule });
      else await triggers().create({ rule });
      setForm(undefined);
      setError(undefined);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const set = (patch: Partial<Form>) => setForm((f) => (f ? { ...f, ...patch } : f));

  return (
    <div className="page">
      <h1>{t("Trigger rules")}</h1>
      <ReadOnlyNote show={ro} />
      <ErrorBox error={error} />
      {form && (
        <Card title={form.id ? `${t("Rule")} #${form.id}` : t("New rule")}>
          <fieldset className="form-grid" disabled={ro}>
            <Field label={t("Event type")}>
              <input name="eventType" value={form.eventType} placeholder="user_registered" onChange={(e) => set({ eventType: e.target.value })} />
            </Field>
            <Field label={t("Name")}>
              <input name="ruleName" value={form.name} onChange={(e) => set({ name: e.target.value })} />
            </Field>
            <Field label={t("Action")}>
              <select value={form.action} onChange={(e) => set({ action: Number(e.target.value) })}>
                <option value={TriggerAction.SEND}>send</option>
                <option value={TriggerAction.DIGEST}>digest</option>
              </select>
            </Field>
            <Field label={t("Template")}>
              <input name="ruleTemplate" value={form.template} onChange={(e) => set({ template: e.target.value })} />
            </Field>
            <Field label={t("Category")}>
              <select value={form.category} onChange={(e) => set({ category: e.target.value })}>
                <option value="">{t("Template's")}</option>
                {CATEGORIES.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </Field>
            <Field label={t("Channels")} group>
              <span className="checks">
                {CHANNELS.map((c) => (
                  <label key={c} className="inline">
                    <input type="checkbox" checked={form.channels.includes(c)} onChange={(e) => set({ channels: e.target.checked ? [...form.channels, c] : form.channels.filter((x) => x !== c) })} />
                    {c}
                  </label>
                ))}
              </span>
            </Field>
            <Field label={t("Delay, seconds")}>
              <input type="number" min={0} value={form.delaySeconds} onChange={(e) => set({ delaySeconds: Number(e.target.value) })} />
            </Field>
            <Field label={t("Aggregate window, seconds")}>
              <input type="number" min={0} value={form.aggregateWindowSeconds} onChange={(e) => set({ aggregateWindowSeconds: Number(e.target.value) })} />
            </Field>
            <Field label={t("Condition (JSON)")} wide>
              <input name="condition" value={form.condition} placeholder='{"data.plan": ["premium"]}' onChange={(e) => set({ condition: e.target.value })} />
            </Field>
          </fieldset>
          <div className="inline-form">
            <button className="primary" disabled={ro} onClick={() => void save()}>
              {t("Save")}
            </button>
            <button onClick={() => setForm(undefined)}>{t("Close")}</button>
          </div>
        </Card>
      )}
      <Card actions={!ro && <button className="primary" onClick={() => setForm({ ...blank })}>+ {t("New rule")}</button>}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t("Event type")}</th>
                <th>{t("Name")}</th>
                <th>{t("Template")}</th>
                <th className="hide-sm">{t("Channels")}</th>
                <th>{t("Status")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id}>
                  <td className="mono">{r.eventType}</td>
                  <td>{r.name}</td>
                  <td>
                    {r.template} {r.action === TriggerAction.DIGEST && <Badge>digest</Badge>}
                  </td>
                  <td className="hide-sm">{r.channels.join(", ") || "—"}</td>
                  <td>{r.enabled ? <Badge kind="ok">{t("Enabled")}</Badge> : <Badge kind="warn">{t("Disabled")}</Badge>}</td>
                  <td className="row-actions">
                    <button className="small" onClick={() => setForm(toForm(r))}>
                      {t("Open")}
                    </button>
                    <button className="small" disabled={ro} onClick={() => void act(() => triggers().setEnabled({ id: r.id, enabled: !r.enabled }))}>
                      {r.enabled ? t("Disable") : t("Enable")}
                    </button>
                    <button className="small" disabled={ro} onClick={() => window.confirm(`${t("Remove")} #${r.id}?`) && void act(() => triggers().delete({ id: r.id }))}>
                      {t("Remove")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <Card title={t("Events received")}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t("Event type")}</th>
                <th className="num">{t("Received")}</th>
                <th className="num">{t("Unmatched")}</th>
                <th className="num">{t("Dead")}</th>
                <th className="hide-sm">{t("Last")}</th>
              </tr>
            </thead>
            <tbody>
              {stats.map((s) => (
                <tr key={s.eventType}>
                  <td className="mono">{s.eventType}</td>
                  <td className="num">{String(s.received)}</td>
                  <td className="num">{String(s.unmatched)}</td>
                  <td className="num">{String(s.dead)}</td>
                  <td className="hide-sm">{formatTime(s.lastAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}

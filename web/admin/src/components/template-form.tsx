import { useState } from "react";
import { VariableType } from "../../../../gen/notify/v1/template_service_pb.js";
import { useT } from "../i18n.js";
import { CATEGORIES, CHANNELS, PARTS_BY_CHANNEL, VARIABLE_TYPES, type Draft, type VariableRow } from "../template-model.js";
import { Card, Field } from "./ui.js";

interface Props {
  draft: Draft;
  change: (f: (d: Draft) => Draft) => void;
  readOnly: boolean;
  isNew: boolean;
  layouts: string[];
  locale: string;
  setLocale: (l: string) => void;
}

export function SettingsForm({ draft, change, readOnly, isNew, layouts }: Props) {
  const t = useT();
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => change((d) => ({ ...d, [k]: v }));
  return (
    <fieldset disabled={readOnly} className="form-grid">
      <Field label={t("Key")}>
        <input name="key" value={draft.key} disabled={!isNew} pattern="[a-z0-9_.\-]{1,100}" required onChange={(e) => set("key", e.target.value)} />
      </Field>
      <Field label={t("Name")}>
        <input name="name" value={draft.name} onChange={(e) => set("name", e.target.value)} />
      </Field>
      <Field label={t("Category")}>
        <select name="category" value={draft.category} onChange={(e) => set("category", e.target.value)}>
          {CATEGORIES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </Field>
      <Field label={t("Layout")}>
        <select name="layout" value={draft.layout} onChange={(e) => set("layout", e.target.value)}>
          <option value="">{t("None")}</option>
          {layouts.map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
      </Field>
      <Field label={t("Default locale")}>
        <input name="defaultLocale" value={draft.defaultLocale} size={6} onChange={(e) => set("defaultLocale", e.target.value)} />
      </Field>
      <Field label={t("Channels")} group>
        <span className="checks">
          {CHANNELS.map((c) => (
            <label key={c} className="inline">
              <input
                type="checkbox"
                checked={draft.channels.includes(c)}
                onChange={(e) => set("channels", e.target.checked ? [...draft.channels, c] : draft.channels.filter((x) => x !== c))}
              />
              {c}
            </label>
          ))}
        </span>
      </Field>
      <Field label={t("Description")} wide>
        <input name="description" value={draft.description} onChange={(e) => set("description", e.target.value)} />
      </Field>
    </fieldset>
  );
}

export function VariablesForm({ draft, change, readOnly }: Props) {
  const t = useT();
  const setVar = (i: number, v: Partial<VariableRow>) =>
    change((d) => ({ ...d, variables: d.variables.map((x, j) => (j === i ? { ...x, ...v } : x)) }));
  return (
    <Card title={t("Variables")}>
      <fieldset disabled={readOnly}>
        <div className="table-wrap">
          <table className="vars">
            <thead>
              <tr>
                <th>{t("Name")}</th>
                <th>{t("Type")}</th>
                <th>{t("Required")}</th>
                <th>{t("Sample")}</th>
                <th>{t("Description")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {draft.variables.map((v, i) => (
                <tr key={i}>
                  <td>
                    <input aria-label={`variable ${i + 1} name`} value={v.name} onChange={(e) => setVar(i, { name: e.target.value })} />
                  </td>
                  <td>
                    <select aria-label={`variable ${i + 1} type`} value={v.type} onChange={(e) => setVar(i, { type: Number(e.target.value) as VariableType })}>
                      {VARIABLE_TYPES.map(([n, s]) => (
                        <option key={n} value={n}>
                          {s}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input type="checkbox" aria-label={`variable ${i + 1} required`} checked={v.required} onChange={(e) => setVar(i, { required: e.target.checked })} />
                  </td>
                  <td>
                    <input aria-label={`variable ${i + 1} sample`} value={v.sample} onChange={(e) => setVar(i, { sample: e.target.value })} />
                  </td>
                  <td>
                    <input aria-label={`variable ${i + 1} description`} value={v.description} onChange={(e) => setVar(i, { description: e.target.value })} />
                  </td>
                  <td>
                    <button type="button" className="small" onClick={() => change((d) => ({ ...d, variables: d.variables.filter((_, j) => j !== i) }))}>
                      {t("Remove")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <button
          type="button"
          onClick={() =>
            change((d) => ({ ...d, variables: [...d.variables, { name: "", type: VariableType.STRING, required: false, sample: "", description: "" }] }))
          }
        >
          + {t("Add variable")}
        </button>
      </fieldset>
    </Card>
  );
}

export function ContentForm({ draft, change, readOnly, locale, setLocale }: Props) {
  const t = useT();
  const [newLocale, setNewLocale] = useState("");
  const parts = draft.channels.flatMap((c) => PARTS_BY_CHANNEL[c] ?? []);
  const content = draft.contents[locale] ?? {};
  const setPart = (p: string, v: string) => change((d) => ({ ...d, contents: { ...d.contents, [locale]: { ...d.contents[locale], [p]: v } } }));
  return (
    <Card
      title={
        <span className="tabs" role="tablist">
          {Object.keys(draft.contents).map((l) => (
            <button key={l} type="button" role="tab" aria-selected={l === locale} className={l === locale ? "tab active" : "tab"} onClick={() => setLocale(l)}>
              {l}
            </button>
          ))}
        </span>
      }
      actions={
        !readOnly && (
          <span className="add-locale">
            <input aria-label={t("Add locale")} placeholder="ru" size={5} value={newLocale} onChange={(e) => setNewLocale(e.target.value.trim())} />
            <button
              type="button"
              disabled={!/^[a-z]{2}(-[A-Z]{2})?$/.test(newLocale) || newLocale in draft.contents}
              onClick={() => {
                change((d) => ({ ...d, contents: { ...d.contents, [newLocale]: { ...d.contents[locale] } } }));
                setLocale(newLocale);
                setNewLocale("");
              }}
            >
              + {t("Add locale")}
            </button>
          </span>
        )
      }
    >
      <fieldset disabled={readOnly}>
        {parts.map((p) => (
          <label key={p} className="field wide">
            <span>{p}</span>
            {p === "subject" || p === "title" ? (
              <input name={`part-${p}`} value={content[p] ?? ""} onChange={(e) => setPart(p, e.target.value)} />
            ) : (
              <textarea name={`part-${p}`} rows={p === "html" ? 10 : 5} spellCheck={false} value={content[p] ?? ""} onChange={(e) => setPart(p, e.target.value)} />
            )}
          </label>
        ))}
        {locale !== draft.defaultLocale && (
          <button
            type="button"
            className="small"
            onClick={() => {
              change((d) => {
                const { [locale]: _, ...rest } = d.contents;
                return { ...d, contents: rest };
              });
              setLocale(draft.defaultLocale);
            }}
          >
            {t("Remove")} {locale}
          </button>
        )}
      </fieldset>
    </Card>
  );
}

import { useEffect, useState } from "react";
import type { Template } from "../../../../gen/notify/v1/template_service_pb.js";
import { errorText, templates } from "../api.js";
import { ContentForm, SettingsForm, VariablesForm } from "../components/template-form.js";
import { TemplatePreview } from "../components/template-preview.js";
import { TemplateVersions } from "../components/template-versions.js";
import { TestSend } from "../components/test-send.js";
import { Badge, Card, ErrorBox, Notice, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { Link, navigate } from "../router.js";
import { useCan } from "../session.js";
import { draftFromVersion, emptyDraft, sampleData, toContents, toVariables, type Draft } from "../template-model.js";

export function TemplateEditorPage({ params }: { params: Record<string, string> }) {
  const t = useT();
  const can = useCan();
  const key = params.key;
  const isNew = !key;
  const readOnly = !can("manage");
  const [tpl, setTpl] = useState<Template>();
  const [shown, setShown] = useState(0);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [dirty, setDirty] = useState(false);
  const [locale, setLocale] = useState("en");
  const [layouts, setLayouts] = useState<string[]>([]);
  const [revision, setRevision] = useState(0);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    templates()
      .listLayouts({ pageSize: 200 })
      .then((r) => setLayouts(r.layouts.map((l) => l.key)), () => undefined);
  }, []);

  const open = async (version: number) => {
    if (!key) return;
    try {
      const r = await templates().get({ key, version });
      setTpl(r.template);
      setShown(r.version!.version);
      const d = draftFromVersion(r.template!, r.version!);
      setDraft(d);
      setDirty(false);
      setLocale((l) => (l in d.contents ? l : d.defaultLocale));
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };

  useEffect(() => {
    setTpl(undefined);
    if (key) void open(0);
    else {
      setDraft(emptyDraft());
      setLocale("en");
    }
  }, [key]);

  const change = (f: (d: Draft) => Draft) => {
    setDraft(f);
    setDirty(true);
    setNotice(undefined);
  };

  const save = async (publish: boolean) => {
    setBusy(true);
    setError(undefined);
    const common = {
      category: draft.category,
      channels: draft.channels,
      defaultLocale: draft.defaultLocale,
      variables: toVariables(draft),
      contents: toContents(draft),
      layout: draft.layout,
      note: draft.note,
    };
    try {
      if (isNew) {
        await templates().create({ ...common, key: draft.key, name: draft.name, description: draft.description });
        navigate(`/templates/${encodeURIComponent(draft.key)}`, true);
        return;
      }
      const r = await templates().update({
        ...common,
        key: key!,
        name: draft.name,
        description: draft.description,
        withoutLayout: draft.layout === "",
        publish,
        expectedLatestVersion: tpl?.latestVersion ?? 0,
      });
      setRevision((x) => x + 1);
      await open(r.version!.version);
      setNotice(`${t("Saved")}: v${r.version!.version}${publish ? ` (${t("Published").toLowerCase()})` : ""}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const archive = async () => {
    try {
      const r = await templates().archive({ key: key!, restore: !!tpl?.archived });
      setTpl(r.template);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const props = { draft, change, readOnly, isNew, layouts, locale, setLocale };
  // Nothing is editable before the stored version arrived, so no keystroke is lost to the load.
  if (!isNew && !tpl) {
    return (
      <div className="page">
        <ErrorBox error={error} />
        {!error && <p className="muted">{t("Loading")}…</p>}
      </div>
    );
  }
  return (
    <div className="page">
      <p>
        <Link to="/templates">← {t("Templates")}</Link>
      </p>
      <h1>
        {isNew ? t("New template") : key}{" "}
        {tpl && (
          <Badge kind={shown === tpl.currentVersion ? "ok" : "warn"}>
            v{shown} {shown === tpl.currentVersion ? t("Current").toLowerCase() : t("Draft").toLowerCase()}
          </Badge>
        )}{" "}
        {tpl?.archived && <Badge kind="warn">{t("Archived")}</Badge>}
      </h1>
      <ReadOnlyNote show={readOnly} />
      <ErrorBox error={error} />
      <Notice text={notice} />
      <div className="editor">
        <div className="editor-main">
          <Card>
            <SettingsForm {...props} />
          </Card>
          <VariablesForm {...props} />
          <ContentForm {...props} />
          {!readOnly && (
            <Card>
              <div className="inline-form">
                <input aria-label={t("Note")} placeholder={t("Note")} value={draft.note} onChange={(e) => change((d) => ({ ...d, note: e.target.value }))} />
                {isNew ? (
                  <button className="primary" disabled={busy || !draft.key} onClick={() => void save(true)}>
                    {t("Create")}
                  </button>
                ) : (
                  <>
                    <button disabled={busy || !dirty} onClick={() => void save(false)}>
                      {t("Save draft")}
                    </button>
                    <button className="primary" disabled={busy || !dirty} onClick={() => void save(true)}>
                      {t("Save and publish")}
                    </button>
                    <button className="small" onClick={() => void archive()}>
                      {tpl?.archived ? t("Restore") : t("Archive")}
                    </button>
                  </>
                )}
              </div>
            </Card>
          )}
        </div>
        <div className="editor-side">
          <TemplatePreview draft={draft} locale={locale} />
          {!isNew && tpl && (
            <>
              <TestSend templateKey={tpl.key} version={shown} locale={locale} data={sampleData(draft)} canSend={can("send") && !dirty} />
              <TemplateVersions
                templateKey={tpl.key}
                revision={revision}
                shown={shown}
                canManage={!readOnly}
                onOpen={(v) => void open(v)}
                onPublished={() => {
                  setRevision((x) => x + 1);
                  void open(0);
                }}
              />
            </>
          )}
        </div>
      </div>
    </div>
  );
}

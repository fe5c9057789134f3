import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { SettingsService, type Setting } from "../../../../gen/notify/v1/settings_service_pb.js";
import { client, errorText } from "../api.js";
import { Badge, Card, ErrorBox, formatTime, Notice, ReadOnlyNote } from "../components/ui.js";
import { useT } from "../i18n.js";
import { useCan } from "../session.js";

const settings = () => client(SettingsService);

const show = (v: JsonValue | undefined) => (typeof v === "string" ? v : JSON.stringify(v ?? null));
const valueOf = (s: Setting) => (s.value ? (toJson(ValueSchema, s.value) as JsonValue) : null);

/** Strings are edited as typed; anything else (lists, numbers) as JSON. */
function parse(text: string, before: JsonValue): JsonValue {
  if (typeof before === "string") return text;
  return JSON.parse(text) as JsonValue;
}

/** Run-time settings (confirmation redirect URL, its allow-list, default rates...): admins change them. */
export function SettingsPage() {
  const t = useT();
  const can = useCan();
  const ro = !can("admin");
  const [items, setItems] = useState<Setting[]>([]);
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

  const load = () =>
    settings()
      .getSettings({})
      .then((r) => {
        setItems(r.settings);
        setEdits({});
      }, (err) => setError(errorText(err)));
  useEffect(() => void load(), []);

  const save = async () => {
    try {
      const values: JsonObject = {};
      for (const s of items) if (s.key in edits) values[s.key] = parse(edits[s.key], valueOf(s));
      await settings().updateSettings({ values });
      setError(undefined);
      setNotice(t("Saved"));
      await load();
    } catch (err) {
      setNotice(undefined);
      setError(errorText(err));
    }
  };

  return (
    <div className="page">
      <h1>{t("Settings")}</h1>
      <ReadOnlyNote show={ro} />
      <ErrorBox error={error} />
      <Notice text={notice} />
      <Card>
        <fieldset disabled={ro}>
          {items.map((s) => (
            <label key={s.key} className="field wide setting">
              <span>
                <span className="mono">{s.key}</span> {s.isDefault && <Badge>default</Badge>}
              </span>
              <input name={s.key} value={edits[s.key] ?? show(valueOf(s))} onChange={(e) => setEdits({ ...edits, [s.key]: e.target.value })} />
              <small className="muted">
                {s.description}
                {!s.isDefault && ` · ${formatTime(s.updatedAt)} ${s.updatedBy}`}
              </small>
            </label>
          ))}
          <button className="primary" disabled={Object.keys(edits).length === 0} onClick={() => void save()}>
            {t("Save")}
          </button>
        </fieldset>
      </Card>
    </div>
  );
}

import { useEffect, useState } from "react";
import type { TemplateServiceDiffResponse, TemplateVersion } from "../../../../gen/notify/v1/template_service_pb.js";
import { errorText, templates } from "../api.js";
import { useT } from "../i18n.js";
import { DiffView } from "./diff-view.js";
import { Badge, Card, ErrorBox, formatTime } from "./ui.js";

interface Props {
  templateKey: string;
  /** Changes when the template changes, to reload the list. */
  revision: number;
  shown: number;
  canManage: boolean;
  onOpen: (version: number) => void;
  onPublished: () => void;
}

export function TemplateVersions({ templateKey, revision, shown, canManage, onOpen, onPublished }: Props) {
  const t = useT();
  const [versions, setVersions] = useState<TemplateVersion[]>([]);
  const [diff, setDiff] = useState<TemplateServiceDiffResponse>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    templates()
      .listVersions({ key: templateKey, pageSize: 50 })
      .then((r) => setVersions(r.versions), (err) => setError(errorText(err)));
  }, [templateKey, revision]);

  const current = versions.find((v) => v.current)?.version ?? 0;
  const showDiff = async (v: number) => {
    try {
      const [from, to] = v < current ? [v, current] : [current, v];
      setDiff(await templates().diff({ key: templateKey, fromVersion: from, toVersion: to }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  const publish = async (v: number) => {
    try {
      await templates().publish({ key: templateKey, version: v });
      onPublished();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <Card title={t("Versions")}>
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table data-testid="versions">
          <thead>
            <tr>
              <th className="num">{t("Version")}</th>
              <th>{t("Created")}</th>
              <th>{t("Note")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} className={v.version === shown ? "selected" : ""}>
                <td className="num">
                  v{v.version} {v.current && <Badge kind="ok">{t("Current")}</Badge>}
                </td>
                <td>
                  {formatTime(v.createdAt)}
                  <div className="muted">{v.createdBy}</div>
                </td>
                <td>{v.note}</td>
                <td className="row-actions">
                  <button type="button" className="small" onClick={() => onOpen(v.version)}>
                    {t("Open")}
                  </button>
                  {!v.current && (
                    <button type="button" className="small" onClick={() => void showDiff(v.version)}>
                      {t("Diff with current")}
                    </button>
                  )}
                  {!v.current && (
                    <button type="button" className="small" disabled={!canManage} onClick={() => void publish(v.version)}>
                      {t("Publish")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {diff && (
        <>
          <h3>
            {t("Diff")} v{diff.fromVersion} → v{diff.toVersion}{" "}
            <button type="button" className="small" onClick={() => setDiff(undefined)}>
              {t("Close")}
            </button>
          </h3>
          <DiffView changes={diff.changes} />
        </>
      )}
    </Card>
  );
}

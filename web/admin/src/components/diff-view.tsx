import type { DiffChange } from "../../../../gen/notify/v1/template_service_pb.js";
import { useT } from "../i18n.js";

/** Unified diff lines per changed part, coloured. */
export function DiffView({ changes }: { changes: DiffChange[] }) {
  const t = useT();
  if (changes.length === 0) return <p className="muted">{t("No differences")}</p>;
  return (
    <div className="diff" data-testid="diff">
      {changes.map((c, i) => (
        <div key={i}>
          <h4>{c.locale ? `${c.locale} · ${c.part}` : c.part}</h4>
          <pre>
            {c.lines.map((l, j) => (
              <span key={j} className={l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : l.startsWith("@@") ? "hunk" : ""}>
                {l}
                {"\n"}
              </span>
            ))}
          </pre>
        </div>
      ))}
    </div>
  );
}

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HourlyOutcomes } from "../../../../gen/notify/v1/admin_service_pb.js";
import { useT } from "../i18n.js";

const SERIES = [
  { key: "sent", label: "Sent", color: "#2e7d32" },
  { key: "skipped", label: "Skipped", color: "#f9a825" },
  { key: "failed", label: "Failed", color: "#c62828" },
  { key: "dead", label: "Dead", color: "#6a1b9a" },
] as const;

/** Stacked bars per hour in plain SVG: no chart library for one chart. */
export function HourlyChart({ hours }: { hours: HourlyOutcomes[] }) {
  const t = useT();
  const W = 720;
  const H = 220;
  const pad = { l: 44, r: 8, t: 10, b: 28 };
  const totals = hours.map((h) => SERIES.reduce((s, x) => s + Number(h[x.key]), 0));
  const max = Math.max(1, ...totals);
  const step = (W - pad.l - pad.r) / Math.max(1, hours.length);
  const bar = Math.max(2, step * 0.75);
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const ticks = [...new Set([0, 0.5, 1].map((f) => Math.round(max * f)))];
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={t("Deliveries per hour, last 24 hours")}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} className="grid" />
            <text x={pad.l - 6} y={y(v) + 4} textAnchor="end" className="axis">
              {v}
            </text>
          </g>
        ))}
        {hours.map((h, i) => {
          let acc = 0;
          const x = pad.l + i * step + (step - bar) / 2;
          const hour = timestampDate(h.hour!).getHours();
          return (
            <g key={i}>
              {SERIES.map((s) => {
                const v = Number(h[s.key]);
                if (v === 0) return null;
                const top = y(acc + v);
                const rect = <rect key={s.key} x={x} y={top} width={bar} height={y(acc) - top} fill={s.color}><title>{`${hour}:00 ${t(s.label)}: ${v}`}</title></rect>;
                acc += v;
                return rect;
              })}
              {i % 3 === 0 && (
                <text x={x + bar / 2} y={H - 10} textAnchor="middle" className="axis">
                  {String(hour).padStart(2, "0")}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {SERIES.map((s) => (
          <span key={s.key}>
            <i style={{ background: s.color }} /> {t(s.label)}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

// A small SVG line chart of one series over time: accessible as an image with a title and a
// description that summarises the data (latest, lowest, highest), which is also shown.
import { useId } from 'react';
import { useI18n } from '../i18n';

export interface ChartPoint {
  /** ISO time. */
  at: string;
  value: number;
}

interface Props {
  title: string;
  points: readonly ChartPoint[];
  /** The top of the value axis (e.g. 100 for percentages). */
  max: number;
  /** A value as text, with its unit. */
  format: (value: number) => string;
  height?: number;
}

const WIDTH = 360;
const PAD = { left: 40, right: 4, top: 8, bottom: 22 };

/** The polyline's points for `values` in a plot of `width` × `height`; pure, for tests. */
export function plotPoints(
  values: readonly number[],
  max: number,
  width: number,
  height: number,
): string {
  const n = values.length;
  const top = max > 0 ? max : 1;
  return values
    .map((value, i) => {
      const x = n === 1 ? width : (i / (n - 1)) * width;
      const y = height - (Math.min(Math.max(value, 0), top) / top) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

export function LineChart({ title, points, max, format, height = 140 }: Props) {
  const { t, locale } = useI18n();
  const time = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });
  const formatDate = (iso: string) => time.format(new Date(iso));
  const id = useId();
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const values = points.map((point) => point.value);
  const first = points[0];
  const last = points[points.length - 1];
  const summary =
    first === undefined || last === undefined
      ? t('No samples yet.')
      : t('Latest {latest}; lowest {lowest}, highest {highest}; from {from} to {to}.', {
          latest: format(last.value),
          lowest: format(Math.min(...values)),
          highest: format(Math.max(...values)),
          from: formatDate(first.at),
          to: formatDate(last.at),
        });
  const line = plotPoints(values, max, plotW, plotH);
  return (
    <figure style={{ margin: 0 }}>
      <svg
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        viewBox={`0 0 ${WIDTH} ${height}`}
        width="100%"
        style={{ display: 'block' }}
      >
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <g transform={`translate(${PAD.left},${PAD.top})`}>
          {[0, 0.5, 1].map((fraction) => (
            <g key={fraction}>
              <line
                x1={0}
                x2={plotW}
                y1={plotH - fraction * plotH}
                y2={plotH - fraction * plotH}
                stroke="var(--pf-t--global--border--color--default, #c7c7c7)"
                strokeDasharray={fraction === 0 ? undefined : '3 3'}
              />
              <text
                x={-6}
                y={plotH - fraction * plotH + 4}
                textAnchor="end"
                fontSize={11}
                fill="var(--pf-t--global--text--color--subtle, #6a6e73)"
              >
                {format(fraction * max)}
              </text>
            </g>
          ))}
          {first !== undefined && last !== undefined && (
            <>
              <polygon
                points={`0,${plotH} ${line} ${plotW},${plotH}`}
                fill="var(--pf-t--global--color--brand--default, #0066cc)"
                fillOpacity={0.12}
              />
              <polyline
                points={line}
                fill="none"
                stroke="var(--pf-t--global--color--brand--default, #0066cc)"
                strokeWidth={2}
                vectorEffect="non-scaling-stroke"
              />
              <text x={0} y={plotH + 16} fontSize={11} fill="currentColor">
                {formatDate(first.at)}
              </text>
              <text x={plotW} y={plotH + 16} fontSize={11} textAnchor="end" fill="currentColor">
                {formatDate(last.at)}
              </text>
            </>
          )}
        </g>
      </svg>
      <figcaption style={{ fontSize: 'var(--pf-t--global--font--size--sm, 0.875rem)' }}>
        <strong>{title}</strong> — {summary}
      </figcaption>
    </figure>
  );
}

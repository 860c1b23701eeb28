// How benchmarks print their results: one Markdown table each (the runner copies standard
// output into bench/README.md), figures with a fixed number of digits, and ratios against
// the baseline measured in the same run.

/** A Markdown table: the first column left-aligned, the figures right-aligned, unless told. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[] = header.map((_, i) => (i === 0 ? 'left' : 'right')),
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const rule = align.map((a) => (a === 'right' ? '---:' : '---'));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/** A figure with `digits` decimals; '–' for NaN (not measured). */
export function fixed(value: number, digits = 1): string {
  return Number.isNaN(value) ? '–' : value.toFixed(digits);
}

/** `value` against `baseline` as "1.23x". */
export function ratio(value: number, baseline: number, digits = 2): string {
  return `${fixed(value / baseline, digits)}x`;
}

/** Whether a target was met, as the tables say it. */
export function verdict(met: boolean): 'met' | 'missed' {
  return met ? 'met' : 'missed';
}

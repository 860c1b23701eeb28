// Aligned text tables for the CLI's listings, and the "key: value" block of a `show`.
// Cells come from the server: control characters are replaced so that a name or a
// description cannot move the cursor or recolour the terminal.

/** A cell as printed: null/undefined as "-", control characters as "?". */
export function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = Array.isArray(value) ? value.map(String).join(',') : String(value);
  return sanitize(text === '' ? '-' : text);
}

/** Replaces control characters (C0, DEL, C1) with "?"; tabs and newlines included. */
export function sanitize(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}

/** Width in columns, counting code points (LabVirt's names are mostly letters). */
function width(text: string): number {
  return [...text].length;
}

/**
 * Columns padded to their widest cell and separated by two spaces; the last column is
 * not padded, so no line ends in spaces. Every line ends with "\n".
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const cells = [
    headers.map(sanitize),
    ...rows.map((row) => headers.map((_, i) => cellText(row[i]))),
  ];
  const widths = headers.map((_, column) =>
    Math.max(...cells.map((row) => width(row[column] ?? ''))),
  );
  return cells
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - width(cell)),
        )
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** "Key:  value" lines with the values aligned, for showing one object. */
export function formatFields(fields: readonly (readonly [string, unknown])[]): string {
  const labels = fields.map(([label]) => `${sanitize(label)}:`);
  const labelWidth = Math.max(0, ...labels.map(width));
  return fields
    .map(([, value], index) => {
      const label = labels[index] ?? '';
      return `${label}${' '.repeat(labelWidth - width(label))} ${cellText(value)}\n`;
    })
    .join('');
}

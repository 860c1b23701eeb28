// The reliability suite's summary: the ledger's records (ledger.ts) read back after a test
// run and told as faults injected, hostile inputs tried, invariants checked, failures.
// summarize() is pure (golden-tested); printLedgerSummary() is what run-tests.mjs calls.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerRecord } from './ledger.js';

/** Every record in the ledger directory; lines that are not records are counted apart. */
export function readLedger(directory: string): { records: LedgerRecord[]; unreadable: number } {
  const records: LedgerRecord[] = [];
  let unreadable = 0;
  for (const name of readdirSync(directory).sort()) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(directory, name), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as LedgerRecord);
      } catch {
        unreadable++;
      }
    }
  }
  return { records, unreadable };
}

const count = (n: number) => n.toLocaleString('en-US');

/** "  3  SIGKILL controller" lines, most frequent first, then by name. */
function tally(entries: Iterable<readonly [string, number]>): string[] {
  const sorted = [...entries].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const width = Math.max(0, ...sorted.map(([, n]) => count(n).length));
  return sorted.map(([name, n]) => `    ${count(n).padStart(width)}  ${name}`);
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

export function summarize(records: readonly LedgerRecord[], unreadable = 0): string {
  const faults = new Map<string, number>();
  const hostile = new Map<string, number>();
  const checked = new Map<string, number>();
  const failures: string[] = [];
  for (const entry of records) {
    if (entry.type === 'fault') add(faults, entry.kind, 1);
    else if (entry.type === 'hostile') add(hostile, entry.kind, entry.count);
    else {
      add(checked, entry.name, 1);
      if (!entry.ok) failures.push(`    ${entry.name} (${entry.file}): ${entry.error ?? ''}`);
    }
  }
  const total = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
  const checks = total(checked);
  const lines = [
    'Reliability and security suite',
    `  faults injected: ${count(total(faults))}`,
    ...tally(faults),
    `  hostile inputs tried: ${count(total(hostile))}`,
    ...tally(hostile),
    `  invariants checked: ${count(checks)} (${count(checks - failures.length)} held, ${count(failures.length)} broken)`,
    ...tally(checked),
    `  failures: ${count(failures.length)}`,
    ...failures,
  ];
  if (unreadable > 0) lines.push(`  unreadable ledger lines: ${count(unreadable)}`);
  return `${lines.join('\n')}\n`;
}

/** Prints the summary of a ledger directory; false when nothing was recorded there. */
export function printLedgerSummary(
  directory: string,
  write: (text: string) => void = (text) => process.stdout.write(text),
): boolean {
  const { records, unreadable } = readLedger(directory);
  if (records.length === 0 && unreadable === 0) return false;
  write(summarize(records, unreadable));
  return true;
}

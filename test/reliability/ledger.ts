// What the reliability suite did, for the summary printed at the end of a test run
// (scripts/run-tests.mjs → summary.ts): each fault injected, each batch of hostile input
// tried, and each invariant checked with its outcome. Every test file runs in its own
// process, so records are appended, one JSON line each, to a file of this process in the
// directory named by LABVIRT_RELIABILITY_LEDGER; without it (a file run by hand) they are
// only counted in memory and dropped.
import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export type LedgerRecord =
  | { readonly type: 'fault'; readonly kind: string; readonly file: string }
  | {
      readonly type: 'hostile';
      readonly kind: string;
      readonly count: number;
      readonly file: string;
    }
  | {
      readonly type: 'invariant';
      readonly name: string;
      readonly ok: boolean;
      readonly file: string;
      /** The first line of the failure, when it failed. */
      readonly error?: string;
    };

const directory = process.env.LABVIRT_RELIABILITY_LEDGER;
const file = basename(process.argv[1] ?? 'unknown').replace(/\.js$/, '');

function record(entry: LedgerRecord): void {
  if (directory === undefined || directory === '') return;
  appendFileSync(join(directory, `ledger-${process.pid}.jsonl`), `${JSON.stringify(entry)}\n`);
}

/** A fault was injected: "SIGKILL controller", "disk full: image store", "PostgreSQL stopped". */
export function faultInjected(kind: string): void {
  record({ type: 'fault', kind, file });
}

/** count hostile inputs of one kind were tried: "fuzzed request", "path traversal". */
export function hostileInputs(kind: string, count = 1): void {
  if (!Number.isInteger(count) || count < 0) throw new Error(`hostileInputs: bad count ${count}`);
  if (count > 0) record({ type: 'hostile', kind, count, file });
}

/**
 * Runs check and records whether the invariant named held. The check's own assertion error
 * is rethrown unchanged, so the test fails as it would without the ledger.
 */
export async function invariant<T>(name: string, check: () => T | Promise<T>): Promise<T> {
  try {
    const result = await check();
    record({ type: 'invariant', name, ok: true, file });
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    record({ type: 'invariant', name, ok: false, file, error: message.split('\n')[0] ?? '' });
    throw error;
  }
}

// How hard the reliability suite pushes: CI runs the short variant; the long one (more
// fuzzing cases, more fault repetitions) is opt-in with LABVIRT_RELIABILITY_LONG=1. A
// misspelt value is refused, not read as "short" (or as NaN runs, which fuzz nothing).

/** LABVIRT_RELIABILITY_LONG: unset, '' or 0 → short; 1 → long; anything else is refused. */
export function parseLong(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new Error(`LABVIRT_RELIABILITY_LONG=${JSON.stringify(value)}: use 1 (long) or 0 (short)`);
}

/** A count override such as LABVIRT_FUZZ_RUNS: unset → undefined; else a whole number ≥ 1. */
export function parseCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < 1)
    throw new Error(`${name}=${JSON.stringify(value)}: give a whole number of at least 1`);
  return count;
}

export const LONG = parseLong(process.env.LABVIRT_RELIABILITY_LONG);

/** The count for this run: ci normally, long when the long variant is asked for. */
export function scaled(ci: number, long: number): number {
  return LONG ? long : ci;
}

/** scaled(ci, long), unless the environment variable `name` gives the count itself. */
export function countFromEnv(name: string, ci: number, long: number): number {
  return parseCount(name, process.env[name]) ?? scaled(ci, long);
}

// What every benchmark reads from its command line: --quick (a short run, to see that it
// works, not to quote) and --name value options.

/** `--quick`: fewer rounds, smaller loads; the figures are not for bench/README.md's analysis. */
export const QUICK = process.argv.includes('--quick');

/** The value after `name` on the command line (`--seconds 5`), if given. */
export function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

/** A numeric option, or `fallback`; exits with one line when it is not a positive number. */
export function numberOption(name: string, fallback: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name}: expected a positive number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

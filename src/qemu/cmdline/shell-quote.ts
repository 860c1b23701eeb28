// Quoting for display only: `labvirt cmdline` prints a line a person can paste into a
// shell. LabVirt itself never runs a shell; it passes argv arrays.

const safe = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  if (arg.length > 0 && safe.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

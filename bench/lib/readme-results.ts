// `npm run bench` writes each benchmark's latest output into bench/README.md between
// markers of its own, so running one benchmark replaces its section and leaves the others
// (and the hand-written text around them) alone. Pure, for golden tests.

const begin = (name: string) => `<!-- bench:${name} begin (written by npm run bench) -->`;
const end = (name: string) => `<!-- bench:${name} end -->`;

/** The section as written: its markers around the machine line and the output. */
export function resultsSection(name: string, machine: string, output: string): string {
  return [begin(name), `Measured ${machine}.`, '', output.trim(), end(name)].join('\n');
}

/**
 * The README with the section of `name` replaced, or appended under the "Latest results"
 * heading (made when missing) when it has none yet.
 */
export function withResults(readme: string, name: string, section: string): string {
  const from = readme.indexOf(begin(name));
  const to = readme.indexOf(end(name));
  if (from !== -1 && to > from) {
    return readme.slice(0, from) + section + readme.slice(to + end(name).length);
  }
  const heading = '## Latest results';
  const base = readme.includes(`\n${heading}\n`)
    ? readme.trimEnd()
    : `${readme.trimEnd()}\n\n${heading}`;
  return `${base}\n\n### ${name}\n\n${section}\n`;
}

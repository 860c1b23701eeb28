// The tables of bench/image-ops.ts: times, ratios against the 1 MiB image, and the parts
// of each operation (what the store spends, what the rows and QEMU do), from the rounds.
import { median, percentile } from './stats.js';
import { fixed, markdownTable, ratio, verdict } from './table.js';
import type { RoundTimes } from './image-ops-rig.js';

export const UNDER_MS = 1000;
/** The least band counted as noise around 1.0x; wider when the rounds spread more. */
export const MIN_NOISE = 0.2;

export interface Measured {
  readonly label: string;
  readonly rounds: readonly RoundTimes[];
}

type Field = keyof RoundTimes;
const OPERATIONS = ['clone', 'open', 'publish'] as const;

/** Figures right-aligned, the verdict in the last column left-aligned. */
const VERDICT_LAST = ['left', 'right', 'right', 'right', 'right', 'left'] as const;

const mid = (m: Measured, pick: (r: RoundTimes) => number) => median(m.rounds.map(pick));
const of = (field: Field) => (r: RoundTimes) => r[field];

/** The rounds' interquartile spread of `field`, relative to their median. */
function spread(m: Measured, field: Field): number {
  const values = m.rounds.map(of(field));
  return (percentile(values, 0.75) - percentile(values, 0.25)) / median(values);
}

/** The band around 1.0x counted as noise: the wider spread of the two sizes' rounds. */
function noise(base: Measured, m: Measured, field: Field): number {
  return Math.max(MIN_NOISE, spread(base, field), spread(m, field));
}

export function report(measured: readonly Measured[], rounds: number, machine: string): string {
  const base = measured[0];
  if (base === undefined) return '';
  const ms = (m: Measured, field: Field) => fixed(mid(m, of(field)));
  const under = (m: Measured) => OPERATIONS.every((field) => mid(m, of(field)) < UNDER_MS);
  const flat = (m: Measured) =>
    OPERATIONS.every(
      (field) => Math.abs(mid(m, of(field)) / mid(base, of(field)) - 1) <= noise(base, m, field),
    );
  const times = markdownTable(
    [
      'golden image',
      'bare qemu-img create -b',
      'linked clone',
      'admin open',
      'publish',
      'all < 1 s',
    ],
    measured.map((m) => [
      m.label,
      ms(m, 'bare'),
      ms(m, 'clone'),
      ms(m, 'open'),
      ms(m, 'publish'),
      verdict(under(m)),
    ]),
    VERDICT_LAST,
  );
  const fastest = (m: Measured, field: Field) => Math.min(...m.rounds.map(of(field)));
  const versus = (m: Measured, field: Field) =>
    `${ratio(mid(m, of(field)), mid(base, of(field)))} (${ratio(fastest(m, field), fastest(base, field))})`;
  const bands = (m: Measured) =>
    `±${OPERATIONS.map((field) => fixed(noise(base, m, field) * 100, 0)).join('/')}%`;
  const ratios = markdownTable(
    ['golden image', 'bare', 'linked clone', 'admin open', 'publish', 'noise band', 'flat'],
    measured.map((m) => [
      m.label,
      versus(m, 'bare'),
      versus(m, 'clone'),
      versus(m, 'open'),
      versus(m, 'publish'),
      m === base ? '' : bands(m),
      m === base ? '' : verdict(flat(m)),
    ]),
    [...VERDICT_LAST.slice(0, 5), 'right', 'left'],
  );
  const sum = (m: Measured, parts: readonly ((r: RoundTimes) => number)[]) =>
    parts.map((part) => fixed(mid(m, part))).join(' + ');
  const parts = markdownTable(
    [
      'golden image',
      'linked clone: layer + seal + rows',
      'admin open: layer + rows and QEMU start',
      'admin VM stop (before publish)',
      'publish: seal + rows',
    ],
    measured.map((m) => [
      m.label,
      sum(m, [of('cloneLayer'), of('cloneSeal'), (r) => r.clone - r.cloneLayer - r.cloneSeal]),
      sum(m, [of('openLayer'), (r) => r.open - r.openLayer]),
      ms(m, 'stop'),
      sum(m, [of('publishSeal'), (r) => r.publish - r.publishSeal]),
    ]),
  );
  const allFlat = measured.every(flat);
  const allUnder = measured.every(under);
  return [
    `Linked clone, admin-session open and publish through the controller's services (SQLite; ` +
      `${machine}; admin VM 32 MiB, 1 vCPU) on empty sparse qcow2 golden images, against a ` +
      `bare \`qemu-img create -b\` on each: median of ${rounds} rounds (sizes interleaved in ` +
      `rotating order, after one warm-up round), milliseconds.`,
    '',
    times,
    '',
    'Each against its 1 MiB figure: median (fastest round). Noise band: the wider ' +
      "interquartile spread of the two sizes' rounds (at least ±20%), for clone/open/publish:",
    '',
    ratios,
    '',
    'Where the time goes (medians of each part; the stop is not part of publish):',
    '',
    parts,
    '',
    `Target (issue 9), linked operations flat in image size (median ratios within the noise ` +
      `band of 1.0) and under 1 s: ${verdict(allFlat && allUnder)} ` +
      `(flat: ${verdict(allFlat)}; under 1 s: ${verdict(allUnder)}).`,
  ].join('\n');
}

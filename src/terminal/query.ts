// The config route's query (GET /terminal/v1/config?mac=..&format=..&client=..), as Fastify
// gives it (a string, or an array when a key repeats), parsed into what the route needs.
// Lists may be repeated keys or comma-separated (mac=a,b&mac=c); empty items are ignored.
import { LabvirtError } from '../domain/errors.js';
import { parseMac } from '../qemu/cmdline/validate.js';
import {
  configFormats,
  terminalClients,
  type ConfigFormat,
  type TerminalClient,
} from './config.js';

export interface TerminalConfigQuery {
  /** Lowercase, colon-separated, without duplicates; empty: the route uses the source address. */
  readonly macs: string[];
  readonly format: ConfigFormat;
  /** format=args only: the clients the terminal has, in its order of preference. */
  readonly clients: TerminalClient[];
}

/** A terminal sends its NICs' MACs; more than this is not a terminal. */
export const MAX_TERMINAL_MACS = 16;

const KEYS = ['mac', 'format', 'client'] as const;

export function parseConfigQuery(query: unknown): TerminalConfigQuery {
  const object = (query ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!(KEYS as readonly string[]).includes(key))
      throw new LabvirtError('FIELD_UNKNOWN', { field: `query.${key}` }, { field: `query.${key}` });
  }
  const format = parseFormat(items(object, 'format'));
  const clients = parseClients(items(object, 'client'), format);
  return { macs: parseMacs(items(object, 'mac')), format, clients };
}

/** The values of a key, split at commas, trimmed, without empty items. */
function items(query: Record<string, unknown>, key: (typeof KEYS)[number]): string[] {
  const value = query[key];
  if (value === undefined) return [];
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  return values.flatMap((one) => {
    if (typeof one !== 'string')
      throw new LabvirtError(
        'FIELD_TYPE',
        { field: `query.${key}`, type: 'string' },
        {
          field: `query.${key}`,
        },
      );
    return one
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  });
}

function parseMacs(given: string[]): string[] {
  // Deduplicate on the normal form first, so 1,000 copies of one MAC are one MAC, and only
  // then count: a long list is refused before each of its items is checked.
  const normal = new Map<string, string>();
  for (const mac of given) {
    const key = mac.toLowerCase().replaceAll('-', ':');
    if (!normal.has(key)) normal.set(key, mac);
  }
  if (normal.size > MAX_TERMINAL_MACS) {
    throw new LabvirtError(
      'TERMINAL_MACS_TOO_MANY',
      { count: normal.size, max: MAX_TERMINAL_MACS },
      { field: 'query.mac' },
    );
  }
  return [...normal].map(([key, mac]) => {
    // aa-bb-.. (Windows' form) is accepted; mixing separators is not.
    const separators = new Set(mac.replace(/[0-9a-f]/gi, ''));
    try {
      if (separators.size > 1) throw new LabvirtError('MAC_MALFORMED', { mac });
      return parseMac(key);
    } catch (error) {
      if (!(error instanceof LabvirtError)) throw error;
      throw new LabvirtError(error.code, { mac }, { field: 'query.mac', cause: error });
    }
  });
}

function parseFormat(given: string[]): ConfigFormat {
  const distinct = [...new Set(given)];
  if (distinct.length === 0) return 'json';
  if (distinct.length > 1)
    throw new LabvirtError(
      'FIELD_TOO_MANY',
      { field: 'query.format', limit: 1 },
      {
        field: 'query.format',
      },
    );
  const format = distinct[0] as string;
  if (!(configFormats as readonly string[]).includes(format)) {
    throw new LabvirtError(
      'TERMINAL_FORMAT_UNKNOWN',
      { format, allowed: configFormats.join(', ') },
      { field: 'query.format' },
    );
  }
  return format as ConfigFormat;
}

function parseClients(given: string[], format: ConfigFormat): TerminalClient[] {
  const clients = [...new Set(given)];
  for (const client of clients) {
    if (!(terminalClients as readonly string[]).includes(client)) {
      throw new LabvirtError(
        'TERMINAL_CLIENT_UNKNOWN',
        { client, allowed: terminalClients.join(', ') },
        { field: 'query.client' },
      );
    }
  }
  if (clients.length > 0 && format !== 'args')
    throw new LabvirtError('TERMINAL_CLIENT_NOT_ARGS', { format }, { field: 'query.client' });
  // format=args without a list: every client, in the catalogue's order.
  if (clients.length === 0 && format === 'args') return [...terminalClients];
  return clients as TerminalClient[];
}

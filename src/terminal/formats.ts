// A terminal's config in the forms its boot tools read: JSON, sh-sourceable KEY='value'
// lines, an .rdp file, a virt-viewer (.vv) file, or a client's argv one argument per line.
// Pure: the route renders what the service decided.
import { isIP } from 'node:net';
import { isHostName } from '../domain/host-name.js';
import { LabvirtError, phrase } from '../domain/errors.js';
import type { DisplayProtocol } from '../agent/host-agent.js';
import type { ConfigFormat, TerminalClient, TerminalConfig } from './config.js';

export interface RenderedConfig {
  readonly contentType: string;
  readonly body: string;
  /** A download name, for the formats a desktop opens as a file. */
  readonly filename?: string;
}

/** The protocols each client speaks (remote-viewer's vnc only without a ticket: see argsFor). */
export const clientProtocols: Readonly<Record<TerminalClient, readonly DisplayProtocol[]>> = {
  xfreerdp: ['rdp'],
  rdesktop: ['rdp'],
  'remote-viewer': ['vnc', 'spice'],
  vncviewer: ['vnc'],
};

/** The protocols a file format serves (the other formats serve all). */
const fileProtocols: Partial<Record<ConfigFormat, readonly DisplayProtocol[]>> = {
  rdp: ['rdp'],
  vv: ['vnc', 'spice'],
};

export function renderConfig(
  config: TerminalConfig,
  format: ConfigFormat,
  clients: readonly TerminalClient[],
): RenderedConfig {
  checkDisplay(config);
  const serves = fileProtocols[format];
  if (serves !== undefined && !serves.includes(config.protocol)) {
    throw new LabvirtError('TERMINAL_FORMAT_PROTOCOL', {
      protocol: config.protocol,
      format,
      allowed: serves.join(', '),
    });
  }
  switch (format) {
    case 'json':
      return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(config) };
    case 'env':
      return { contentType: 'text/plain; charset=utf-8', body: envFile(config) };
    case 'rdp':
      return { contentType: 'application/x-rdp', body: rdpFile(config), filename: 'labvirt.rdp' };
    case 'vv':
      return {
        contentType: 'application/x-virt-viewer',
        body: vvFile(config),
        filename: 'labvirt.vv',
      };
    case 'args':
      return {
        contentType: 'text/plain; charset=utf-8',
        body: argsFor(config, clients).join('\n') + '\n',
      };
  }
}

/**
 * The host, port and ticket end up in URIs, files and argv: a newline or a stray character
 * there would be a new argument or a new key, so they are checked, never escaped.
 */
function checkDisplay(config: TerminalConfig): void {
  const invalid = (field: string, value: string) =>
    new LabvirtError('TERMINAL_DISPLAY_INVALID', { vm: config.vm, field, value });
  if (isIP(config.host) === 0 && !isHostName(config.host)) throw invalid('host', config.host);
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535)
    throw invalid('port', String(config.port));
  // The ticket itself is never shown, even in an error.
  if (config.ticket !== null && !/^[\x21-\x7e]{1,127}$/.test(config.ticket))
    throw invalid('ticket', '…');
}

/** Names (terminal, lab, profile, VM) on one line: control characters become spaces. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** host:port, with an IPv6 address in brackets (URIs, xfreerdp, rdesktop, .rdp files). */
function hostPort(config: TerminalConfig): string {
  return `${bracketed(config.host)}:${config.port}`;
}

function bracketed(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function title(config: TerminalConfig): string {
  return oneLine(`LabVirt: ${config.profile} (${config.terminal.name})`);
}

function size(screen: TerminalConfig['screen']): string | null {
  return screen.width !== null && screen.height !== null
    ? `${screen.width}x${screen.height}`
    : null;
}

/** One sh word: single quotes, each ' written as '\'' (close, escaped quote, reopen). */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * KEY='value' lines. Every value is single-quoted, so `. file` in sh assigns it verbatim
 * (no expansion of $, `, \ or spaces), and it stays on its line (control characters in
 * names become spaces), so it can also be read line by line; a reader that does not source
 * it must undo the quoting ('\'' is a quote).
 */
function envFile(config: TerminalConfig): string {
  const { screen } = config;
  const entries: [string, string][] = [
    ['LABVIRT_PROTOCOL', config.protocol],
    ['LABVIRT_HOST', config.host],
    ['LABVIRT_PORT', String(config.port)],
    ['LABVIRT_TICKET', config.ticket ?? ''],
    ['LABVIRT_TICKET_EXPIRES_AT', config.ticketExpiresAt ?? ''],
    ['LABVIRT_FULLSCREEN', screen.fullscreen ? '1' : '0'],
    ['LABVIRT_WIDTH', screen.width === null ? '' : String(screen.width)],
    ['LABVIRT_HEIGHT', screen.height === null ? '' : String(screen.height)],
    ['LABVIRT_TERMINAL', config.terminal.name],
    ['LABVIRT_LAB', config.lab],
    ['LABVIRT_PROFILE', config.profile],
    ['LABVIRT_VM', config.vm],
  ];
  return entries.map(([key, value]) => `${key}=${shQuote(oneLine(value))}\n`).join('');
}

/**
 * An .rdp file (mstsc's key:type:value lines, CRLF; FreeRDP and Remmina read it too). NLA
 * is off because LabVirt gives no credentials: the guest's own logon screen asks the user.
 */
function rdpFile(config: TerminalConfig): string {
  const { screen } = config;
  const lines = [
    `full address:s:${hostPort(config)}`,
    `screen mode id:i:${screen.fullscreen ? 2 : 1}`,
    ...(!screen.fullscreen && screen.width !== null && screen.height !== null
      ? [`desktopwidth:i:${screen.width}`, `desktopheight:i:${screen.height}`]
      : []),
    'use multimon:i:0',
    'session bpp:i:32',
    'audiomode:i:0',
    'redirectclipboard:i:1',
    'autoreconnection enabled:i:1',
    'prompt for credentials:i:0',
    'enablecredsspsupport:i:0',
    // Warn (rather than refuse or ignore) when the guest's certificate cannot be verified.
    'authentication level:i:2',
  ];
  return lines.map((line) => `${line}\r\n`).join('');
}

/** GKeyFile value escaping, as virt-viewer reads it. */
function keyFileValue(value: string): string {
  return oneLine(value).replaceAll('\\', '\\\\').replace(/^ /, '\\s');
}

/** A virt-viewer connection file for remote-viewer; it deletes the file once it has read it. */
function vvFile(config: TerminalConfig): string {
  const lines = [
    '[virt-viewer]',
    `type=${config.protocol}`,
    `host=${config.host}`,
    `port=${config.port}`,
    ...(config.ticket !== null ? [`password=${keyFileValue(config.ticket)}`] : []),
    `fullscreen=${config.screen.fullscreen ? 1 : 0}`,
    `title=${keyFileValue(title(config))}`,
    'delete-this-file=1',
  ];
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * The argv for the first of `clients` that can open this display from its command line
 * alone. How each takes the ticket (never through a file the server would write):
 * - xfreerdp, rdesktop: rdp has no ticket. xfreerdp gets /sec:tls (no NLA, so the guest's
 *   logon screen asks the user) and /cert:tofu (trust the guest's certificate on first use).
 * - remote-viewer, spice: spice-gtk reads `password` from the spice:// URI's query (it
 *   warns that argv is visible to local processes; the ticket is one-time and short-lived).
 * - remote-viewer, vnc: virt-viewer takes no password from a vnc:// URI, only from a .vv
 *   file, so it fits only when there is no ticket; the boot script asks for format=vv
 *   instead when remote-viewer is its client.
 * - vncviewer (TigerVNC >= 1.11) reads the password from $VNC_PASSWORD, so the argv starts
 *   with `env VNC_PASSWORD=...`: the ticket is in env's argv only until env execs the viewer.
 */
function argsFor(config: TerminalConfig, clients: readonly TerminalClient[]): string[] {
  const client = clients.find((candidate) => fits(candidate, config));
  if (client === undefined) {
    const fitting = (Object.keys(clientProtocols) as TerminalClient[]).filter((candidate) =>
      fits(candidate, config),
    );
    throw new LabvirtError('TERMINAL_CLIENT_NONE', {
      protocol: config.protocol,
      clients: clients.length === 0 ? phrase('(none given)') : clients.join(', '),
      fitting:
        config.protocol === 'vnc' && config.ticket !== null
          ? phrase('{clients}, or remote-viewer with format=vv', { clients: fitting.join(', ') })
          : fitting.join(', '),
    });
  }
  return clientArgv[client](config);
}

function fits(client: TerminalClient, config: TerminalConfig): boolean {
  if (!clientProtocols[client].includes(config.protocol)) return false;
  return !(client === 'remote-viewer' && config.protocol === 'vnc' && config.ticket !== null);
}

const clientArgv: Record<TerminalClient, (config: TerminalConfig) => string[]> = {
  xfreerdp: (config) => {
    const window = size(config.screen);
    return [
      'xfreerdp',
      `/v:${hostPort(config)}`,
      '/cert:tofu',
      '/sec:tls',
      ...(config.screen.fullscreen ? ['/f'] : window !== null ? [`/size:${window}`] : []),
      `/t:${title(config)}`,
    ];
  },
  rdesktop: (config) => {
    const window = size(config.screen);
    return [
      'rdesktop',
      ...(config.screen.fullscreen ? ['-f'] : window !== null ? ['-g', window] : []),
      '-T',
      title(config),
      hostPort(config),
    ];
  },
  'remote-viewer': (config) => {
    const query = config.ticket !== null ? `?password=${encodeURIComponent(config.ticket)}` : '';
    // remote-viewer has no window-size option: a window opens at the guest's resolution.
    return [
      'remote-viewer',
      ...(config.screen.fullscreen ? ['--full-screen'] : []),
      '--title',
      title(config),
      `${config.protocol}://${hostPort(config)}${query}`,
    ];
  },
  vncviewer: (config) => {
    const window = size(config.screen);
    // TigerVNC: HOST::PORT is a TCP port (HOST:N would be display N, port 5900+N).
    return [
      ...(config.ticket !== null ? ['env', `VNC_PASSWORD=${config.ticket}`] : []),
      'vncviewer',
      ...(config.screen.fullscreen
        ? ['-FullScreen']
        : window !== null
          ? ['-geometry', window]
          : []),
      `${bracketed(config.host)}::${config.port}`,
    ];
  },
};

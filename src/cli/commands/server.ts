// `labvirt server`: the controller on embedded defaults (SQLite under ./data, 127.0.0.1:8080,
// the local host's agent in-process). Runs until SIGINT/SIGTERM; VMs keep running after it.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { isHostName } from '../../domain/host-name.js';
import { fileError } from '../../system/file-errors.js';
import type { CliContext } from '../context.js';
import type { HostNetwork } from '../../agent/host-agent.js';
import { bridgeExists } from '../../agent/vm-network.js';
import { parseInterfaceName } from '../../agent/network-setup.js';
import { DEFAULT_LISTEN, parseListen, parseTrustProxy } from '../../controller/listen-address.js';
import { textLogStream } from '../log-format.js';
import { startDemo } from './server-demo.js';
import { addHostFlags } from '../host-flags.js';
import { untilStopSignal } from '../until-signal.js';

interface ServerFlags {
  data: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  trustProxy?: string;
  secureCookies?: boolean;
  importDir?: string[];
  isoDir?: string;
  overlayDir?: string;
  logFormat?: string;
  logLevel: string;
  gatewayBind?: string;
  gatewayAddress?: string;
  gatewayPorts?: string;
  terminalRateLimit?: string;
  vmNetwork?: string;
  bridge?: string;
  taps?: string;
  dhcp?: boolean;
  demo?: boolean;
  /** false with --no-local-host. */
  localHost?: boolean;
}

/**
 * How this host's VMs reach the network. A bridge implies bridged networking; the bridge
 * must exist (one clear line at start rather than every VM failing later).
 */
export async function parseNetworkFlags(
  flags: Pick<ServerFlags, 'vmNetwork' | 'bridge' | 'taps' | 'dhcp'>,
  tr: CliContext['tr'],
  exists: (bridge: string) => Promise<boolean> = bridgeExists,
): Promise<HostNetwork | undefined> {
  const bad = (option: string, reason: string) =>
    new LabvirtError('OPTION_INVALID', { option, reason });
  const mode = flags.vmNetwork ?? (flags.bridge === undefined ? undefined : 'bridge');
  if (mode !== undefined && mode !== 'user' && mode !== 'bridge')
    throw bad('--vm-network', tr.t('use user or bridge'));
  if (flags.taps !== undefined && flags.taps !== 'helper' && flags.taps !== 'precreated')
    throw bad('--taps', tr.t('use helper (qemu-bridge-helper) or precreated'));
  if (mode !== 'bridge') {
    for (const [option, given] of [
      ['--bridge', flags.bridge !== undefined],
      ['--taps', flags.taps !== undefined],
      ['--dhcp', flags.dhcp === true],
    ] as const) {
      if (given) throw bad(option, tr.t('only for bridged networking (--vm-network bridge)'));
    }
    return mode === undefined ? undefined : { mode: 'user' };
  }
  const bridge = flags.bridge;
  if (bridge === undefined) throw bad('--bridge', tr.t('name the bridge VMs join'));
  try {
    parseInterfaceName(bridge, 'bridge');
  } catch (error) {
    if (!(error instanceof LabvirtError)) throw error;
    throw bad('--bridge', tr.t('give an interface name: 1-15 letters, digits, ".", "_" or "-"'));
  }
  if (!(await exists(bridge))) throw new LabvirtError('BRIDGE_NOT_FOUND', { bridge });
  const taps = flags.taps === 'precreated' ? 'precreated' : 'helper';
  return { mode: 'bridge', bridge, taps, dhcp: flags.dhcp === true };
}

/** The terminal-facing options: checked here, so a typo is one clear line at start. */
export function parseGatewayFlags(
  flags: Pick<ServerFlags, 'gatewayBind' | 'gatewayAddress' | 'gatewayPorts' | 'terminalRateLimit'>,
  tr: CliContext['tr'],
) {
  const bad = (option: string, reason: string) =>
    new LabvirtError('OPTION_INVALID', { option, reason });
  if (flags.gatewayBind !== undefined && isIP(flags.gatewayBind) === 0)
    throw bad('--gateway-bind', tr.t('give an IP address of this host, like 0.0.0.0 or 10.0.0.5'));
  const address = flags.gatewayAddress;
  if (address !== undefined && isIP(address) === 0 && !isHostName(address))
    throw bad('--gateway-address', tr.t('give a host name or an IP address terminals can reach'));
  let ports: { from: number; to: number } | undefined;
  if (flags.gatewayPorts !== undefined) {
    const match = /^(\d{1,5})-(\d{1,5})$/.exec(flags.gatewayPorts);
    const from = Number(match?.[1]);
    const to = Number(match?.[2]);
    if (match === null || from < 1024 || to > 65535 || from > to)
      throw bad('--gateway-ports', tr.t('give a range like 20000-20999 (ports 1024-65535)'));
    ports = { from, to };
  }
  let rate: number | undefined;
  if (flags.terminalRateLimit !== undefined) {
    rate = Number(flags.terminalRateLimit);
    if (!/^\d{1,6}$/.test(flags.terminalRateLimit) || rate < 1)
      throw bad(
        '--terminal-rate-limit',
        tr.t('give a whole number of requests per minute, 1 or more'),
      );
  }
  return { bind: flags.gatewayBind, address, ports, rate };
}

/** How the first-admin hint names this program: "bin/labvirt" when run from the checkout. */
export function programName(script: string | undefined, cwd: string): string {
  if (script === undefined || basename(script) !== 'labvirt') return 'labvirt';
  const path = relative(cwd, script);
  return path !== '' && !path.startsWith('..') && !isAbsolute(path) && path.includes('/')
    ? path
    : 'labvirt';
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function serverCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const command = new Command('server')
    .description(
      tr.t('run the controller: the REST API, the database and this machine’s host agent'),
    )
    .option(
      '--data <DIR>',
      tr.t('data directory: the SQLite file and the VMs’ run directory'),
      'data',
    )
    .option(
      '--listen <HOST:PORT>',
      tr.t('the address to listen on (port 0: any free port)'),
      DEFAULT_LISTEN,
    )
    .option('--tls-cert <FILE>', tr.t('serve HTTPS with this certificate (PEM)'))
    .option('--tls-key <FILE>', tr.t('the private key of --tls-cert (PEM)'))
    .option(
      '--trust-proxy <PROXIES>',
      tr.t(
        'trust X-Forwarded-* from these reverse proxies: a hop count or addresses/CIDRs, comma-separated',
      ),
    )
    .option(
      '--secure-cookies',
      tr.t('mark session cookies Secure (behind a TLS-terminating proxy)'),
    )
    .option(
      '--import-dir <DIR>',
      tr.t('where disk images may be imported from (repeatable; default DATA/import)'),
      (dir: string, dirs: string[] = []) => [...dirs, dir],
    )
    .option('--iso-dir <DIR>', tr.t('the ISO library of profiles’ CD-ROMs (default DATA/iso)'))
    .option(
      '--overlay-dir <DIR>',
      tr.t('where client VMs’ throw-away overlays go, e.g. a tmpfs (default DATA/run)'),
    )
    .option('--log-format <FORMAT>', tr.t('text or json (default: text on a terminal, else json)'))
    .option('--log-level <LEVEL>', tr.t('fatal, error, warn, info, debug or trace'), 'info')
    .option(
      '--terminal-rate-limit <N>',
      tr.t('requests per minute one address may make to the terminal endpoint (default 300)'),
    );
  addHostFlags(
    command,
    tr,
    tr.t('the name or address terminals reach this host at (default: the one they asked)'),
  );
  return command
    .option(
      '--no-local-host',
      tr.t('run no VM on this machine: only on enrolled hosts (for several controllers)'),
    )
    .option(
      '--demo',
      tr.t(
        'set up a demo (a profile of the small Linux guest, a lab with two terminals and their VMs) and print a one-time sign-in link',
      ),
    )
    .action(async (flags: ServerFlags) => {
      const listen = parseListen(flags.listen);
      const gateway = parseGatewayFlags(flags, tr);
      const network = await parseNetworkFlags(flags, tr);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
        throw new LabvirtError('TLS_INCOMPLETE');
      const trustProxy =
        flags.trustProxy !== undefined ? parseTrustProxy(flags.trustProxy) : undefined;
      const format = flags.logFormat ?? (process.stdout.isTTY ? 'text' : 'json');
      if (format !== 'text' && format !== 'json')
        throw new LabvirtError('OPTION_INVALID', {
          option: '--log-format',
          reason: tr.t('use text or json'),
        });
      if (!logLevels.includes(flags.logLevel))
        throw new LabvirtError('OPTION_INVALID', {
          option: '--log-level',
          reason: tr.t('use fatal, error, warn, info, debug or trace'),
        });
      const tls =
        flags.tlsCert !== undefined && flags.tlsKey !== undefined
          ? {
              cert: await readFile(flags.tlsCert).catch((error: unknown) => {
                throw fileError(flags.tlsCert ?? '', tr.t('TLS certificate'), error);
              }),
              key: await readFile(flags.tlsKey).catch((error: unknown) => {
                throw fileError(flags.tlsKey ?? '', tr.t('TLS key'), error);
              }),
            }
          : undefined;

      if (flags.demo === true && flags.localHost === false)
        throw new LabvirtError('OPTION_INVALID', {
          option: '--no-local-host',
          reason: tr.t('the demo runs its VMs on this machine'),
        });
      // Before the server starts: a guest that cannot be built has written nothing.
      const demo = flags.demo === true ? await startDemo(ctx, flags) : undefined;
      // Loaded here: the other commands start faster without the server's modules.
      const { databaseUrlFromEnv } = await import('../../db/connect.js');
      const { startServer } = await import('../../controller/server.js');
      const server = await startServer({
        dataDir: resolve(flags.data),
        host: listen.host,
        port: listen.port,
        databaseUrl: databaseUrlFromEnv(ctx.env as NodeJS.ProcessEnv),
        tls,
        trustProxy,
        secureCookies: flags.secureCookies === true,
        importDirs: flags.importDir,
        isoDir: flags.isoDir,
        overlayDir: flags.overlayDir,
        gateway,
        network,
        noLocalHost: flags.localHost === false,
        terminalRateLimit: gateway.rate,
        logger: {
          level: flags.logLevel,
          ...(format === 'text' ? { stream: textLogStream((text) => io.out(text)) } : {}),
        },
        tr,
        hint: { program: programName(process.argv[1], process.cwd()), dataDir: flags.data },
        ...(demo?.options ?? {}),
      });
      demo?.announce(server.url);

      await untilStopSignal();
      await server.close();
    });
}

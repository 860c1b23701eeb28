// The DHCP server the agent may run on its bridge: dnsmasq serving only the MAC-to-address
// entries the controller gives (static mode: an unknown MAC gets nothing), no DNS. Like
// QEMU it outlives the agent (guests renew their leases meanwhile): a restarted agent
// adopts it by its pidfile, checked against /proc/PID/cmdline.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { LabvirtError } from '../domain/errors.js';
import { parseMac } from '../qemu/cmdline/validate.js';
import { spawnDetached, terminatePid } from '../system/detached-process.js';
import { procProcessTable, sameArgv, type ProcessTable } from '../system/process-table.js';
import type { DhcpHost } from './host-agent.js';
import { bridgeExists, bridgeIpv4 } from './vm-network.js';

export const DNSMASQ_BINARY = '/usr/sbin/dnsmasq';

export interface DnsmasqPaths {
  readonly dir: string;
  readonly pidfile: string;
  readonly hostsFile: string;
  readonly leaseFile: string;
  readonly log: string;
}

export function dnsmasqPaths(dir: string): DnsmasqPaths {
  return {
    dir,
    pidfile: join(dir, 'dnsmasq.pid'),
    hostsFile: join(dir, 'dhcp-hosts'),
    leaseFile: join(dir, 'dnsmasq.leases'),
    log: join(dir, 'dnsmasq.log'),
  };
}

/** The network address of an IPv4 address under a netmask (10.77.0.1, /24 → 10.77.0.0). */
export function networkAddress(address: string, netmask: string): string {
  const a = address.split('.').map(Number);
  const m = netmask.split('.').map(Number);
  return a.map((octet, i) => octet & (m[i] ?? 0)).join('.');
}

export interface DnsmasqConfig {
  readonly bridge: string;
  /** The bridge's IPv4 address and netmask: dnsmasq serves that subnet. */
  readonly subnet: { readonly address: string; readonly netmask: string };
  readonly paths: DnsmasqPaths;
  /** dnsmasq drops to this user: one that can read the agent's private run directory. */
  readonly user: string;
}

export function dnsmasqArgv(config: DnsmasqConfig, binary = DNSMASQ_BINARY): string[] {
  const { bridge, subnet, paths } = config;
  return [
    binary,
    // Spawned detached by the agent, logging to a file: no daemon fork, no syslog.
    '--keep-in-foreground',
    '--log-facility=-',
    '--log-dhcp',
    `--pid-file=${paths.pidfile}`,
    // Nothing from /etc/dnsmasq.conf, no DNS (port 0): only DHCP on this bridge.
    '--conf-file=/dev/null',
    '--port=0',
    '--bind-interfaces',
    `--interface=${bridge}`,
    '--except-interface=lo',
    `--user=${config.user}`,
    // Static: only the hosts file's MACs get an address, and any other MAC no answer at
    // all: never authoritative (no NAK) for other machines of a lab LAN the bridge may be
    // uplinked to, which have their own DHCP server.
    `--dhcp-range=${networkAddress(subnet.address, subnet.netmask)},static,${subnet.netmask},1h`,
    '--dhcp-ignore=tag:!known',
    `--dhcp-hostsfile=${paths.hostsFile}`,
    `--dhcp-leasefile=${paths.leaseFile}`,
  ];
}

/** dnsmasq's host name rule, roughly: a DNS label; anything else is left out. */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** The --dhcp-hostsfile text: `MAC,IP[,NAME]` a line, MACs and addresses checked. */
export function hostsFileText(hosts: readonly DhcpHost[]): string {
  return hosts
    .map((host) => {
      const mac = parseMac(host.mac);
      if (!isIPv4(host.ip)) throw new LabvirtError('IP_INVALID', { ip: host.ip });
      return HOST_NAME.test(host.name) ? `${mac},${host.ip},${host.name}\n` : `${mac},${host.ip}\n`;
    })
    .join('');
}

export interface DnsmasqManagerOptions {
  readonly bridge: string;
  /** Its own directory (pidfile, hosts file, leases, log), in the agent's run directory. */
  readonly dir: string;
  readonly binary?: string | undefined;
  readonly processes?: ProcessTable | undefined;
  /** How long a start may take before it counts as failed. */
  readonly startTimeoutMs?: number | undefined;
}

export class DnsmasqManager {
  readonly paths: DnsmasqPaths;
  #bridge: string;
  #binary: string;
  #processes: ProcessTable;
  #startTimeoutMs: number;
  #pid: number | undefined;

  constructor(options: DnsmasqManagerOptions) {
    this.paths = dnsmasqPaths(options.dir);
    this.#bridge = options.bridge;
    this.#binary = options.binary ?? DNSMASQ_BINARY;
    this.#processes = options.processes ?? procProcessTable;
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000;
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  /** Starts dnsmasq, or adopts the one a previous agent started with the same argv. */
  async start(): Promise<{ adopted: boolean }> {
    if (!(await bridgeExists(this.#bridge))) {
      throw new LabvirtError('BRIDGE_NOT_FOUND', { bridge: this.#bridge });
    }
    const subnet = bridgeIpv4(this.#bridge);
    if (subnet === undefined) throw new LabvirtError('BRIDGE_NO_ADDRESS', { bridge: this.#bridge });
    const argv = dnsmasqArgv(
      { bridge: this.#bridge, subnet, paths: this.paths, user: userInfo().username },
      this.#binary,
    );
    await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    const running = await this.#running();
    if (running !== undefined && sameArgv(running.argv, argv)) {
      this.#pid = running.pid;
      return { adopted: true };
    }
    // Another configuration's (the bridge's address changed): replaced.
    if (running !== undefined) await this.#terminate(running.pid);
    // The hosts it served stay until the controller says otherwise.
    await writeFile(this.paths.hostsFile, '', { flag: 'a', mode: 0o600 });
    this.#pid = await this.#spawn(argv);
    return { adopted: false };
  }

  /** Replaces the host entries (written whole, then renamed) and has dnsmasq re-read them. */
  async setHosts(hosts: readonly DhcpHost[]): Promise<void> {
    const text = hostsFileText(hosts);
    const temporary = `${this.paths.hostsFile}.tmp`;
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, this.paths.hostsFile);
    if (this.#pid === undefined) return; // not started (or stopped): read when it starts
    // Checked again first: the pid may be another process's by now (SIGHUP ends most).
    const running = await this.#running();
    if (running === undefined) {
      this.#pid = undefined;
      await this.start(); // gone (killed, say): a new one reads the new file
      return;
    }
    this.#pid = running.pid;
    // dnsmasq re-reads --dhcp-hostsfile on SIGHUP.
    this.#processes.signal(running.pid, 'SIGHUP');
  }

  async stop(): Promise<void> {
    const running = await this.#running();
    if (running !== undefined) await this.#terminate(running.pid);
    this.#pid = undefined;
    await rm(this.paths.pidfile, { force: true });
  }

  /** The dnsmasq of this directory's pidfile, if it still runs (and is one, not a reused pid). */
  async #running(): Promise<{ pid: number; argv: string[] } | undefined> {
    const text = await readFile(this.paths.pidfile, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (!(pid > 1)) return undefined;
    const argv = await this.#processes.liveCmdline(pid);
    const mine = argv?.includes(`--pid-file=${this.paths.pidfile}`) === true;
    return argv !== undefined && mine ? { pid, argv } : undefined;
  }

  #terminate(pid: number): Promise<void> {
    return terminatePid(this.#processes, pid);
  }

  /**
   * Detached, in a session of its own, with its output in its log file: it never holds
   * the agent's (or a test runner's) pipes open. Up once it has written its pidfile.
   */
  async #spawn(argv: readonly string[]): Promise<number> {
    let failure: string | undefined;
    const child = await spawnDetached(argv, this.paths.log, {
      env: { ...process.env, LC_ALL: 'C' },
      watch: (spawned) => {
        spawned.once('error', (error: NodeJS.ErrnoException) => {
          failure =
            error.code === 'ENOENT'
              ? `${this.#binary} is not installed: install the Debian package dnsmasq-base`
              : error.message;
        });
        spawned.once('exit', (code, signal) => (failure ??= `it exited (${code ?? signal})`));
      },
    });
    const deadline = Date.now() + this.#startTimeoutMs;
    while (failure === undefined && Date.now() < deadline) {
      const pid = Number.parseInt(await readFile(this.paths.pidfile, 'utf8').catch(() => ''), 10);
      if (pid === child.pid) return pid;
      await sleep(50);
    }
    if (child.pid !== undefined && failure === undefined) {
      this.#processes.signal(child.pid, 'SIGKILL');
    }
    throw new LabvirtError('DHCP_SERVER_FAILED', {
      bridge: this.#bridge,
      detail: [failure ?? 'no pidfile in time', await this.#lastLogLine()]
        .filter((part) => part !== '')
        .join(': '),
    });
  }

  async #lastLogLine(): Promise<string> {
    const text = await readFile(this.paths.log, 'utf8').catch(() => '');
    const lines = text.trim().split('\n');
    return lines.at(-1)?.replace(/^dnsmasq(-dhcp)?(\[\d+\])?: /, '') ?? '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// `labvirt agent`: a host's agent, serving the agent API to the controllers (issue 8).
// Joins a controller once (--join URL --token T --name NAME, from `labvirt host add`), then
// runs from DATA/agent.json. Runs until SIGINT/SIGTERM; VMs keep running after it, and the
// next start with the same --data re-adopts them.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { parseListen } from '../../controller/listen-address.js';
import { parseAccel } from '../../qemu/cmdline/validate.js';
import { checkAgentName, joinTarget, parseJoinToken } from '../../agent/agent-identity.js';
import type { CliContext } from '../context.js';
import { addHostFlags } from '../host-flags.js';
import { untilStopSignal } from '../until-signal.js';
import { textLogStream } from '../log-format.js';
import { parseGatewayFlags, parseNetworkFlags } from './server.js';

interface AgentFlags {
  data: string;
  join?: string;
  token?: string;
  name?: string;
  listen: string;
  advertise?: string;
  metricsListen: string;
  images?: string;
  sharedImages?: boolean;
  iso?: string;
  gatewayBind?: string;
  gatewayAddress?: string;
  gatewayPorts?: string;
  vmNetwork?: string;
  bridge?: string;
  taps?: string;
  dhcp?: boolean;
  accel: string;
  cpus?: string;
  memoryMib?: string;
  logFormat?: string;
  logLevel: string;
}

export const DEFAULT_AGENT_LISTEN = '127.0.0.1:8445';
export const DEFAULT_AGENT_METRICS_LISTEN = '127.0.0.1:9475';
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

const bad = (option: string, reason: string) =>
  new LabvirtError('OPTION_INVALID', { option, reason });

function count(value: string | undefined, option: string, min: number, reason: string) {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min) throw bad(option, reason);
  return Number(value);
}

/** Every flag checked before anything starts: a mistake is one line and exit code 2. */
export async function parseAgentFlags(flags: AgentFlags, tr: CliContext['tr']) {
  const listen = parseListen(flags.listen);
  const metricsListen =
    flags.metricsListen === 'off' ? undefined : parseListen(flags.metricsListen);
  if ((flags.join === undefined) !== (flags.token === undefined))
    throw bad(
      flags.join === undefined ? '--token' : '--join',
      tr.t('give both --join and --token'),
    );
  let join;
  if (flags.join !== undefined && flags.token !== undefined) {
    if (flags.name === undefined)
      throw bad('--name', tr.t('name the host as the controller enrolled it (labvirt host add)'));
    const token = parseJoinToken(flags.token);
    const target = joinTarget(flags.join, token);
    join = {
      url: target.url,
      pin: target.pin,
      token: flags.token.trim(),
      name: checkAgentName(flags.name),
    };
  } else if (flags.name !== undefined) {
    throw bad('--name', tr.t('only with --join (the name is in agent.json afterwards)'));
  }
  if (flags.advertise !== undefined) {
    const url = URL.canParse(flags.advertise) ? new URL(flags.advertise) : undefined;
    if (url?.protocol !== 'https:' || url.pathname !== '/' || url.search !== '')
      throw bad(
        '--advertise',
        tr.t(
          'give the https:// URL controllers reach this agent at, like https://host1.example:8445',
        ),
      );
  }
  if (flags.sharedImages === true && flags.images === undefined)
    throw bad('--shared-images', tr.t('name the shared image store with --images PATH'));
  const format = flags.logFormat ?? (process.stdout.isTTY ? 'text' : 'json');
  if (format !== 'text' && format !== 'json') throw bad('--log-format', tr.t('use text or json'));
  if (!logLevels.includes(flags.logLevel))
    throw bad('--log-level', tr.t('use fatal, error, warn, info, debug or trace'));
  return {
    listen,
    metricsListen,
    join,
    advertise: flags.advertise?.replace(/\/$/, ''),
    accel: parseAccel(flags.accel),
    cpus: count(flags.cpus, '--cpus', 1, tr.t('give a whole number of CPUs, 1 or more')),
    memoryMiB: count(
      flags.memoryMib,
      '--memory-mib',
      64,
      tr.t('give a whole number of MiB, 64 or more'),
    ),
    gateway: parseGatewayFlags(flags, tr),
    network: await parseNetworkFlags(flags, tr),
    format,
  };
}

export function agentCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const command = new Command('agent')
    .description(tr.t('run this host’s agent for a LabVirt controller'))
    .requiredOption(
      '--data <DIR>',
      tr.t('the agent’s directory: agent.json, its certificate, run/, images/'),
    )
    .option('--join <URL>', tr.t('join the controller at this URL (with --token and --name)'))
    .option('--token <TOKEN>', tr.t('the one-time join token labvirt host add printed'))
    .option('--name <NAME>', tr.t('the host’s name, as enrolled'))
    .option(
      '--listen <HOST:PORT>',
      tr.t('where the agent API listens (port 0: any free port)'),
      DEFAULT_AGENT_LISTEN,
    )
    .option(
      '--advertise <URL>',
      tr.t('the https:// URL controllers reach the agent at (default: the listening address)'),
    )
    .option(
      '--metrics-listen <HOST:PORT>',
      tr.t('where GET /metrics is served over plain HTTP, or off'),
      DEFAULT_AGENT_METRICS_LISTEN,
    )
    .option('--images <PATH>', tr.t('the image store (default DATA/images)'))
    .option(
      '--shared-images',
      tr.t('--images is the controller’s own store on shared storage: nothing is copied'),
    )
    .option('--iso <DIR>', tr.t('the ISO library of profiles’ CD-ROMs (default DATA/iso)'));
  addHostFlags(
    command,
    tr,
    tr.t('the name or address terminals reach this host at (default: where controllers reach it)'),
  );
  return command
    .option('--accel <ACCEL>', tr.t('accelerator: kvm|tcg|auto'), 'auto')
    .option('--cpus <N>', tr.t('the CPUs LabVirt may use on this host (default: all)'))
    .option(
      '--memory-mib <M>',
      tr.t('the memory LabVirt may use on this host, in MiB (default: all)'),
    )
    .option('--log-format <FORMAT>', tr.t('text or json (default: text on a terminal, else json)'))
    .option('--log-level <LEVEL>', tr.t('fatal, error, warn, info, debug or trace'), 'info')
    .action(async (flags: AgentFlags) => {
      const parsed = await parseAgentFlags(flags, tr);
      // Loaded here: the other commands start faster without the agent's modules.
      const { startAgentServer } = await import('../../agent/agent-server.js');
      const server = await startAgentServer({
        dataDir: resolve(flags.data),
        listen: parsed.listen,
        advertise: parsed.advertise,
        metricsListen: parsed.metricsListen,
        join: parsed.join,
        imagesPath: flags.images === undefined ? undefined : resolve(flags.images),
        sharedImages: flags.sharedImages === true,
        isoDir: flags.iso === undefined ? undefined : resolve(flags.iso),
        gateway: parsed.gateway,
        network: parsed.network,
        accel: parsed.accel,
        cpus: parsed.cpus,
        memoryMiB: parsed.memoryMiB,
        logger: {
          level: flags.logLevel,
          ...(parsed.format === 'text' ? { stream: textLogStream((text) => io.out(text)) } : {}),
        },
        tr,
      });
      // A fixed English line on stdout: scripts and tests read the URL from it.
      io.out(`LabVirt agent listening on ${server.url}\n`);

      await untilStopSignal();
      await server.close();
    });
}

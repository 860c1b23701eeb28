// `labvirt host list|add|remove|drain|undrain|set`, over the API; `labvirt host
// network-setup`, on this host.
import { Command, Option } from 'commander';
import {
  applyNetworkSetup,
  interfaceKind,
  nodeSetupHost,
  type SetupHost,
} from '../../agent/network-setup-apply.js';
import { renderScript } from '../../agent/network-setup-script.js';
import {
  planNetworkSetup,
  setupPaths,
  type SetupPlan,
  type SetupStep,
} from '../../agent/network-setup.js';
import { LabvirtError, type Phrase } from '../../domain/errors.js';
import type { Translator } from '../../i18n/translator.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { formatFields, formatTable, sanitize } from '../table.js';

export interface HostView {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly local: boolean;
  readonly state: string;
  readonly stateReason: string | null;
  readonly cpus: number | null;
  readonly memoryMiB: number | null;
  readonly monitoringUrl: string | null;
  readonly lastSeenAt: string | null;
  readonly maintenance: boolean;
  readonly cpuRatio: number;
  readonly sharedStore: boolean;
  readonly pending: boolean;
  readonly joinExpiresAt: string | null;
}

interface HostAdded {
  readonly host: HostView;
  readonly joinToken: string;
  readonly joinCommand: string;
  readonly expiresAt: string;
}

export function hostTable(ctx: CliContext, hosts: readonly HostView[]): string {
  const { tr } = ctx;
  return formatTable(
    [
      tr.t('NAME'),
      tr.t('ADDRESS'),
      tr.t('STATE'),
      tr.t('CPUS'),
      tr.t('MEMORY MIB'),
      tr.t('VCPU RATIO'),
      tr.t('MAINTENANCE'),
      tr.t('LAST SEEN'),
      tr.t('REASON'),
    ],
    hosts.map((h) => [
      h.name,
      h.address,
      h.state,
      h.cpus,
      h.memoryMiB,
      h.cpuRatio,
      h.maintenance ? tr.t('drained') : tr.t('no'),
      h.lastSeenAt,
      h.stateReason,
    ]),
  );
}

export function hostFields(ctx: CliContext, h: HostView): string {
  const { tr } = ctx;
  const yesNo = (value: boolean) => (value ? tr.t('yes') : tr.t('no'));
  return formatFields([
    [tr.t('Name'), h.name],
    [tr.t('Id'), h.id],
    [tr.t('Address'), h.address],
    [tr.t('State'), h.state],
    [tr.t('Reason'), h.stateReason],
    [tr.t('CPUs'), h.cpus],
    [tr.t('Memory MiB'), h.memoryMiB],
    [tr.t('vCPU ratio'), h.cpuRatio],
    [tr.t('Drained'), yesNo(h.maintenance)],
    [tr.t('Shared image store'), yesNo(h.sharedStore)],
    [tr.t('Monitoring'), h.monitoringUrl],
    [tr.t('Last seen'), h.lastSeenAt],
  ]);
}

/** A number when it is one; else as typed, for the server to say what is wrong. */
const numeric = (value: string): number | string =>
  /^\d{1,6}(\.\d{1,6})?$/.test(value) ? Number(value) : value;

interface SetFlags extends ApiFlags {
  readonly cpuRatio?: string;
  /** A URL, or false for --no-monitoring-url. */
  readonly monitoringUrl?: string | false;
  readonly sharedStore?: boolean;
}

function addCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  return apiCommand('add', tr.t('add a host: prints the command that enrols its agent'), ctx)
    .argument('<NAME>', tr.t('the host’s name: 1-63 letters, digits, "." or "-"'))
    .option('--cpu-ratio <R>', tr.t('vCPUs of VMs per CPU of the host (default 4)'))
    .option('--shared-store', tr.t('its image store is the controller’s (nothing is copied)'))
    .action(
      async (name: string, flags: ApiFlags & { cpuRatio?: string; sharedStore?: boolean }) => {
        const added = await (
          await clientFor(flags, ctx)
        ).request<HostAdded>('POST', '/hosts', {
          name,
          ...(flags.cpuRatio !== undefined ? { cpuRatio: numeric(flags.cpuRatio) } : {}),
          ...(flags.sharedStore === true ? { sharedStore: true } : {}),
        });
        if (flags.json) return printJson(ctx, added);
        io.out(
          `${tr.t('Host {name} added. Run this on it before {expiresAt} (the token works once):', {
            name: sanitize(added.host.name),
            expiresAt: added.expiresAt,
          })}\n\n  ${sanitize(added.joinCommand)}\n\n`,
        );
      },
    );
}

/** drain / undrain: the host's maintenance flag. */
function drainCommand(ctx: CliContext, drain: boolean): Command {
  const { tr, io } = ctx;
  const description = drain
    ? tr.t('drain a host: no new VMs are placed on it; running ones finish')
    : tr.t('end a host’s drain: new VMs may be placed on it again');
  return apiCommand(drain ? 'drain' : 'undrain', description, ctx)
    .argument('<HOST>', tr.t('the host’s name or id'))
    .action(async (ref: string, flags: ApiFlags) => {
      const changed = await (
        await clientFor(flags, ctx)
      ).request<HostView>('PATCH', `/hosts/${segment(ref)}`, { maintenance: drain });
      if (flags.json) return printJson(ctx, changed);
      const name = sanitize(changed.name);
      io.out(
        `${
          drain
            ? tr.t('Host {name} drained: no new VMs go there; running ones finish.', { name })
            : tr.t('Host {name} takes new VMs again.', { name })
        }\n`,
      );
    });
}

function setCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  return apiCommand('set', tr.t('change a host’s vCPU ratio, monitoring link or shared store'), ctx)
    .argument('<HOST>', tr.t('the host’s name or id'))
    .option('--cpu-ratio <R>', tr.t('vCPUs of VMs per CPU of the host (0.1-64)'))
    .option('--monitoring-url <URL>', tr.t('a link to its page in Munin, Grafana… (http or https)'))
    .option('--no-monitoring-url', tr.t('remove the monitoring link'))
    .option('--shared-store', tr.t('its image store is the controller’s (nothing is copied)'))
    .option('--no-shared-store', tr.t('it has an image store of its own'))
    .action(async (ref: string, flags: SetFlags) => {
      const body = {
        ...(flags.cpuRatio !== undefined ? { cpuRatio: numeric(flags.cpuRatio) } : {}),
        ...(flags.monitoringUrl !== undefined
          ? { monitoringUrl: flags.monitoringUrl === false ? null : flags.monitoringUrl }
          : {}),
        ...(flags.sharedStore !== undefined ? { sharedStore: flags.sharedStore } : {}),
      };
      if (Object.keys(body).length === 0)
        throw new LabvirtError('USAGE_INVALID', {
          detail: tr.t(
            'give --cpu-ratio, --monitoring-url, --no-monitoring-url or --[no-]shared-store',
          ),
        });
      const changed = await (
        await clientFor(flags, ctx)
      ).request<HostView>('PATCH', `/hosts/${segment(ref)}`, body);
      if (flags.json) return printJson(ctx, changed);
      io.out(hostFields(ctx, changed));
    });
}

export function hostCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const host = new Command('host').description(tr.t('the hosts that run VMs'));
  host.addCommand(
    apiCommand('list', tr.t('list the hosts'), ctx).action(async (flags: ApiFlags) => {
      const hosts = await (await clientFor(flags, ctx)).request<HostView[]>('GET', '/hosts');
      if (flags.json) return printJson(ctx, hosts);
      io.out(hosts.length === 0 ? `${tr.t('There are no hosts.')}\n` : hostTable(ctx, hosts));
    }),
  );
  host.addCommand(
    apiCommand('show', tr.t('show a host'), ctx)
      .argument('<HOST>', tr.t('the host’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        const shown = await (
          await clientFor(flags, ctx)
        ).request<HostView>('GET', `/hosts/${segment(ref)}`);
        if (flags.json) return printJson(ctx, shown);
        io.out(hostFields(ctx, shown));
      }),
  );
  host.addCommand(addCommand(ctx));
  host.addCommand(
    apiCommand('remove', tr.t('remove a host (none of its VMs may run); its agent is refused'), ctx)
      .argument('<HOST>', tr.t('the host’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        await (await clientFor(flags, ctx)).request('DELETE', `/hosts/${segment(ref)}`);
        if (flags.json) return printJson(ctx, { removed: ref });
        io.out(`${tr.t('Host {name} removed.', { name: sanitize(ref) })}\n`);
      }),
  );
  host.addCommand(drainCommand(ctx, true));
  host.addCommand(drainCommand(ctx, false));
  host.addCommand(setCommand(ctx));
  host.addCommand(networkSetupCommand(ctx));
  return host;
}

interface NetworkSetupFlags {
  readonly bridge: string;
  readonly uplink?: string;
  readonly address?: string;
  readonly taps: 'helper' | 'precreated';
  readonly agentUser?: string;
  readonly conntrack: boolean;
  readonly apply?: boolean;
  readonly json?: boolean;
}

/** A plan's Phrase in the reader's language. */
function sayWith(tr: Translator): (p: Phrase) => string {
  const say = (p: Phrase): string =>
    tr.t(
      p.msgid,
      Object.fromEntries(
        Object.entries(p.params ?? {}).map(([key, value]) => [
          key,
          typeof value === 'object' ? say(value) : value,
        ]),
      ),
    );
  return say;
}

function stepJson(step: SetupStep, say: (p: Phrase) => string): Record<string, unknown> {
  const { why, ...rest } = step;
  const mode = 'mode' in rest ? { mode: rest.mode.toString(8).padStart(4, '0') } : {};
  return { ...rest, ...mode, why: say(why) };
}

/** What the plan needs of this host before anything changes: the uplink, a free bridge name. */
async function checkHost(plan: SetupPlan, host: SetupHost): Promise<void> {
  if (plan.uplink !== undefined && !(await host.interfaceExists(plan.uplink))) {
    throw new LabvirtError('NETWORK_UPLINK_NOT_FOUND', { name: plan.uplink }, { field: 'uplink' });
  }
  const kind = await interfaceKind(host, plan.bridge);
  if (kind !== undefined && kind !== 'bridge') {
    throw new LabvirtError('NETWORK_NOT_A_BRIDGE', { name: plan.bridge }, { field: 'bridge' });
  }
}

function networkSetupCommand(ctx: CliContext): Command {
  const { tr, io, env } = ctx;
  return new Command('network-setup')
    .description(
      tr.t('print, or with --apply apply, what this host needs for bridged VMs (iproute2)'),
    )
    .option('--bridge <NAME>', tr.t('the bridge the VMs join'), 'labvirt0')
    .option(
      '--uplink <IFACE>',
      tr.t('a network interface to add to the bridge (the host’s address must move to the bridge)'),
    )
    .option('--address <CIDR>', tr.t('the host’s address on the bridge, e.g. 10.77.0.1/24'))
    .addOption(
      new Option(
        '--taps <HOW>',
        tr.t('how VMs get TAP devices: helper (qemu-bridge-helper) or precreated'),
      )
        .choices(['helper', 'precreated'])
        .default('helper'),
    )
    .option(
      '--agent-user <USER>',
      tr.t('the non-root user the agent runs as (sudo rights for pre-created taps)'),
    )
    .option(
      '--no-conntrack',
      tr.t('leave out the kernel settings for seeing RDP connections to bridged guests'),
    )
    .option('--apply', tr.t('carry out the steps (as root), skipping those already done'))
    .option('--json', tr.t('print the plan (and with --apply what was done) as JSON'))
    .action(async (flags: NetworkSetupFlags) => {
      const say = sayWith(tr);
      // A hidden root for the plan's files, so tests keep away from the real /etc.
      const paths = setupPaths(env.LABVIRT_NETWORK_SETUP_ROOT ?? '');
      const plan = planNetworkSetup(flags, paths);
      const host = nodeSetupHost();
      await checkHost(plan, host);
      const planJson = {
        bridge: plan.bridge,
        ...(plan.uplink !== undefined ? { uplink: plan.uplink } : {}),
        steps: plan.steps.map((step) => stepJson(step, say)),
        warnings: plan.warnings.map(say),
        notes: plan.notes.map(say),
      };
      if (flags.apply !== true) {
        if (flags.json === true) return printJson(ctx, planJson);
        const header = [
          tr.t('What bridge {bridge} needs on this host (labvirt host network-setup).', {
            bridge: plan.bridge,
          }),
          tr.t('Printed, not run: labvirt host network-setup --apply carries it out as root.'),
        ];
        io.out(renderScript(plan, say, header));
        return;
      }
      if (process.geteuid?.() !== 0) throw new LabvirtError('NETWORK_SETUP_NEEDS_ROOT');
      for (const warning of plan.warnings) io.warn(say(warning));
      const total = plan.steps.length;
      const outcomes: string[] = [];
      await applyNetworkSetup(plan, host, ({ index, step, outcome, note }) => {
        outcomes.push(outcome);
        if (flags.json === true) return;
        const what = step.kind === 'command' ? step.argv.join(' ') : step.path;
        const params = { n: index + 1, total, what, why: say(step.why) };
        io.out(
          `${
            outcome === 'done'
              ? tr.t('[{n}/{total}] done: {what} ({why})', params)
              : tr.t('[{n}/{total}] skipped, already done: {what} ({why})', params)
          }\n`,
        );
        if (note !== undefined) io.warn(say(note));
      });
      if (flags.json === true) {
        return printJson(ctx, {
          ...planJson,
          steps: planJson.steps.map((step, index) => ({ ...step, outcome: outcomes[index] })),
        });
      }
      for (const note of plan.notes) io.out(`# ${say(note)}\n`);
    });
}

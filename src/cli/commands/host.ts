// `labvirt host list`, over the API; `labvirt host network-setup`, on this host.
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
import { apiCommand, clientFor, printJson, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

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
      tr.t('LAST SEEN'),
      tr.t('REASON'),
    ],
    hosts.map((h) => [
      h.name,
      h.address,
      h.state,
      h.cpus,
      h.memoryMiB,
      h.lastSeenAt,
      h.stateReason,
    ]),
  );
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

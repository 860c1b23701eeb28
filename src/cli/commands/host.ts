// `labvirt host list`, over the API.
import { Command } from 'commander';
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
  return host;
}

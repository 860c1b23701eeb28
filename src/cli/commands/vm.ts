// `labvirt vm start|list|show|stop|serial`, over the API: VMs of profiles.
import { Command } from 'commander';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import { LONG_REQUEST } from '../api-client.js';
import type { CliContext } from '../context.js';
import { sanitize, formatFields, formatTable } from '../table.js';
import type { VmView } from '../../controller/services/vms.js';

/** The API's VM shape; a type-only import, erased at runtime, so no server code loads. */
export type { VmView } from '../../controller/services/vms.js';

export function vmTable(ctx: CliContext, vms: readonly VmView[]): string {
  const { tr } = ctx;
  return formatTable(
    [
      tr.t('NAME'),
      tr.t('KIND'),
      tr.t('PROFILE'),
      tr.t('STATE'),
      tr.t('HOST'),
      tr.t('MAC'),
      tr.t('TERMINAL'),
      tr.t('CONNECTED'),
      tr.t('STARTED'),
    ],
    vms.map((vm) => [
      vm.name,
      vm.kind,
      vm.profile,
      vm.state,
      vm.host,
      vm.mac,
      vm.terminal,
      connectedText(vm),
      vm.createdAt,
    ]),
  );
}

/** The peers connected now ('-' when none). */
function connectedText(vm: VmView): string {
  return vm.connections.length === 0 ? '-' : vm.connections.map((c) => c.peer).join(', ');
}

export function vmFields(ctx: CliContext, vm: VmView): string {
  const { tr } = ctx;
  return formatFields([
    [tr.t('Name'), vm.name],
    [tr.t('Id'), vm.id],
    [tr.t('Kind'), vm.kind],
    [tr.t('Profile'), vm.profile],
    [tr.t('Version'), vm.versionId],
    [tr.t('Host'), vm.host],
    [tr.t('State'), vm.state],
    [tr.t('QEMU state'), vm.runStatus],
    [tr.t('PID'), vm.pid],
    [tr.t('MAC'), vm.mac],
    [tr.t('Terminal'), vm.terminal],
    [tr.t('Connected'), connectedText(vm)],
    [tr.t('Created'), vm.createdAt],
    [tr.t('Updated'), vm.updatedAt],
  ]);
}

interface ListFlags extends ApiFlags {
  readonly profile?: string;
  readonly state?: string;
  readonly all?: boolean;
}

export function vmCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const vm = new Command('vm').description(tr.t('start, list, show and stop VMs of profiles'));
  const show = (flags: ApiFlags, view: VmView) =>
    flags.json ? printJson(ctx, view) : io.out(vmFields(ctx, view));

  vm.addCommand(
    apiCommand('start', tr.t('start a client VM of a profile’s published version'), ctx)
      .requiredOption('--profile <PROFILE>', tr.t('the profile (name or id)'))
      .action(async (flags: ApiFlags & { profile: string }) => {
        const client = await clientFor(flags, ctx);
        show(
          flags,
          await client.request<VmView>('POST', '/vms', { profile: flags.profile }, LONG_REQUEST),
        );
      }),
  );

  vm.addCommand(
    apiCommand('list', tr.t('list the running VMs (--all: ended ones too)'), ctx)
      .option('--profile <PROFILE>', tr.t('only the VMs of this profile'))
      .option('--state <STATE>', tr.t('only VMs in this state (active, ended, running...)'))
      .option('--all', tr.t('ended VMs too'))
      .action(async (flags: ListFlags) => {
        const query = new URLSearchParams();
        if (flags.profile !== undefined) query.set('profile', flags.profile);
        const state = flags.state ?? (flags.all ? undefined : 'active');
        if (state !== undefined) query.set('state', state);
        const text = query.toString();
        const vms = await (
          await clientFor(flags, ctx)
        ).request<VmView[]>('GET', `/vms${text === '' ? '' : `?${text}`}`);
        if (flags.json) return printJson(ctx, vms);
        io.out(vms.length === 0 ? `${tr.t('There are no VMs.')}\n` : vmTable(ctx, vms));
      }),
  );

  vm.addCommand(
    apiCommand('show', tr.t('show a VM'), ctx)
      .argument('<VM>', tr.t('the VM (name or id)'))
      .action(async (ref: string, flags: ApiFlags) => {
        show(
          flags,
          await (await clientFor(flags, ctx)).request<VmView>('GET', `/vms/${segment(ref)}`),
        );
      }),
  );

  vm.addCommand(
    apiCommand('stop', tr.t('stop a VM: the power button, then quit, then kill'), ctx)
      .argument('<VM>', tr.t('the VM (name or id)'))
      .option('--force', tr.t('do not wait for the guest to power down'))
      .action(async (ref: string, flags: ApiFlags & { force?: boolean }) => {
        const client = await clientFor(flags, ctx);
        show(
          flags,
          await client.request<VmView>(
            'POST',
            `/vms/${segment(ref)}/stop`,
            { force: flags.force === true },
            LONG_REQUEST,
          ),
        );
      }),
  );

  vm.addCommand(
    apiCommand('serial', tr.t('print what a VM wrote to its serial console'), ctx)
      .argument('<VM>', tr.t('the VM (name or id)'))
      .action(async (ref: string, flags: ApiFlags) => {
        const text = await (await clientFor(flags, ctx)).requestText(`/vms/${segment(ref)}/serial`);
        if (flags.json) return printJson(ctx, { serial: text });
        // The guest's bytes: no escape sequence reaches the terminal, line breaks stay.
        io.out(
          text
            .split('\n')
            .map((line) => sanitize(line.replace(/\r$/, '')))
            .join('\n'),
        );
      }),
  );
  return vm;
}

// `labvirt lab list|create|show|delete`, over the API.
import { Command } from 'commander';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { formatFields, formatTable } from '../table.js';
import type { LabView } from '../../controller/services/labs.js';

/** The API's lab shape; a type-only import, erased at runtime, so no server code loads. */
export type { LabView } from '../../controller/services/labs.js';

export function labTable(ctx: CliContext, labs: readonly LabView[]): string {
  const { tr } = ctx;
  return formatTable(
    [
      tr.t('NAME'),
      tr.t('TERMINALS'),
      tr.t('DEFAULT PROFILE'),
      tr.t('TIMEZONE'),
      tr.t('DESCRIPTION'),
    ],
    labs.map((lab) => [lab.name, lab.terminals, lab.defaultProfile, lab.timezone, lab.description]),
  );
}

export function labFields(ctx: CliContext, lab: LabView): string {
  const { tr } = ctx;
  return formatFields([
    [tr.t('Name'), lab.name],
    [tr.t('Id'), lab.id],
    [tr.t('Description'), lab.description],
    [tr.t('Time zone'), lab.timezone],
    [tr.t('Default profile'), lab.defaultProfile],
    [tr.t('Profiles'), lab.profiles],
    [tr.t('Idle minutes'), lab.idleMinutes],
    [tr.t('Terminals'), lab.terminals],
    [tr.t('Created'), lab.createdAt],
    [tr.t('Updated'), lab.updatedAt],
  ]);
}

export function labCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const lab = new Command('lab').description(tr.t('list, create, show and delete labs'));

  lab.addCommand(
    apiCommand('list', tr.t('list the labs'), ctx).action(async (flags: ApiFlags) => {
      const labs = await (await clientFor(flags, ctx)).request<LabView[]>('GET', '/labs');
      if (flags.json) return printJson(ctx, labs);
      io.out(labs.length === 0 ? `${tr.t('There are no labs yet.')}\n` : labTable(ctx, labs));
    }),
  );

  lab.addCommand(
    apiCommand('create', tr.t('create a lab'), ctx)
      .argument('<NAME>', tr.t('the lab’s name'))
      .option('--description <TEXT>', tr.t('what the lab is, where it is'))
      .option('--timezone <ZONE>', tr.t('the lab’s time zone, e.g. America/Mexico_City'))
      .action(
        async (name: string, flags: ApiFlags & { description?: string; timezone?: string }) => {
          const created = await (
            await clientFor(flags, ctx)
          ).request<LabView>('POST', '/labs', {
            name,
            ...(flags.description !== undefined ? { description: flags.description } : {}),
            ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
          });
          if (flags.json) return printJson(ctx, created);
          io.out(`${tr.t('Lab {name} created.', { name: created.name })}\n`);
        },
      ),
  );

  lab.addCommand(
    apiCommand('show', tr.t('show a lab'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        const shown = await (
          await clientFor(flags, ctx)
        ).request<LabView>('GET', `/labs/${segment(ref)}`);
        if (flags.json) return printJson(ctx, shown);
        io.out(labFields(ctx, shown));
      }),
  );

  lab.addCommand(
    apiCommand('delete', tr.t('delete a lab (its terminals become pending)'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        await (await clientFor(flags, ctx)).request('DELETE', `/labs/${segment(ref)}`);
        if (flags.json) return printJson(ctx, { deleted: ref });
        io.out(`${tr.t('Lab {name} deleted; its terminals are pending now.', { name: ref })}\n`);
      }),
  );
  return lab;
}

// `labvirt lab list|create|show|set|delete|set-profiles|timetable|subnets|set-pool|start|stop`,
// over the API.
import { Command, Option } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import { LONG_REQUEST } from '../api-client.js';
import type { CliContext } from '../context.js';
import { formatFields, formatTable, sanitize } from '../table.js';
import { dayNames, formatTime, localTime } from '../../domain/timetable.js';
import type { LabView } from '../../controller/services/labs.js';
import type { TimetableView } from '../../controller/services/lab-timetable.js';
import type { LabStartResult, LabStopResult } from '../../controller/services/terminal-vms.js';

/** The API's lab shape; a type-only import, erased at runtime, so no server code loads. */
export type { LabView } from '../../controller/services/labs.js';

export function labTable(ctx: CliContext, labs: readonly LabView[]): string {
  const { tr } = ctx;
  return formatTable(
    [
      tr.t('NAME'),
      tr.t('TERMINALS'),
      tr.t('DEFAULT PROFILE'),
      tr.t('ADDRESS POOL'),
      tr.t('TIMEZONE'),
      tr.t('DESCRIPTION'),
    ],
    labs.map((lab) => [
      lab.name,
      lab.terminals,
      lab.defaultProfile,
      lab.addressPool,
      lab.timezone,
      lab.description,
    ]),
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
    [tr.t('Outside the timetable'), outsideText(ctx, lab.outsideSlots)],
    [tr.t('Subnets'), lab.subnets],
    [tr.t('Address pool'), lab.addressPool],
    [tr.t('Idle minutes'), lab.idleMinutes],
    [tr.t('Placement'), placementText(ctx, lab.placement)],
    [tr.t('Terminals'), lab.terminals],
    [tr.t('Created'), lab.createdAt],
    [tr.t('Updated'), lab.updatedAt],
  ]);
}

function placementText(ctx: CliContext, placement: 'spread' | 'pack'): string {
  return placement === 'pack'
    ? ctx.tr.t('pack (fill a host before the next)')
    : ctx.tr.t('spread (over the hosts)');
}

/** --placement spread|pack, for create and set. */
function placementOption(ctx: CliContext): Option {
  return new Option(
    '--placement <POLICY>',
    ctx.tr.t('how its VMs are placed on hosts: spread over them, or pack onto few'),
  ).choices(['spread', 'pack']);
}

function outsideText(ctx: CliContext, outside: 'default' | 'closed'): string {
  return outside === 'closed' ? ctx.tr.t('closed') : ctx.tr.t('the default profile');
}

/** An instant as the lab's wall clock shows it ("mon 2026-11-30 08:00"), else as given. */
function labClock(iso: string, timezone: string): string {
  try {
    const local = localTime(new Date(iso), timezone);
    const date = new Date(local.day * 86_400_000).toISOString().slice(0, 10);
    return `${dayNames[local.weekday] ?? ''} ${date} ${formatTime(local.minute)}`;
  } catch {
    return iso;
  }
}

/** The timetable, then what applies now. */
export function timetableText(ctx: CliContext, view: TimetableView): string {
  const { tr } = ctx;
  const slots =
    view.slots.length === 0
      ? `${tr.t('No timetable: the default profile all the time.')}\n`
      : formatTable(
          [tr.t('DAYS'), tr.t('FROM'), tr.t('TO'), tr.t('PROFILE')],
          view.slots.map((slot) => [slot.days, slot.start, slot.end, slot.profile]),
        );
  const now = view.now;
  const current =
    now.state === 'open'
      ? now.until === null
        ? tr.t('open, with profile {profile}', { profile: now.profile })
        : tr.t('open, with profile {profile}, until {until}', {
            profile: now.profile,
            until: labClock(now.until, view.timezone),
          })
      : now.opensAt === null
        ? tr.t('closed ({reason})', { reason: now.reason })
        : tr.t('closed ({reason}), opens at {opensAt}', {
            reason: now.reason,
            opensAt: labClock(now.opensAt, view.timezone),
          });
  return (
    formatFields([
      [tr.t('Lab'), view.lab],
      [tr.t('Time zone'), view.timezone],
      [tr.t('Default profile'), view.defaultProfile],
      [tr.t('Outside the timetable'), outsideText(ctx, view.outside)],
      [tr.t('Now'), current],
    ]) + slots
  );
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function labCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const lab = new Command('lab').description(
    tr.t(
      'list, create, show and delete labs; their profiles, timetable, subnets and address pool; start and stop them',
    ),
  );

  lab.addCommand(
    apiCommand('list', tr.t('list the labs'), ctx).action(async (flags: ApiFlags) => {
      const labs = await (await clientFor(flags, ctx)).request<LabView[]>('GET', '/labs');
      if (flags.json) return printJson(ctx, labs);
      io.out(labs.length === 0 ? `${tr.t('There are no labs yet.')}\n` : labTable(ctx, labs));
    }),
  );

  lab.addCommand(
    apiCommand('create', tr.t('create a lab'), ctx)
      .alias('add')
      .argument('<NAME>', tr.t('the lab’s name'))
      .option('--description <TEXT>', tr.t('what the lab is, where it is'))
      .option('--timezone <ZONE>', tr.t('the lab’s time zone, e.g. America/Mexico_City'))
      .option(
        '--idle-minutes <N>',
        tr.t('shut a terminal’s VM down after N minutes with nobody connected'),
      )
      .addOption(placementOption(ctx))
      .action(
        async (
          name: string,
          flags: ApiFlags & {
            description?: string;
            timezone?: string;
            idleMinutes?: string;
            placement?: string;
          },
        ) => {
          const idle = flags.idleMinutes;
          const created = await (
            await clientFor(flags, ctx)
          ).request<LabView>('POST', '/labs', {
            name,
            ...(flags.description !== undefined ? { description: flags.description } : {}),
            ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
            // A number when it is one; else as typed, for the server to say what is wrong.
            ...(idle !== undefined
              ? { idleMinutes: /^\d{1,9}$/.test(idle) ? Number(idle) : idle }
              : {}),
            ...(flags.placement !== undefined ? { placement: flags.placement } : {}),
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
    apiCommand('set', tr.t('change a lab’s description, time zone or placement'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .option('--description <TEXT>', tr.t('what the lab is, where it is'))
      .option('--timezone <ZONE>', tr.t('the lab’s time zone, e.g. America/Mexico_City'))
      .addOption(placementOption(ctx))
      .action(
        async (
          ref: string,
          flags: ApiFlags & { description?: string; timezone?: string; placement?: string },
        ) => {
          const body = {
            ...(flags.description !== undefined ? { description: flags.description } : {}),
            ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
            ...(flags.placement !== undefined ? { placement: flags.placement } : {}),
          };
          if (Object.keys(body).length === 0)
            throw new LabvirtError('USAGE_INVALID', {
              detail: tr.t('give --description, --timezone or --placement'),
            });
          const changed = await (
            await clientFor(flags, ctx)
          ).request<LabView>('PATCH', `/labs/${segment(ref)}`, body);
          if (flags.json) return printJson(ctx, changed);
          io.out(labFields(ctx, changed));
        },
      ),
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
  lab.addCommand(
    apiCommand('set-profiles', tr.t('set the profiles a lab may use, and its default one'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .argument('[PROFILE...]', tr.t('the profiles (names or ids); none takes them all away'))
      .option('--default <PROFILE>', tr.t('the default profile: one of those given'))
      .action(async (ref: string, profiles: string[], flags: ApiFlags & { default?: string }) => {
        const changed = await (
          await clientFor(flags, ctx)
        ).request<LabView>('PUT', `/labs/${segment(ref)}/profiles`, {
          profiles,
          ...(flags.default !== undefined ? { default: flags.default } : {}),
        });
        if (flags.json) return printJson(ctx, changed);
        io.out(labFields(ctx, changed));
      }),
  );

  lab.addCommand(
    apiCommand(
      'timetable',
      tr.t('show or replace a lab’s timetable, and say what applies now'),
      ctx,
    )
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .option(
        '--set <SLOT>',
        tr.t('a slot, like "mon-fri 08:00-10:00 PROFILE" (repeatable; replaces them all)'),
        collect,
      )
      .option(
        '--outside <WHAT>',
        tr.t('outside the slots: default (the default profile) or closed'),
      )
      .option('--clear', tr.t('remove every slot'))
      .action(
        async (
          ref: string,
          flags: ApiFlags & { set?: string[]; outside?: string; clear?: boolean },
        ) => {
          const client = await clientFor(flags, ctx);
          const path = `/labs/${segment(ref)}/timetable`;
          let view: TimetableView;
          if (flags.set !== undefined || flags.clear === true || flags.outside !== undefined) {
            const slots =
              flags.set !== undefined || flags.clear === true
                ? (flags.set ?? [])
                : (await client.request<TimetableView>('GET', path)).slots.map((s) => s.text);
            view = await client.request<TimetableView>('PUT', path, {
              slots,
              ...(flags.outside !== undefined ? { outside: flags.outside } : {}),
            });
          } else view = await client.request<TimetableView>('GET', path);
          if (flags.json) return printJson(ctx, view);
          io.out(timetableText(ctx, view));
        },
      ),
  );

  lab.addCommand(
    apiCommand('subnets', tr.t('show or replace the subnets whose new terminals join a lab'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .argument('[CIDR...]', tr.t('subnets like 10.1.2.0/24 or fd00::/64 (replace them all)'))
      .option('--clear', tr.t('remove every subnet'))
      .action(async (ref: string, cidrs: string[], flags: ApiFlags & { clear?: boolean }) => {
        const client = await clientFor(flags, ctx);
        const shown =
          cidrs.length > 0 || flags.clear === true
            ? await client.request<LabView>('PUT', `/labs/${segment(ref)}/subnets`, {
                subnets: cidrs,
              })
            : await client.request<LabView>('GET', `/labs/${segment(ref)}`);
        if (flags.json) return printJson(ctx, shown.subnets);
        io.out(
          shown.subnets.length === 0
            ? `${tr.t('Lab {name} has no subnets.', { name: shown.name })}\n`
            : shown.subnets.map((cidr) => `${cidr}\n`).join(''),
        );
      }),
  );

  lab.addCommand(
    apiCommand(
      'set-pool',
      tr.t('set the addresses a lab’s terminals’ VMs get by DHCP, giving each terminal one'),
      ctx,
    )
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .argument(
        '[RANGE]',
        tr.t('an IPv4 range like 10.0.0.10-10.0.0.99, or a subnet like 10.0.0.0/24'),
      )
      .option('--clear', tr.t('remove the pool and the addresses given from it'))
      .action(
        async (ref: string, range: string | undefined, flags: ApiFlags & { clear?: boolean }) => {
          const clear = flags.clear === true;
          if ((range === undefined) === !clear)
            throw new LabvirtError('USAGE_INVALID', {
              detail: tr.t('give either a RANGE or --clear'),
            });
          const changed = await (
            await clientFor(flags, ctx)
          ).request<LabView>('PUT', `/labs/${segment(ref)}/address-pool`, {
            pool: clear ? null : range,
          });
          if (flags.json) return printJson(ctx, changed);
          io.out(
            `${
              changed.addressPool === null
                ? tr.t('Lab {name} has no address pool now.', { name: changed.name })
                : tr.tn(
                    'Lab {name}: address pool {pool}; its one terminal has an address from it.',
                    'Lab {name}: address pool {pool}; its {n} terminals have addresses from it.',
                    changed.terminals,
                    { name: changed.name, pool: changed.addressPool },
                  )
            }\n`,
          );
        },
      ),
  );

  lab.addCommand(
    apiCommand('start', tr.t('start a VM for every terminal of a lab that has none'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        const result = await (
          await clientFor(flags, ctx)
        ).request<LabStartResult>('POST', `/labs/${segment(ref)}/start`, {}, LONG_REQUEST);
        if (flags.json) return printJson(ctx, result);
        io.out(
          `${tr.t('Started {started}, already running {running}, failed {failed}.', {
            started: result.started,
            running: result.running,
            failed: result.failed.length,
          })}\n`,
        );
        for (const failure of result.failed)
          io.out(`  ${failure.terminal}: ${sanitize(failure.reason)}\n`);
      }),
  );

  lab.addCommand(
    apiCommand('stop', tr.t('end the VMs of a lab’s terminals (their writes are discarded)'), ctx)
      .argument('<LAB>', tr.t('the lab’s name or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        const result = await (
          await clientFor(flags, ctx)
        ).request<LabStopResult>('POST', `/labs/${segment(ref)}/stop`, {}, LONG_REQUEST);
        if (flags.json) return printJson(ctx, result);
        io.out(`${tr.tn('Stopped one VM.', 'Stopped {n} VMs.', result.stopped)}\n`);
      }),
  );
  return lab;
}

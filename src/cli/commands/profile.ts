// `labvirt profile ...`, over the API: settings (list, show, create, set, delete), the
// golden image (import, versions, rollback, flatten, delete-version) and clones.
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { followStartedJob, importImage, throwIfFailed, type JobAnswer } from '../image-transfer.js';
import { formatFields, formatTable } from '../table.js';

export interface ProfileView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly nicModel: string;
  readonly diskBus: string;
  readonly display: string;
  readonly guestPort: number | null;
  readonly adminPolicy: string;
  readonly cdrom: string | null;
  readonly dataDisks: readonly { sizeMiB: number }[];
  readonly publishedVersion: string | null;
  readonly createdAt: string;
}

interface VersionView {
  readonly id: string;
  readonly number: number;
  readonly note: string;
  readonly sizeBytes: number;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly chainDepth: number;
  readonly published: boolean;
}

interface SettingsFlags extends ApiFlags {
  description?: string;
  memory?: string;
  cpus?: string;
  nic?: string;
  diskBus?: string;
  display?: string;
  guestPort?: string;
  adminPolicy?: string;
  cdrom?: string;
  dataDisks?: string;
}

function integer(option: string, value: string, ctx: CliContext): number {
  if (!/^[0-9]{1,9}$/.test(value))
    throw new LabvirtError('OPTION_INVALID', { option, reason: ctx.tr.t('give a whole number') });
  return Number(value);
}

/** The settings given on the command line, as the API's fields. */
function settings(flags: SettingsFlags, ctx: CliContext): Record<string, unknown> {
  const none = (value: string) => value === 'none' || value === '';
  const body: Record<string, unknown> = {};
  if (flags.description !== undefined) body['description'] = flags.description;
  if (flags.memory !== undefined) body['memoryMiB'] = integer('--memory', flags.memory, ctx);
  if (flags.cpus !== undefined) body['cpus'] = integer('--cpus', flags.cpus, ctx);
  if (flags.nic !== undefined) body['nicModel'] = flags.nic;
  if (flags.diskBus !== undefined) body['diskBus'] = flags.diskBus;
  if (flags.display !== undefined) body['display'] = flags.display;
  if (flags.guestPort !== undefined)
    body['guestPort'] = none(flags.guestPort)
      ? null
      : integer('--guest-port', flags.guestPort, ctx);
  if (flags.adminPolicy !== undefined) body['adminPolicy'] = flags.adminPolicy;
  if (flags.cdrom !== undefined) body['cdrom'] = none(flags.cdrom) ? null : flags.cdrom;
  if (flags.dataDisks !== undefined)
    body['dataDisks'] = none(flags.dataDisks)
      ? []
      : flags.dataDisks.split(',').map((size) => ({ sizeMiB: integer('--data-disks', size, ctx) }));
  return body;
}

function withSettings(command: Command, ctx: CliContext): Command {
  const { tr } = ctx;
  return command
    .option('--description <TEXT>', tr.t('what the profile is for'))
    .option('--memory <MIB>', tr.t('memory in MiB'))
    .option('--cpus <N>', tr.t('virtual CPUs'))
    .option('--nic <MODEL>', tr.t('NIC model: virtio, rtl8139 or e1000'))
    .option('--disk-bus <BUS>', tr.t('disk bus: ide or virtio'))
    .option('--display <PROTOCOL>', tr.t('what terminals connect with: rdp, vnc or spice'))
    .option('--guest-port <PORT>', tr.t('the guest’s port for the display protocol, or none'))
    .option('--admin-policy <POLICY>', tr.t('admin sessions: shared or exclusive'))
    .option('--cdrom <ISO>', tr.t('an ISO file name from the server’s ISO library, or none'))
    .option(
      '--data-disks <SIZES>',
      tr.t('extra data disks, sizes in MiB, comma-separated, or none'),
    );
}

function profileFields(ctx: CliContext, p: ProfileView): string {
  const { tr } = ctx;
  return formatFields([
    [tr.t('Name'), p.name],
    [tr.t('Id'), p.id],
    [tr.t('Description'), p.description],
    [tr.t('Memory (MiB)'), p.memoryMiB],
    [tr.t('vCPUs'), p.cpus],
    [tr.t('NIC model'), p.nicModel],
    [tr.t('Disk bus'), p.diskBus],
    [tr.t('Display'), p.display],
    [tr.t('Guest port'), p.guestPort],
    [tr.t('Admin policy'), p.adminPolicy],
    [tr.t('CD-ROM'), p.cdrom],
    [tr.t('Data disks (MiB)'), p.dataDisks.map((disk) => disk.sizeMiB)],
    [tr.t('Published version'), p.publishedVersion],
    [tr.t('Created'), p.createdAt],
  ]);
}

export function profileCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const profile = new Command('profile').description(
    tr.t('profiles: settings, golden images, versions and clones'),
  );
  const path = (name: string, rest = '') => `/profiles/${segment(name)}${rest}`;

  profile.addCommand(
    apiCommand('list', tr.t('list the profiles'), ctx).action(async (flags: ApiFlags) => {
      const all = await (await clientFor(flags, ctx)).request<ProfileView[]>('GET', '/profiles');
      if (flags.json) return printJson(ctx, all);
      if (all.length === 0) return io.out(`${tr.t('There are no profiles yet.')}\n`);
      io.out(
        formatTable(
          [tr.t('NAME'), tr.t('MEMORY'), tr.t('CPUS'), tr.t('DISPLAY'), tr.t('IMAGE')],
          all.map((p) => [
            p.name,
            p.memoryMiB,
            p.cpus,
            p.display,
            p.publishedVersion === null ? tr.t('none') : tr.t('yes'),
          ]),
        ),
      );
    }),
  );

  profile.addCommand(
    apiCommand('show', tr.t('show a profile'), ctx)
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .action(async (name: string, flags: ApiFlags) => {
        const shown = await (await clientFor(flags, ctx)).request<ProfileView>('GET', path(name));
        if (flags.json) return printJson(ctx, shown);
        io.out(profileFields(ctx, shown));
      }),
  );

  profile.addCommand(
    withSettings(
      apiCommand('create', tr.t('create a profile (settings only; then import its image)'), ctx),
      ctx,
    )
      .argument('<NAME>', tr.t('the profile’s name'))
      .action(async (name: string, flags: SettingsFlags) => {
        const created = await (
          await clientFor(flags, ctx)
        ).request<ProfileView>('POST', '/profiles', { name, ...settings(flags, ctx) });
        if (flags.json) return printJson(ctx, created);
        io.out(`${tr.t('Profile {name} created.', { name: created.name })}\n`);
      }),
  );

  profile.addCommand(
    withSettings(apiCommand('set', tr.t('change a profile’s settings'), ctx), ctx)
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .option('--name <NAME>', tr.t('rename the profile'))
      .action(async (name: string, flags: SettingsFlags & { name?: string }) => {
        const body = {
          ...settings(flags, ctx),
          ...(flags.name !== undefined ? { name: flags.name } : {}),
        };
        const changed = await (
          await clientFor(flags, ctx)
        ).request<ProfileView>('PATCH', path(name), body);
        if (flags.json) return printJson(ctx, changed);
        io.out(profileFields(ctx, changed));
      }),
  );

  profile.addCommand(
    apiCommand('delete', tr.t('delete a profile and its images'), ctx)
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .action(async (name: string, flags: ApiFlags) => {
        await (await clientFor(flags, ctx)).request('DELETE', path(name));
        if (flags.json) return printJson(ctx, { deleted: name });
        io.out(`${tr.t('Profile {name} deleted.', { name })}\n`);
      }),
  );

  profile.addCommand(
    apiCommand(
      'import',
      tr.t(
        'import a disk image as the profile’s next version (the first is published); a file outside the server’s import directories is uploaded',
      ),
      ctx,
    )
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .argument('<FILE>', tr.t('the disk image'))
      .option('--format <FORMAT>', tr.t('qcow2, raw, vmdk, vdi or vhdx (default: detected safely)'))
      .action(async (name: string, file: string, flags: ApiFlags & { format?: string }) => {
        const job = await importImage(ctx, {
          profile: name,
          file,
          format: flags.format,
          url: flags.url,
          token: flags.token,
          show: flags.json !== true,
        });
        if (flags.json) printJson(ctx, job);
        throwIfFailed(job);
        if (flags.json) return;
        const version = job.result as VersionView;
        io.out(
          `${
            version.published
              ? tr.t('Version {number} of profile {name} imported and published.', {
                  number: version.number,
                  name,
                })
              : tr.t('Version {number} of profile {name} imported.', {
                  number: version.number,
                  name,
                })
          }\n`,
        );
      }),
  );

  profile.addCommand(
    apiCommand('versions', tr.t('list a profile’s versions'), ctx)
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .action(async (name: string, flags: ApiFlags) => {
        const list = await (
          await clientFor(flags, ctx)
        ).request<VersionView[]>('GET', path(name, '/versions'));
        if (flags.json) return printJson(ctx, list);
        if (list.length === 0) return io.out(`${tr.t('This profile has no versions yet.')}\n`);
        io.out(
          formatTable(
            [
              tr.t('VERSION'),
              tr.t('PUBLISHED'),
              tr.t('SIZE (MiB)'),
              tr.t('CHAIN'),
              tr.t('BY'),
              tr.t('CREATED'),
              tr.t('NOTE'),
            ],
            list.map((v) => [
              v.number,
              v.published ? '*' : '',
              (v.sizeBytes / 1024 / 1024).toFixed(1),
              v.chainDepth,
              v.createdBy,
              v.createdAt,
              v.note,
            ]),
          ),
        );
      }),
  );

  profile.addCommand(
    apiCommand('rollback', tr.t('make an older version the published one again'), ctx)
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .argument('<VERSION>', tr.t('the version’s number'))
      .action(async (name: string, version: string, flags: ApiFlags) => {
        const shown = await (
          await clientFor(flags, ctx)
        ).request<VersionView>('POST', path(name, '/rollback'), { version });
        if (flags.json) return printJson(ctx, shown);
        io.out(
          `${tr.t('Version {number} of profile {name} is the published one.', { number: shown.number, name })}\n`,
        );
      }),
  );

  const jobCommand = (
    command: Command,
    start: (args: string[], flags: ApiFlags & Record<string, unknown>) => [string, string, unknown],
    done: (result: unknown, args: string[]) => string,
  ) =>
    command.action(async (...all: unknown[]) => {
      const flags = all.at(-2) as ApiFlags & Record<string, unknown>;
      const args = all.slice(0, -2) as string[];
      const [method, url, payload] = start(args, flags);
      const { job, body } = await followStartedJob(
        ctx,
        flags,
        method,
        url,
        payload,
        flags.json !== true,
      );
      if (flags.json) printJson(ctx, body);
      if (job !== undefined) throwIfFailed(job);
      if (flags.json) return;
      io.out(`${done(job === undefined ? body : (job as JobAnswer).result, args)}\n`);
    });

  profile.addCommand(
    jobCommand(
      apiCommand(
        'flatten',
        tr.t('collapse the published version’s chain into a new version'),
        ctx,
      ).argument('<PROFILE>', tr.t('the profile’s name or id')),
      ([name]) => ['POST', path(name ?? '', '/flatten'), {}],
      (result, [name]) =>
        tr.t('Version {number} of profile {name} is a flattened copy.', {
          number: (result as VersionView).number,
          name: name ?? '',
        }),
    ),
  );

  profile.addCommand(
    apiCommand(
      'delete-version',
      tr.t('delete a version nothing depends on (never the published one)'),
      ctx,
    )
      .argument('<PROFILE>', tr.t('the profile’s name or id'))
      .argument('<VERSION>', tr.t('the version’s number'))
      .action(async (name: string, version: string, flags: ApiFlags) => {
        await (
          await clientFor(flags, ctx)
        ).request('DELETE', path(name, `/versions/${segment(version)}`));
        if (flags.json) return printJson(ctx, { deleted: Number(version) });
        io.out(
          `${tr.t('Version {number} of profile {name} deleted.', { number: version, name })}\n`,
        );
      }),
  );

  profile.addCommand(
    jobCommand(
      apiCommand(
        'clone',
        tr.t('clone a profile: a linked layer on its published version, or --full copy'),
        ctx,
      )
        .argument('<SOURCE>', tr.t('the profile to clone'))
        .argument('<NAME>', tr.t('the new profile’s name'))
        .option('--full', tr.t('an independent copy (takes time) instead of a linked layer')),
      ([source, name], flags) => [
        'POST',
        path(source ?? '', '/clone'),
        { name, mode: flags['full'] === true ? 'full' : 'linked' },
      ],
      (_result, [source, name]) =>
        tr.t('Profile {name} is a clone of {source}.', { name: name ?? '', source: source ?? '' }),
    ),
  );
  return profile;
}

// `labvirt terminal list|pending|add|enrol|move|remove`, over the API.
import { Command } from 'commander';
import { parseMac } from '../../qemu/cmdline/validate.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';
import type { TerminalView } from '../../controller/services/terminals.js';

/** The API's shape; a type-only import, erased at runtime, so no server code loads. */
export type { TerminalView } from '../../controller/services/terminals.js';

export function terminalTable(ctx: CliContext, terminals: readonly TerminalView[]): string {
  const { tr } = ctx;
  return formatTable(
    [
      tr.t('MAC'),
      tr.t('NAME'),
      tr.t('LAB'),
      tr.t('STATE'),
      tr.t('IP'),
      tr.t('LAST IP'),
      tr.t('VM ADDRESS'),
      tr.t('LAST SEEN'),
    ],
    terminals.map((t) => [t.mac, t.name, t.lab, t.state, t.ip, t.lastIp, t.address, t.lastSeenAt]),
  );
}

/** A terminal named by MAC is checked here (a clear local error); ids go as they are. */
const terminalRef = (ref: string): string => (ref.includes(':') ? parseMac(ref) : ref);

export function terminalCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const terminal = new Command('terminal').description(
    tr.t('list, enrol, move and remove terminals'),
  );

  terminal.addCommand(
    apiCommand('list', tr.t('list the terminals'), ctx)
      .option('--lab <LAB>', tr.t('only the terminals of this lab'))
      .action(async (flags: ApiFlags & { lab?: string }) => {
        const query = flags.lab !== undefined ? `?lab=${encodeURIComponent(flags.lab)}` : '';
        const terminals = await (
          await clientFor(flags, ctx)
        ).request<TerminalView[]>('GET', `/terminals${query}`);
        if (flags.json) return printJson(ctx, terminals);
        io.out(
          terminals.length === 0
            ? `${tr.t('There are no terminals.')}\n`
            : terminalTable(ctx, terminals),
        );
      }),
  );

  terminal.addCommand(
    apiCommand('pending', tr.t('list the terminals waiting to be enrolled'), ctx).action(
      async (flags: ApiFlags) => {
        const terminals = await (
          await clientFor(flags, ctx)
        ).request<TerminalView[]>('GET', '/terminals?state=pending');
        if (flags.json) return printJson(ctx, terminals);
        io.out(
          terminals.length === 0
            ? `${tr.t('No terminal is waiting to be enrolled.')}\n`
            : terminalTable(ctx, terminals),
        );
      },
    ),
  );

  terminal.addCommand(
    apiCommand('enrol', tr.t('enrol a pending terminal into a lab'), ctx)
      .argument('<TERMINAL>', tr.t('the terminal’s MAC address or id'))
      .requiredOption('--lab <LAB>', tr.t('the lab to enrol it into'))
      .option('--name <NAME>', tr.t('a name for it'))
      .action(async (ref: string, flags: ApiFlags & { lab: string; name?: string }) => {
        const enrolled = await (
          await clientFor(flags, ctx)
        ).request<TerminalView>('POST', `/terminals/${segment(terminalRef(ref))}/enrol`, {
          lab: flags.lab,
          ...(flags.name !== undefined ? { name: flags.name } : {}),
        });
        if (flags.json) return printJson(ctx, enrolled);
        io.out(
          `${tr.t('Terminal {mac} ({name}) enrolled in lab {lab}.', { mac: enrolled.mac, name: enrolled.name, lab: enrolled.lab ?? '-' })}\n`,
        );
      }),
  );

  terminal.addCommand(
    apiCommand('add', tr.t('enrol a terminal into a lab'), ctx)
      .argument('<MAC>', tr.t('the terminal’s MAC address, e.g. 52:54:00:12:34:56'))
      .requiredOption('--lab <LAB>', tr.t('the lab to enrol it into'))
      .option('--name <NAME>', tr.t('a name for it (default: from its MAC)'))
      .option(
        '--ip <ADDRESS>',
        tr.t('the address it is registered by (it may then ask without its MAC)'),
      )
      .action(
        async (mac: string, flags: ApiFlags & { lab: string; name?: string; ip?: string }) => {
          const added = await (
            await clientFor(flags, ctx)
          ).request<TerminalView>('POST', '/terminals', {
            mac: parseMac(mac),
            lab: flags.lab,
            ...(flags.name !== undefined ? { name: flags.name } : {}),
            ...(flags.ip !== undefined ? { ip: flags.ip } : {}),
          });
          if (flags.json) return printJson(ctx, added);
          io.out(
            `${tr.t('Terminal {mac} ({name}) enrolled in lab {lab}.', { mac: added.mac, name: added.name, lab: added.lab ?? '-' })}\n`,
          );
        },
      ),
  );

  terminal.addCommand(
    apiCommand('move', tr.t('move a terminal to another lab'), ctx)
      .argument('<TERMINAL>', tr.t('the terminal’s MAC address or id'))
      .requiredOption('--lab <LAB>', tr.t('the lab to move it to'))
      .action(async (ref: string, flags: ApiFlags & { lab: string }) => {
        const moved = await (
          await clientFor(flags, ctx)
        ).request<TerminalView>('PATCH', `/terminals/${segment(terminalRef(ref))}`, {
          lab: flags.lab,
        });
        if (flags.json) return printJson(ctx, moved);
        io.out(
          `${tr.t('Terminal {mac} moved to lab {lab}.', { mac: moved.mac, lab: moved.lab ?? '-' })}\n`,
        );
      }),
  );

  terminal.addCommand(
    apiCommand('remove', tr.t('remove a terminal'), ctx)
      .argument('<TERMINAL>', tr.t('the terminal’s MAC address or id'))
      .action(async (ref: string, flags: ApiFlags) => {
        await (
          await clientFor(flags, ctx)
        ).request('DELETE', `/terminals/${segment(terminalRef(ref))}`);
        if (flags.json) return printJson(ctx, { removed: ref });
        io.out(`${tr.t('Terminal {terminal} removed.', { terminal: ref })}\n`);
      }),
  );
  return terminal;
}

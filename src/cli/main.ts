// The `labvirt` command. Exit codes: 0 done, 1 failed, 2 bad input (nothing was changed).
// Every message is in the user's language (LC_ALL, LC_MESSAGES, LANG, LANGUAGE).
import { Command, CommanderError } from 'commander';
import { isLabvirtError } from '../domain/errors.js';
import {
  localeFromEnv,
  N_,
  translateError,
  translator,
  type Translator,
} from '../i18n/translator.js';
import { CliMessageError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { agentCommand } from './commands/agent.js';
import { cmdlineCommand } from './commands/cmdline.js';
import { dhcpCommand } from './commands/dhcp.js';
import { hostCommand } from './commands/host.js';
import { labCommand } from './commands/lab.js';
import { loginCommand } from './commands/login.js';
import { profileCommand } from './commands/profile.js';
import { profileAdminCommand } from './commands/profile-admin.js';
import { vmCommand } from './commands/vm.js';
import { runCommand } from './commands/run.js';
import { serverCommand } from './commands/server.js';
import { terminalCommand } from './commands/terminal.js';
import { userCommand } from './commands/user.js';
import type { CliContext } from './context.js';
import { processIo, type CliIo } from './io.js';
import type { PasswordInput } from './password-stdin.js';
import { usageError } from './usage-errors.js';

export { EXIT_FAILURE, EXIT_USAGE };

export interface MainOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdin?: PasswordInput;
}

// Commander's help headings, translated as they are drawn.
const helpTitles: Readonly<Record<string, string>> = {
  'Usage:': N_('Usage:'),
  'Options:': N_('Options:'),
  'Commands:': N_('Commands:'),
  'Arguments:': N_('Arguments:'),
  'Global Options:': N_('Global Options:'),
};

/**
 * In every command: exit on errors instead of process.exit (main() prints them, translated),
 * and help in the user's language.
 */
function configure(command: Command, io: CliIo, tr: Translator): void {
  command
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: () => undefined,
    })
    .helpOption('-h, --help', tr.t('display help for command'))
    .configureHelp({
      styleTitle: (title) => {
        const known = helpTitles[title];
        return known === undefined ? title : tr.t(known);
      },
    });
  if (command.commands.length > 0)
    command.helpCommand('help [command]', tr.t('display help for command'));
  for (const sub of command.commands) configure(sub, io, tr);
}

export function buildProgram(io: CliIo = processIo, options: MainOptions = {}): Command {
  const env = options.env ?? process.env;
  const tr = translator(localeFromEnv(env));
  const ctx: CliContext = { io, tr, env, stdin: options.stdin ?? process.stdin };
  const program = new Command('labvirt')
    .description(tr.t('LabVirt: a computer lab’s desktops as KVM/QEMU virtual machines'))
    .version('0.1.0', '-V, --version', tr.t('output the version number'));
  for (const command of [
    serverCommand(ctx),
    userCommand(ctx),
    loginCommand(ctx),
    labCommand(ctx),
    terminalCommand(ctx),
    dhcpCommand(ctx),
    profileCommand(ctx).addCommand(profileAdminCommand(ctx)),
    vmCommand(ctx),
    hostCommand(ctx),
    agentCommand(ctx),
    cmdlineCommand(io, tr),
    runCommand(io, tr),
  ]) {
    program.addCommand(command);
  }
  configure(program, io, tr);
  return program;
}

/** "labvirt: error: MESSAGE", one line. */
export function errorLine(tr: Translator, message: string): string {
  return `labvirt: ${tr.t('error: {message}', { message: message.split('\n').join(' ') })}\n`;
}

export async function main(
  argv: readonly string[],
  io: CliIo = processIo,
  options: MainOptions = {},
): Promise<number> {
  const tr = translator(localeFromEnv(options.env ?? process.env));
  try {
    await buildProgram(io, options).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; help shown for a missing command too.
      if (error.exitCode === 0) return 0;
      if (error.code === 'commander.help' || error.code === 'commander.helpDisplayed')
        return EXIT_USAGE;
      io.err(errorLine(tr, translateError(usageError(error), tr)));
      return EXIT_USAGE;
    }
    if (isLabvirtError(error)) {
      io.err(errorLine(tr, translateError(error, tr)));
      return error.isUserError ? EXIT_USAGE : EXIT_FAILURE;
    }
    if (error instanceof CliMessageError) {
      io.err(errorLine(tr, error.message));
      return error.exitCode;
    }
    io.err(
      `labvirt: ${tr.t('internal error: {message}', {
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      })}\n`,
    );
    return EXIT_FAILURE;
  }
}

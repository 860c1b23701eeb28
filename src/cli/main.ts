// The `labvirt` command. Exit codes: 0 done, 1 failed, 2 bad input (nothing was changed).
import { Command, CommanderError } from 'commander';
import { formatMessage, isLabvirtError } from '../domain/errors.js';
import { cmdlineCommand } from './commands/cmdline.js';
import { runCommand } from './commands/run.js';
import { processIo, type CliIo } from './io.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Commander's usage errors (and its "Did you mean" hint) as one line, like ours. */
function oneLine(text: string): string {
  return `labvirt: ${text.trim().split('\n').join(' ')}\n`;
}

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('labvirt')
    .description('LabVirt: a computer lab’s desktops as KVM/QEMU virtual machines')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text) => io.err(oneLine(text)),
    });
  for (const command of [cmdlineCommand(io), runCommand(io)]) {
    program.addCommand(
      command.exitOverride().configureOutput({ outputError: (text) => io.err(oneLine(text)) }),
    );
  }
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; a usage error is ours to number.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (isLabvirtError(error)) {
      io.err(`labvirt: error: ${formatMessage(error.code, error.params)}\n`);
      return error.isUserError ? EXIT_USAGE : EXIT_FAILURE;
    }
    io.err(
      `labvirt: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT_FAILURE;
  }
}

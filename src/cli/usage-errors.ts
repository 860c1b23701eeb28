// Commander's usage errors as LabVirt errors, so they are translated like every other
// message (commander's own texts are English only).
import type { CommanderError } from 'commander';
import { LabvirtError } from '../domain/errors.js';

const quoted = (message: string, index = 0): string =>
  [...message.matchAll(/'([^']*)'/g)][index]?.[1] ?? '?';

export function usageError(error: CommanderError): LabvirtError {
  const message = error.message.replace(/^error:\s*/, '').trim();
  switch (error.code) {
    case 'commander.unknownOption':
      return new LabvirtError('USAGE_UNKNOWN_OPTION', { option: quoted(message) });
    case 'commander.unknownCommand':
      return new LabvirtError('USAGE_UNKNOWN_COMMAND', { command: quoted(message) });
    case 'commander.missingArgument':
      return new LabvirtError('USAGE_MISSING_ARGUMENT', { argument: quoted(message) });
    case 'commander.optionMissingArgument':
      return new LabvirtError('USAGE_OPTION_VALUE_MISSING', { option: quoted(message) });
    case 'commander.missingMandatoryOptionValue':
      return new LabvirtError('USAGE_OPTION_REQUIRED', { option: quoted(message) });
    case 'commander.excessArguments': {
      const counts = /Expected (\d+) arguments? but got (\d+)/.exec(message);
      const command = /for '([^']*)'/.exec(message)?.[1] ?? 'labvirt';
      if (counts)
        return new LabvirtError('USAGE_TOO_MANY_ARGUMENTS', {
          command,
          expected: Number(counts[1]),
          received: Number(counts[2]),
        });
      break;
    }
  }
  return new LabvirtError('USAGE_INVALID', { detail: message.split('\n').join(' ') });
}

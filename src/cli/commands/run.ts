// `labvirt run`: one VM in the foreground (installing an OS from a CD-ROM, trying an
// image). Writes persist unless --snapshot. SIGINT/SIGTERM power the VM down through
// ACPI, then `quit` after --grace seconds. Exits when the VM ends.
import { Command } from 'commander';
import { isLabvirtError, LabvirtError } from '../../domain/errors.js';
import { FileFollower } from '../follow-file.js';
import type { CliIo } from '../io.js';
import {
  sourceLocale,
  translateError,
  translator,
  type Translator,
} from '../../i18n/translator.js';
import { localSupervisor } from '../../agent/local-host.js';
import { addVmFlags, type VmFlagValues } from '../vm-flags.js';
import { prepareVm } from '../vm-launch.js';
import { assertMacFreeOnHost } from '../mac-in-use.js';

interface RunFlagValues extends VmFlagValues {
  grace: string;
  quiet?: boolean;
}

function parseGrace(value: string, tr: Translator): number {
  if (!/^[0-9]{1,6}$/.test(value)) {
    throw new LabvirtError('OPTION_INVALID', {
      option: '--grace',
      reason: tr.t('"{value}" is not a whole number of seconds', { value }),
    });
  }
  return Number(value) * 1000;
}

export function runCommand(io: CliIo, tr: Translator = translator(sourceLocale)): Command {
  return addVmFlags(
    new Command('run').description(tr.t('run a VM in the foreground until it ends')),
    tr,
  )
    .option(
      '--grace <SECONDS>',
      tr.t('after SIGINT/SIGTERM, how long the guest may take to power down'),
      '30',
    )
    .option('--quiet', tr.t('do not copy the serial console to standard output'))
    .action(async (values: RunFlagValues) => {
      const graceMs = parseGrace(values.grace, tr);
      const { request, launch, runDir, warning } = await prepareVm(values);
      // A MAC given by hand may be one a running VM has (a derived one is the VM's own).
      if (values.mac !== undefined) await assertMacFreeOnHost(request.nic.mac);
      if (warning !== undefined) io.warn(warning);
      const supervisor = localSupervisor(runDir.root);
      const status = await supervisor.start(launch, { discardWrites: request.snapshot });
      const details = request.snapshot
        ? tr.t(
            'VM {name} running (pid {pid}, {accel}, writes discarded); VNC unix:{vnc}; serial log {serial}',
            {
              name: status.name,
              pid: status.pid,
              accel: launch.accel,
              vnc: status.vncSocket,
              serial: status.serialLog,
            },
          )
        : tr.t('VM {name} running (pid {pid}, {accel}); VNC unix:{vnc}; serial log {serial}', {
            name: status.name,
            pid: status.pid,
            accel: launch.accel,
            vnc: status.vncSocket,
            serial: status.serialLog,
          });
      io.err(`labvirt: ${details}\n`);
      const follower = values.quiet
        ? undefined
        : new FileFollower(status.serialLog, process.stdout);
      follower?.start();

      let stopping: Promise<unknown> | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping !== undefined) return;
        io.err(
          `labvirt: ${tr.t('{signal}: powering VM {name} down (grace {seconds} s)', { signal, name: status.name, seconds: graceMs / 1000 })}\n`,
        );
        stopping = supervisor.stop(status.name, { graceMs }).catch((error: unknown) => {
          io.err(
            `labvirt: ${tr.t('error: {message}', { message: isLabvirtError(error) ? translateError(error, tr) : (error as Error).message })}\n`,
          );
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const exit = await supervisor.waitForExit(status.name);
        await stopping;
        await follower?.stop();
        const how = exit.stopMethod ?? exit.shutdownReason ?? tr.t('process ended');
        io.err(
          `labvirt: ${
            exit.state === 'crashed'
              ? tr.t('VM {name} crashed ({how})', { name: status.name, how })
              : tr.t('VM {name} stopped ({how})', { name: status.name, how })
          }\n`,
        );
        if (exit.state === 'crashed') process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

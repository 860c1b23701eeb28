// `labvirt run`: one VM in the foreground (installing an OS from a CD-ROM, trying an
// image). Writes persist unless --snapshot. SIGINT/SIGTERM power the VM down through
// ACPI, then `quit` after --grace seconds. Exits when the VM ends.
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { FileFollower } from '../follow-file.js';
import type { CliIo } from '../io.js';
import { localSupervisor } from '../local-host.js';
import { addVmFlags, type VmFlagValues } from '../vm-flags.js';
import { prepareVm } from '../vm-launch.js';

interface RunFlagValues extends VmFlagValues {
  grace: string;
  quiet?: boolean;
}

function parseGrace(value: string): number {
  if (!/^[0-9]{1,6}$/.test(value)) {
    throw new LabvirtError('OPTION_INVALID', {
      option: '--grace',
      reason: `"${value}" is not a whole number of seconds`,
    });
  }
  return Number(value) * 1000;
}

export function runCommand(io: CliIo): Command {
  return addVmFlags(new Command('run').description('run a VM in the foreground until it ends'))
    .option(
      '--grace <SECONDS>',
      'after SIGINT/SIGTERM, how long the guest may take to power down',
      '30',
    )
    .option('--quiet', 'do not copy the serial console to standard output')
    .action(async (values: RunFlagValues) => {
      const graceMs = parseGrace(values.grace);
      const { request, launch, runDir, warning } = await prepareVm(values);
      if (warning !== undefined) io.warn(warning);
      const supervisor = localSupervisor(runDir.root);
      const status = await supervisor.start(launch, { discardWrites: request.snapshot });
      io.err(
        `labvirt: VM ${status.name} running (pid ${status.pid}, ${launch.accel}` +
          `${request.snapshot ? ', writes discarded' : ''}); VNC unix:${status.vncSocket}; serial log ${status.serialLog}\n`,
      );
      const follower = values.quiet
        ? undefined
        : new FileFollower(status.serialLog, process.stdout);
      follower?.start();

      let stopping: Promise<unknown> | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping !== undefined) return;
        io.err(`labvirt: ${signal}: powering VM ${status.name} down (grace ${graceMs / 1000} s)\n`);
        stopping = supervisor.stop(status.name, { graceMs }).catch((error: unknown) => {
          io.err(`labvirt: error: ${(error as Error).message}\n`);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const exit = await supervisor.waitForExit(status.name);
        await stopping;
        await follower?.stop();
        const how = exit.stopMethod ?? exit.shutdownReason ?? 'process ended';
        io.err(`labvirt: VM ${status.name} ${exit.state} (${how})\n`);
        if (exit.state === 'crashed') process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

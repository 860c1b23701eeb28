// `labvirt cmdline`: the exact QEMU command line for a VM, for anyone who wants to run
// it by hand (the seed's promise). One shell-quoted line on stdout; notes on stderr.
import { dirname } from 'node:path';
import { Command } from 'commander';
import { buildArgv } from '../../qemu/cmdline/build-argv.js';
import { shellJoin } from '../../qemu/cmdline/shell-quote.js';
import { placeVm } from '../../qemu/process/supervisor.js';
import { addVmFlags, type VmFlagValues } from '../vm-flags.js';
import { prepareVm } from '../vm-launch.js';
import type { CliIo } from '../io.js';
import { sourceLocale, translator, type Translator } from '../../i18n/translator.js';

export function cmdlineCommand(io: CliIo, tr: Translator = translator(sourceLocale)): Command {
  return addVmFlags(
    new Command('cmdline').description(
      tr.t('print the QEMU command line of a VM as one shell-quoted line'),
    ),
    tr,
  ).action(async (values: VmFlagValues) => {
    const { request, launch, runDir, warning } = await prepareVm(values);
    if (warning !== undefined) io.warn(warning);
    const paths = runDir.vmPaths(request.name);
    const spec = placeVm(launch, paths, runDir, request.snapshot);
    const before = [shellJoin(['mkdir', '-p', paths.dir, dirname(spec.serialLog)])];
    launch.disks.forEach((disk, index) => {
      if (request.snapshot) {
        before.push(
          shellJoin([
            'qemu-img',
            'create',
            '-f',
            'qcow2',
            '-F',
            disk.format,
            '-b',
            disk.path,
            paths.overlay(index),
          ]),
        );
      }
    });
    io.err(`# ${tr.t('run first: {commands}', { commands: before.join(' && ') })}\n`);
    io.out(`${shellJoin(buildArgv(spec))}\n`);
  });
}

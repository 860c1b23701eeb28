// From command-line flags to a VM ready to launch: parse, check the files, choose the
// accelerator. Shared by `labvirt cmdline` and `labvirt run`.
import { resolve } from 'node:path';
import { chooseAccel, probeKvm } from '../qemu/cmdline/accel.js';
import { parseVmOptions, type VmRequest } from '../qemu/cmdline/vm-options.js';
import { preflight } from '../qemu/preflight.js';
import { RunDir } from '../qemu/process/run-dir.js';
import type { VmLaunch } from '../qemu/process/supervisor.js';
import { defaultRunRoot, localQemuImg } from '../agent/local-host.js';
import { rawVmOptions, type VmFlagValues } from './vm-flags.js';

export interface PreparedVm {
  readonly request: VmRequest;
  readonly launch: VmLaunch;
  readonly runDir: RunDir;
  readonly warning: string | undefined;
}

export async function prepareVm(values: VmFlagValues): Promise<PreparedVm> {
  const request = parseVmOptions(rawVmOptions(values));
  const checked = await preflight(request, {
    qemuImg: localQemuImg(),
    allowedDirs: values.allowDir ?? [],
  });
  const choice = chooseAccel(request.accel, await probeKvm());
  const launch: VmLaunch = {
    name: request.name,
    uuid: request.uuid,
    memoryMiB: request.memoryMiB,
    cpus: request.cpus,
    disks: checked.disks,
    diskBus: request.diskBus,
    cdrom: checked.cdrom,
    boot: request.boot,
    nic: request.nic,
    net: request.net,
    accel: choice.accel,
    vncSocket: checked.vncSocket,
    serialLog: checked.serialLog,
  };
  return {
    request,
    launch,
    runDir: new RunDir(resolve(values.runDir ?? defaultRunRoot())),
    warning: choice.warning,
  };
}

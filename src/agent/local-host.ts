// The real parts behind a supervisor on this machine.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCommandRunner } from '../system/command-runner.js';
import { procProcessTable } from '../system/process-table.js';
import { QemuImg } from '../qemu/image/qemu-img.js';
import { QmpClient } from '../qemu/qmp/qmp-client.js';
import { RunDir } from '../qemu/process/run-dir.js';
import { Supervisor } from '../qemu/process/supervisor.js';

export function defaultRunRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env['LABVIRT_RUN_DIR']) return env['LABVIRT_RUN_DIR'];
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/labvirt';
  if (env['XDG_RUNTIME_DIR']) return join(env['XDG_RUNTIME_DIR'], 'labvirt');
  return join(tmpdir(), `labvirt-${uid}`);
}

export function localQemuImg(): QemuImg {
  return new QemuImg(nodeCommandRunner);
}

export function localSupervisor(runRoot: string): Supervisor {
  return new Supervisor({
    runDir: new RunDir(runRoot),
    runner: nodeCommandRunner,
    processes: procProcessTable,
    images: localQemuImg(),
    connectQmp: (socket) => QmpClient.connect(socket, { connectTimeoutMs: 5_000 }),
  });
}

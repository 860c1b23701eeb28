// The real parts behind a supervisor on this machine.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCommandRunner } from '../system/command-runner.js';
import { procProcessTable } from '../system/process-table.js';
import { QemuImg } from '../qemu/image/qemu-img.js';
import { QmpClient } from '../qemu/qmp/qmp-client.js';
import { RunDir } from '../qemu/process/run-dir.js';
import { Supervisor } from '../qemu/process/supervisor.js';
import type { ImageStore } from '../images/image-store.js';
import { StoreOverlayMaker } from '../images/store-overlays.js';

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

export interface LocalSupervisorOptions {
  /** Where per-VM overlays go (a tmpfs, say); each VM's run directory when not given. */
  readonly overlayRoot?: string | undefined;
  /** VMs boot versions of this store: overlays only over its sealed versions. */
  readonly images?: ImageStore | undefined;
}

export function localSupervisor(runRoot: string, options: LocalSupervisorOptions = {}): Supervisor {
  return new Supervisor({
    runDir: new RunDir(runRoot, { overlayRoot: options.overlayRoot }),
    runner: nodeCommandRunner,
    processes: procProcessTable,
    images:
      options.images === undefined
        ? localQemuImg()
        : new StoreOverlayMaker(options.images, localQemuImg()),
    connectQmp: (socket) => QmpClient.connect(socket, { connectTimeoutMs: 5_000 }),
  });
}

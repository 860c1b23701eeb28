// The event-latency baseline: the boot-sector guest that powers itself off (GuestMode
// .powerOff), on a QEMU this process launches itself with LabVirt's kind of command line
// (buildArgv: same machine, devices, serial file, QMP socket; -S so the QMP client is
// attached before the guest runs), watched by a bare QMP client and the child's exit.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chooseAccel, probeKvm } from '../../src/qemu/cmdline/accel.js';
import { buildArgv } from '../../src/qemu/cmdline/build-argv.js';
import { waitFor } from '../../test/helpers/env.js';

const run = promisify(execFile);

/**
 * T0, the guest's own act: the serial log's mtime. The guest writes its last line
 * ("LABVIRT-GUEST power off") to COM1, a file chardev, one write(2) a byte, and the next
 * instruction it runs is the ACPI S5 write that powers it off; nothing writes the file
 * after. Taken by the kernel, independent of LabVirt (CLOCK_REALTIME, as Date.now()).
 */
export async function powerOffTime(serialLog: string): Promise<number> {
  const { mtimeNs } = await stat(serialLog, { bigint: true });
  return Number(mtimeNs / 1000n) / 1000;
}

export interface BareObservation {
  /** Date.now() when the QMP SHUTDOWN event arrived, minus T0 (ms). */
  readonly eventMs: number;
  /** Date.now() when the child's exit was seen, minus T0 (ms). */
  readonly exitMs: number;
  /** QEMU's own timestamp of the SHUTDOWN event minus T0 (ms): the T0 method's check. */
  readonly stampMs: number;
}

/** One power-off of the guest on `disk` (raw) in a QEMU of our own, under `dir`. */
export async function barePowerOff(dir: string, disk: string): Promise<BareObservation> {
  const round = join(dir, `bare-${randomUUID().slice(0, 8)}`);
  await mkdir(round, { recursive: true });
  const overlay = join(round, 'disk0.overlay.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', disk, overlay]);
  const qmpSocket = join(round, 'qmp.sock');
  const serialLog = join(round, 'serial.log');
  const { accel } = chooseAccel('auto', await probeKvm());
  const argv = buildArgv({
    name: 'bare',
    uuid: randomUUID(),
    memoryMiB: 32,
    cpus: 1,
    disks: [{ path: overlay, format: 'qcow2' }],
    diskBus: 'ide',
    boot: 'disk',
    nic: { model: 'virtio', mac: '52:54:00:be:00:01' },
    net: { mode: 'user', forwards: [] },
    accel,
    qmpSocket,
    vncSocket: join(round, 'vnc.sock'),
    serialLog,
  });
  const child = spawn(argv[0] ?? 'qemu-system-x86_64', [...argv.slice(1), '-S'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exitAt = 0;
  const exited = once(child, 'exit').then(() => (exitAt = Date.now()));
  try {
    // The socket file appears at bind(2), before QEMU listens on it: retry until it answers.
    const socket = await waitFor(
      'the bare QEMU’s QMP socket to answer',
      () =>
        new Promise<Socket | undefined>((resolve) => {
          const attempt = connect(qmpSocket);
          attempt.once('connect', () => resolve(attempt));
          attempt.once('error', () => resolve(undefined));
        }),
      20_000,
      5,
    );
    socket.setEncoding('utf8');
    let buffer = '';
    let eventAt = 0;
    let stamp = 0;
    const shutdown = new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
          let message: {
            QMP?: unknown;
            event?: string;
            timestamp?: { seconds: number; microseconds: number };
          };
          try {
            message = JSON.parse(buffer.slice(0, end)) as typeof message;
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          buffer = buffer.slice(end + 1);
          if (message.QMP !== undefined) {
            socket.write('{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n');
          } else if (message.event === 'SHUTDOWN' && eventAt === 0) {
            eventAt = Date.now();
            const { seconds, microseconds } = message.timestamp ?? { seconds: 0, microseconds: 0 };
            stamp = seconds * 1000 + microseconds / 1000;
            resolve();
          }
        }
      });
    });
    const silent = exited.then(() => {
      if (eventAt === 0) throw new Error('the bare QEMU exited without a SHUTDOWN event');
    });
    // Whichever loses the race must not become an unhandled rejection (the finally kills).
    silent.catch(() => undefined);
    shutdown.catch(() => undefined);
    await Promise.race([shutdown, silent]);
    await exited;
    socket.destroy();
    const t0 = await powerOffTime(serialLog);
    return { eventMs: eventAt - t0, exitMs: exitAt - t0, stampMs: stamp - t0 };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

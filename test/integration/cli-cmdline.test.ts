// `labvirt cmdline` on real files, and the placement it prints checked on a real QEMU.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import { runCli, tempDir } from '../helpers/env.js';
import { guestLaunch, realSupervisor } from '../helpers/supervisor.js';

describe('labvirt cmdline', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const files = (...names: string[]) => names.map((name) => join(dir, name));

  before(async () => {
    ({ path: dir, cleanup } = await tempDir());
    for (const disk of files('a.qcow2', 'b.qcow2', 'c.qcow2')) {
      const made = await nodeCommandRunner.run([
        'qemu-img',
        'create',
        '-q',
        '-f',
        'qcow2',
        disk,
        '64M',
      ]);
      assert.equal(made.code, 0, made.stderr);
    }
    await writeFile(join(dir, 'x.iso'), Buffer.alloc(2048 * 16));
  });
  after(() => cleanup());

  it('places a, b, CD, c at IDE indexes 0, 1, 2, 3 and listens on Unix sockets only', async () => {
    const [a, b, c, iso] = files('a.qcow2', 'b.qcow2', 'c.qcow2', 'x.iso');
    const result = await runCli([
      'cmdline',
      '--disk',
      a!,
      '--disk',
      b!,
      '--disk',
      c!,
      '--cdrom',
      iso!,
      '--name',
      'pc07',
      '--run-dir',
      join(dir, 'run'),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, 'one line');
    const line = lines[0]!;
    const device = (id: string) =>
      new RegExp(`(ide-hd|ide-cd),id=${id},bus=(ide\\.\\d),unit=(\\d)`).exec(line);
    const index = (id: string) => {
      const match = device(id);
      assert.ok(match, `${id} is an IDE device`);
      return Number(match[2]!.slice(4)) * 2 + Number(match[3]);
    };
    assert.deepEqual(['disk0', 'disk1', 'cd0', 'disk2'].map(index), [0, 1, 2, 3]);
    assert.match(line, new RegExp(`"filename":"${c}"[^']*' -device ide-hd,id=disk2`));
    assert.match(line, / -vnc unix:\S+\/vnc\.sock /);
    assert.doesNotMatch(line, /tcp|telnet|websocket|0\.0\.0\.0|-vnc (?!unix:)/);
    assert.match(result.stderr, /^# run first: mkdir -p /);
  });

  it('gives a CD-ROM and three disks those slots on a real QEMU', async () => {
    const { path: runRoot, cleanup: cleanupRun } = await tempDir();
    const supervisor = realSupervisor(runRoot);
    try {
      const launch = await guestLaunch('slots', files('a.qcow2', 'b.qcow2', 'c.qcow2'), {
        cdrom: join(dir, 'x.iso'),
      });
      await supervisor.start(
        { ...launch, disks: launch.disks.map((disk) => ({ ...disk, format: 'qcow2' })) },
        { discardWrites: true },
      );
      const qmp = supervisor.qmp('slots');
      const where = async (id: string) => {
        const bus = await qmp.execute<string>('qom-get', {
          path: `/machine/peripheral/${id}`,
          property: 'parent_bus',
        });
        const unit = await qmp.execute<number>('qom-get', {
          path: `/machine/peripheral/${id}`,
          property: 'unit',
        });
        return `${bus.split('/').pop()}:${unit}`;
      };
      assert.deepEqual(await Promise.all(['disk0', 'disk1', 'cd0', 'disk2'].map(where)), [
        'ide.0:0',
        'ide.0:1',
        'ide.1:0',
        'ide.1:1',
      ]);
      await supervisor.stop('slots', { graceMs: 0 });
    } finally {
      supervisor.detach();
      await cleanupRun();
    }
  });
});

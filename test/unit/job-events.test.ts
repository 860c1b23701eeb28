// The jobs' listener (the live `job` events): told of the start at once, of progress at
// most 4 times a second per job, and of the end at once, with the final view.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { JobRegistry, type JobView } from '../../src/controller/services/jobs.js';
import { LabvirtError } from '../../src/domain/errors.js';

const target = { type: 'profile', id: 'p1', name: 'guest' } as const;

function listen(jobs: JobRegistry): { told: (JobView & { at: number })[]; stop: () => void } {
  const told: (JobView & { at: number })[] = [];
  const stop = jobs.onChange((job) => told.push({ ...job, at: performance.now() }));
  return { told, stop };
}

describe('JobRegistry.onChange', () => {
  it('a burst of progress: the start, at most one progress, and the end', async () => {
    const jobs = new JobRegistry();
    const { told } = listen(jobs);
    const id = jobs.start('import', target, 'ana', async (progress) => {
      for (let percent = 1; percent <= 99; percent++) progress(percent);
      return { version: 2 };
    });
    assert.equal(told.length, 1, 'the start is told at once');
    assert.deepEqual(
      [told[0]!.id, told[0]!.state, told[0]!.progress, told[0]!.target],
      [id, 'running', 0, 'guest'],
    );
    await jobs.settled(id);
    await delay(400); // no progress telling is left behind after the end
    const last = told.at(-1)!;
    assert.deepEqual([last.state, last.progress, last.result], ['succeeded', 100, { version: 2 }]);
    assert.equal(told.filter((job) => job.state !== 'running').length, 1);
    assert.ok(told.length <= 3, `${told.length} tellings`);
  });

  it('steady progress: at most 4 a second, each newer than the last', async () => {
    const jobs = new JobRegistry();
    const { told } = listen(jobs);
    const id = jobs.start('clone', target, null, async (progress) => {
      for (let percent = 1; percent <= 60; percent++) {
        progress(percent);
        await delay(20);
      }
    });
    await jobs.settled(id);
    const running = told.filter((job) => job.state === 'running');
    for (let i = 1; i < running.length; i++) {
      const gap = running[i]!.at - running[i - 1]!.at;
      assert.ok(gap >= 240, `progress told ${gap.toFixed(0)} ms after the previous`);
      assert.ok(running[i]!.progress > running[i - 1]!.progress);
    }
    assert.ok(running.length >= 3, `${running.length} progress tellings in over a second`);
    assert.equal(told.at(-1)!.state, 'succeeded');
  });

  it('a failure is told with its error; a removed listener hears nothing more', async () => {
    const jobs = new JobRegistry();
    const { told, stop } = listen(jobs);
    const failed = jobs.start('flatten', target, null, async () => {
      throw new LabvirtError('PROFILE_NOT_FOUND', { profile: 'guest' });
    });
    await jobs.settled(failed);
    const end = told.at(-1)!;
    assert.equal(end.state, 'failed');
    assert.equal(end.error?.code, 'PROFILE_NOT_FOUND');
    stop();
    const count = told.length;
    await jobs.settled(jobs.start('flatten', target, null, async () => undefined));
    assert.equal(told.length, count);
  });
});

// A terminal's VM keeps its MAC, so its DHCP address, from session to session: real QEMU
// (the test guest) through the terminal endpoint, the MAC read from the QEMU process's own
// command line. SQLite only: the database's part (ended rows may share the MAC) is tested
// on both dialects in db-migrations and api-dhcp.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { TerminalView } from '../../src/controller/services/terminals.js';
import { terminalVmMac } from '../../src/domain/terminal-mac.js';
import type { TerminalConfig } from '../../src/terminal/config.js';
import { dialects } from '../helpers/databases.js';
import { waitFor } from '../helpers/env.js';
import {
  labServes,
  GuestMode,
  guestProfile,
  json,
  liveQemus,
  vmFixture,
  type VmFixture,
} from '../helpers/vm-fixture.js';

describe('a terminal’s VM across sessions (real QEMU)', () => {
  let f: VmFixture;
  before(async () => {
    f = await vmFixture(dialects[0]!, { vmStopGraceMs: 0 });
    const profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    const lab = f.labs.mine.id;
    await labServes(f, lab, profile.id);
  });
  after(() => f?.close());

  /** Asks as the terminal until its VM runs; the VM's name. */
  const served = (mac: string) =>
    waitFor(`terminal ${mac} to be served`, async () => {
      const response = await f.app.inject({
        method: 'GET',
        url: `/terminal/v1/config?mac=${mac}`,
        remoteAddress: '127.0.0.1',
      });
      if (response.statusCode === 202) return undefined;
      return json<TerminalConfig>(response, 200).vm;
    });

  /** The MAC on the command line of the VM's running QEMU process. */
  async function qemuMac(vm: string): Promise<string> {
    const pid = (await liveQemus(f.supervisor.runDir)).get(vm);
    assert.ok(pid, `QEMU of ${vm} runs`);
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const nic = argv.find((arg) => /(^|,)mac=/.test(arg));
    const mac = /(?:^|,)mac=([0-9a-f:]{17})/.exec(nic ?? '')?.[1];
    assert.ok(mac, `a NIC with a MAC in ${argv.join(' ')}`);
    return mac;
  }

  it('has the same MAC and address each session, and the VM its lab pool address', async () => {
    const pool = await f.request({
      method: 'PUT',
      url: '/api/v1/labs/lab-mine/address-pool',
      payload: { pool: '10.70.0.10-10.70.0.19' },
      as: f.users.admin,
    });
    assert.equal(pool.statusCode, 200, pool.body);
    const terminal = json<TerminalView>(
      await f.request({
        method: 'POST',
        url: '/api/v1/terminals',
        payload: { mac: '02:00:00:00:07:01', lab: 'lab-mine' },
        as: f.users.admin,
      }),
      201,
    );
    assert.equal(terminal.address, '10.70.0.10');
    const expected = terminalVmMac(terminal.id);
    assert.equal(terminal.vmMac, expected);

    const names: string[] = [];
    for (let session = 0; session < 2; session++) {
      const vm = await served(terminal.mac);
      names.push(vm);
      assert.equal(await qemuMac(vm), expected, `session ${session + 1}`);
      assert.equal((await f.agent.vm(vm))?.mac, expected);
      const stopped = await f.request({
        method: 'POST',
        url: '/api/v1/labs/lab-mine/stop',
        payload: {},
        as: f.users.admin,
      });
      assert.equal(json<{ stopped: number }>(stopped, 200).stopped, 1);
    }
    assert.notEqual(names[0], names[1], 'two VMs, one after the other');
    const rows = await f.database.db
      .selectFrom('vms')
      .select(['name', 'mac', 'state'])
      .where('name', 'in', names)
      .execute();
    assert.deepEqual(
      rows.map((row) => [row.mac, row.state]),
      [
        [expected, 'stopped'],
        [expected, 'stopped'],
      ],
    );
    const entries = json<{ mac: string; ip: string }[]>(
      await f.request({ method: 'GET', url: '/api/v1/dhcp/hosts', as: f.users.viewer }),
      200,
    );
    assert.deepEqual(
      entries.map(({ mac, ip }) => ({ mac, ip })),
      [{ mac: expected, ip: '10.70.0.10' }],
    );
  });
});

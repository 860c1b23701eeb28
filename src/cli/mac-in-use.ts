// `labvirt run --mac`: a MAC another QEMU on this machine already has is refused before
// anything starts (two NICs with one MAC on a bridge break both). The QEMU processes are
// found in /proc (whoever started them: another `labvirt run`, the server's agent, by hand).
import { readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { LabvirtError } from '../domain/errors.js';
import { procProcessTable, type ProcessTable } from '../system/process-table.js';

/** The VM name (from -name guest=NAME,...) or 'pid N' of a QEMU argv with this MAC. */
export function qemuWithMac(argv: readonly string[], mac: string, pid: number): string | undefined {
  if (!basename(argv[0] ?? '').startsWith('qemu-system')) return undefined;
  const wanted = mac.toLowerCase();
  const has = argv.some((arg) =>
    arg.split(',').some((part) => part.toLowerCase() === `mac=${wanted}`),
  );
  if (!has) return undefined;
  const at = argv.indexOf('-name');
  const name = at < 0 ? undefined : /^(?:guest=)?([^,]+)/.exec(argv[at + 1] ?? '')?.[1];
  return name ?? `pid ${pid}`;
}

/** MAC_IN_USE, naming the VM, when a running QEMU of this machine has a NIC with `mac`. */
export async function assertMacFreeOnHost(
  mac: string,
  processes: ProcessTable = procProcessTable,
  listPids: () => Promise<number[]> = async () =>
    (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number),
): Promise<void> {
  for (const pid of await listPids()) {
    if (pid === process.pid) continue;
    const argv = await processes.liveCmdline(pid);
    const vm = argv === undefined ? undefined : qemuWithMac(argv, mac, pid);
    if (vm !== undefined)
      throw new LabvirtError('MAC_IN_USE', { mac: mac.toLowerCase(), vm }, { field: 'mac' });
  }
}

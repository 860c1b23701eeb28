// What the VM watcher tells the web console: between two lists of active VMs, the VMs that
// appeared or changed in a way the console shows (state, QEMU's run status, the process,
// the terminal served, who is connected), and those that are no longer active (ended).
// Pure, for golden tests; the watcher (vm-watcher.ts) does the listing and publishing.
import type { VmView } from '../services/vms.js';

export interface VmDiff {
  /** New or changed active VMs, in the order of the current list. */
  readonly changed: readonly VmView[];
  /** The last seen views of VMs that are no longer active (the caller fetches their end). */
  readonly gone: readonly VmView[];
}

/**
 * What a view is compared by. Gateway byte counters are left out: they move all the time
 * a terminal is connected, and the console learns them from a reload, not every second.
 */
export function vmSignature(vm: VmView): string {
  return JSON.stringify([
    vm.state,
    vm.runStatus,
    vm.pid,
    vm.terminal,
    vm.connections.map((c) => [c.peer, c.via, c.since]),
  ]);
}

export function diffVms(previous: ReadonlyMap<string, VmView>, current: readonly VmView[]): VmDiff {
  const changed: VmView[] = [];
  const seen = new Set<string>();
  for (const vm of current) {
    seen.add(vm.id);
    const before = previous.get(vm.id);
    if (before === undefined || vmSignature(before) !== vmSignature(vm)) changed.push(vm);
  }
  const gone = [...previous.values()].filter((vm) => !seen.has(vm.id));
  return { changed, gone };
}

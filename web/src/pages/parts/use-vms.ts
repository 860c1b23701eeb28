// VMs loaded over REST, then kept current by `vm` events: a VM started anywhere appears,
// and state or connection changes show without a reload.
import { useMemo, useState } from 'react';
import { useLiveEvent, useResource } from '../../live';
import type { Vm } from '../../types';

/** The listed VMs with newer event views laid over them, new ones first; pure, for tests. */
export function mergeVms(listed: readonly Vm[], live: ReadonlyMap<string, Vm>): Vm[] {
  const known = new Set(listed.map((vm) => vm.id));
  const fresh = [...live.values()].filter((vm) => !known.has(vm.id));
  const updated = listed.map((vm) => {
    const event = live.get(vm.id);
    // A reload newer than the event wins (updatedAt is ISO, so it sorts as text).
    return event !== undefined && event.updatedAt >= vm.updatedAt ? event : vm;
  });
  return [...fresh.sort((a, b) => b.createdAt.localeCompare(a.createdAt)), ...updated];
}

export function useVms(path = '/vms') {
  const resource = useResource<Vm[]>(path, ['vms', 'profiles']);
  const [live, setLive] = useState<ReadonlyMap<string, Vm>>(new Map());
  useLiveEvent('vm', (vm: Vm) => setLive((current) => new Map(current).set(vm.id, vm)));
  const vms = useMemo(
    () => (resource.data === undefined ? undefined : mergeVms(resource.data, live)),
    [resource.data, live],
  );
  return { ...resource, vms };
}

/** One VM (by id or name; null: none), kept current by its `vm` events. */
export function useVm(id: string | null) {
  const resource = useResource<Vm>(id === null ? null : `/vms/${encodeURIComponent(id)}`, ['vms']);
  const [event, setEvent] = useState<Vm | undefined>(undefined);
  useLiveEvent('vm', (vm: Vm) => {
    if (id !== null && (vm.id === id || vm.name === id)) setEvent(vm);
  });
  const data = resource.data;
  const vm =
    data === undefined
      ? event
      : event !== undefined && event.id === data.id && event.updatedAt >= data.updatedAt
        ? event
        : data;
  return { ...resource, vm };
}

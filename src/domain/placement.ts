// Which host a new VM goes to (pure): every host that can take it (online, not drained,
// allowed by the profile's affinity, with memory, vCPUs under its overcommit ratio, disk
// and, for admin VMs, the controller's image store), then by the lab's policy: spread
// fills the emptiest host (least memory share after placing), pack the fullest. Ties go
// to a host that already has the image (no copy before the start), then to the one with
// fewer VMs, then by name, so the same inputs always give the same host.

export type PlacementPolicy = 'spread' | 'pack';

export interface PlacementHost {
  readonly id: string;
  readonly name: string;
  readonly online: boolean;
  readonly maintenance: boolean;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** vCPUs of VMs allowed per CPU of the host. */
  readonly cpuRatio: number;
  /** Free disk of the host's data (its latest sample); null when unknown (not checked). */
  readonly diskFreeMiB: number | null;
  /** Its image store is the controller's (admin VMs write their draft there). */
  readonly sharedStore: boolean;
  /** The profile may run here (profile–host affinity; no affinity: every host). */
  readonly allowed: boolean;
  /** Its store holds the version already. */
  readonly hasImage: boolean;
  /** What the active VMs placed here take. */
  readonly committed: {
    readonly memoryMiB: number;
    readonly vcpus: number;
    readonly vms: number;
  };
}

export interface PlacementRequest {
  readonly memoryMiB: number;
  readonly cpus: number;
  /** Disk the VM needs on the host (its data disks). */
  readonly diskMiB: number;
  readonly policy: PlacementPolicy;
  /** An admin VM: only hosts sharing the controller's image store. */
  readonly needsSharedStore?: boolean | undefined;
}

export type PlacementRefusal =
  | 'offline'
  | 'maintenance'
  | 'not-allowed'
  | 'no-shared-store'
  | 'no-memory'
  | 'no-cpu'
  | 'no-disk';

export type Placement =
  | { readonly ok: true; readonly host: PlacementHost }
  | {
      readonly ok: false;
      readonly reasons: readonly { readonly host: string; readonly reason: PlacementRefusal }[];
    };

/** Why the host cannot take the VM, or undefined when it can (the first reason found). */
export function refusal(
  host: PlacementHost,
  request: PlacementRequest,
): PlacementRefusal | undefined {
  if (!host.online) return 'offline';
  if (host.maintenance) return 'maintenance';
  if (!host.allowed) return 'not-allowed';
  if (request.needsSharedStore === true && !host.sharedStore) return 'no-shared-store';
  if (host.committed.memoryMiB + request.memoryMiB > host.memoryMiB) return 'no-memory';
  if (host.committed.vcpus + request.cpus > host.cpus * host.cpuRatio) return 'no-cpu';
  if (host.diskFreeMiB !== null && request.diskMiB > host.diskFreeMiB) return 'no-disk';
  return undefined;
}

/** The host's memory share once the VM is placed there (0–1). */
function shareAfter(host: PlacementHost, request: PlacementRequest): number {
  return (host.committed.memoryMiB + request.memoryMiB) / Math.max(1, host.memoryMiB);
}

export function place(hosts: readonly PlacementHost[], request: PlacementRequest): Placement {
  const reasons: { host: string; reason: PlacementRefusal }[] = [];
  const fit: PlacementHost[] = [];
  for (const host of hosts) {
    const reason = refusal(host, request);
    if (reason === undefined) fit.push(host);
    else reasons.push({ host: host.name, reason });
  }
  if (fit.length === 0) {
    return { ok: false, reasons: reasons.sort((a, b) => compareText(a.host, b.host)) };
  }
  const sign = request.policy === 'pack' ? -1 : 1;
  const best = [...fit].sort(
    (a, b) =>
      sign * (shareAfter(a, request) - shareAfter(b, request)) ||
      Number(b.hasImage) - Number(a.hasImage) ||
      a.committed.vms - b.committed.vms ||
      compareText(a.name, b.name),
  )[0];
  if (best === undefined) throw new Error('unreachable: a host fits');
  return { ok: true, host: best };
}

/** The refusals as one line, e.g. "h1: no-cpu, h2: maintenance" (NO_HOST_AVAILABLE). */
export function formatRefusals(
  reasons: readonly { readonly host: string; readonly reason: PlacementRefusal }[],
): string {
  return reasons.length === 0
    ? 'no host is enrolled'
    : reasons.map((r) => `${r.host}: ${r.reason}`).join(', ');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

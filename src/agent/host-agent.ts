// What the controller asks of a host. The in-process agent (LocalAgent) and, later, remote
// agents over HTTP implement the same interface, so the controller cannot tell them apart.
import type { VmStatus } from '../qemu/process/supervisor.js';

export interface HostReport {
  readonly name: string;
  /** 'local' for the in-process agent, the agent's URL for a remote one. */
  readonly address: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly qemu: {
    readonly available: boolean;
    readonly version?: string;
    readonly problem?: string;
  };
  readonly kvm: { readonly usable: boolean; readonly reason?: string };
}

export interface HostAgent {
  report(): Promise<HostReport>;
  listVms(): Promise<VmStatus[]>;
  /** Stop watching (VMs keep running and are re-adopted on the next start). */
  close(): Promise<void>;
}

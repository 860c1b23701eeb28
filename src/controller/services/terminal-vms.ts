// The VMs that serve terminals: one per enrolled terminal (invariant 4), started on its
// first config request or before a class (`lab start`), ended by `lab stop`, by the idle
// policy, or when the lab's timetable moves on while nobody is connected.
import type { Actor } from './audit.js';
import type { VmService } from './vms.js';

export interface LabStartResult {
  /** Terminals whose VM was started now. */
  readonly started: number;
  /** Terminals that already had one. */
  readonly running: number;
  /** Terminals skipped (disabled), or whose VM could not start: name and reason. */
  readonly failed: readonly { readonly terminal: string; readonly reason: string }[];
}

export interface LabStopResult {
  readonly stopped: number;
}

export class TerminalVmService {
  readonly #vms: VmService;

  constructor(vms: VmService) {
    this.#vms = vms;
  }

  get vms(): VmService {
    return this.#vms;
  }

  /** Pre-starts a VM for every enrolled, enabled terminal of the lab that has none. */
  async startLab(_labRef: string, _actor: Actor): Promise<LabStartResult> {
    throw new Error('not implemented yet');
  }

  /** Ends the VMs of the lab's terminals (their writes are discarded). */
  async stopLab(_labRef: string, _actor: Actor): Promise<LabStopResult> {
    throw new Error('not implemented yet');
  }
}

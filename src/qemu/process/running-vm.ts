// One VM the supervisor watches: its QMP connection for events, and /proc for whether
// the process still exists. QEMU daemonizes, so nobody gets its exit status; the end
// is seen when the QMP socket closes or, at the latest, at the next poll.
import { nextVmState, type VmState } from '../../domain/vm-lifecycle.js';
import { sameArgv, type ProcessTable } from '../../system/process-table.js';
import type { QmpConnection } from './qmp-connection.js';
import type { VmRecord } from './run-dir.js';

const CLOSING_POLL_MS = 25;

export interface VmExit {
  readonly name: string;
  readonly state: 'stopped' | 'crashed';
  /** QEMU's SHUTDOWN reason (guest-shutdown, host-qmp-quit...) when it gave one. */
  readonly shutdownReason: string | undefined;
  /** How a requested stop got there, if one was requested. */
  readonly stopMethod: 'powerdown' | 'quit' | 'kill' | undefined;
}

export class RunningVm {
  readonly name: string;
  readonly record: VmRecord;
  readonly pid: number;
  readonly qmp: QmpConnection;
  readonly exited: Promise<VmExit>;
  stopMethod: VmExit['stopMethod'];
  #state: VmState;
  #shutdownReason: string | undefined;
  #processes: ProcessTable;
  #timer: NodeJS.Timeout;
  #checking = false;
  #recheck = false;
  #detached = false;
  #resolveExit!: (exit: VmExit) => void;
  #onExit: (vm: RunningVm, exit: VmExit) => Promise<void>;

  constructor(options: {
    name: string;
    record: VmRecord;
    pid: number;
    qmp: QmpConnection;
    processes: ProcessTable;
    pollMs: number;
    /** Cleans up after the VM; the exited promise resolves once it has. */
    onExit: (vm: RunningVm, exit: VmExit) => Promise<void>;
  }) {
    this.name = options.name;
    this.record = options.record;
    this.pid = options.pid;
    this.qmp = options.qmp;
    this.#processes = options.processes;
    this.#onExit = options.onExit;
    this.#state = nextVmState('starting', { type: 'ready' });
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
    this.qmp.on('event', (message) => {
      if (message.event === 'SHUTDOWN') {
        const reason = message.data?.['reason'];
        this.#shutdownReason = typeof reason === 'string' ? reason : 'unknown';
      }
    });
    // The timer keeps a watching process alive, as it should; detach() lets go.
    this.#timer = setInterval(() => void this.check(), options.pollMs);
    this.qmp.on('close', () => {
      // QEMU closes QMP as it exits: look often until the process is gone. Not once it is
      // known gone (check() closes QMP itself when a poll finds the process first): that
      // timer would never be cleared and would keep the watching process alive for good.
      clearInterval(this.#timer);
      if (this.#detached || !this.#watching) return;
      this.#timer = setInterval(() => void this.check(), CLOSING_POLL_MS);
      void this.check();
    });
  }

  get state(): VmState {
    return this.#state;
  }

  markStopping(): void {
    this.#state = nextVmState(this.#state, { type: 'stop' });
  }

  async isAlive(): Promise<boolean> {
    const cmdline = await this.#processes.liveCmdline(this.pid);
    return cmdline !== undefined && sameArgv(cmdline, this.record.argv);
  }

  /** Whether the process may still be there: running, or asked to stop. */
  get #watching(): boolean {
    return this.#state === 'running' || this.#state === 'stopping';
  }

  /** Look once whether the process is still there; finish the VM if not. */
  async check(): Promise<void> {
    if (this.#detached || !this.#watching) {
      clearInterval(this.#timer);
      return;
    }
    if (this.#checking) {
      // The socket may close while a poll is reading /proc: look again right after it.
      this.#recheck = true;
      return;
    }
    this.#checking = true;
    try {
      if (await this.isAlive()) return;
      this.#state = nextVmState(this.#state, {
        type: 'exit',
        clean: this.#shutdownReason !== undefined,
      });
      clearInterval(this.#timer);
      if (!this.qmp.closed) this.qmp.close();
      const exit: VmExit = {
        name: this.name,
        state: this.#state === 'crashed' ? 'crashed' : 'stopped',
        shutdownReason: this.#shutdownReason,
        stopMethod: this.stopMethod,
      };
      await this.#onExit(this, exit);
      this.#resolveExit(exit);
    } finally {
      this.#checking = false;
      if (this.#recheck) {
        this.#recheck = false;
        void this.check();
      }
    }
  }

  /** Stop watching without touching the VM (the supervisor is going away). */
  detach(): void {
    this.#detached = true;
    clearInterval(this.#timer);
    if (!this.qmp.closed) this.qmp.close();
  }
}

// POST /vms is idempotent by name: a controller that lost its answer (a timeout, its own
// restart) asks again, and must get the VM it asked for, never a second one. A start of a
// name already under way awaits that one; a name running with the same uuid is answered
// with the running VM; another uuid is VM_ALREADY_RUNNING.
import { LabvirtError } from '../../domain/errors.js';
import type { AgentVm, AgentVmSpec, HostAgent } from '../host-agent.js';

interface InFlight {
  readonly uuid: string;
  readonly started: Promise<AgentVm>;
}

export class IdempotentStarts {
  #agent: Pick<HostAgent, 'vm' | 'startVm'>;
  #inFlight = new Map<string, InFlight>();

  constructor(agent: Pick<HostAgent, 'vm' | 'startVm'>) {
    this.#agent = agent;
  }

  start(spec: AgentVmSpec): Promise<AgentVm> {
    const uuid = String(spec.uuid).toLowerCase();
    const pending = this.#inFlight.get(spec.name);
    if (pending !== undefined) {
      if (pending.uuid !== uuid) {
        return Promise.reject(new LabvirtError('VM_ALREADY_RUNNING', { name: spec.name }));
      }
      return pending.started;
    }
    // Registered before the first await: a second request arriving meanwhile joins it.
    const started = this.#startOrFind(spec, uuid);
    this.#inFlight.set(spec.name, { uuid, started });
    const forget = () => {
      if (this.#inFlight.get(spec.name)?.started === started) this.#inFlight.delete(spec.name);
    };
    started.then(forget, forget);
    return started;
  }

  async #startOrFind(spec: AgentVmSpec, uuid: string): Promise<AgentVm> {
    const running = await this.#agent.vm(spec.name);
    if (running !== undefined) {
      if (running.uuid.toLowerCase() === uuid) return running;
      throw new LabvirtError('VM_ALREADY_RUNNING', { name: spec.name });
    }
    return this.#agent.startVm(spec);
  }
}

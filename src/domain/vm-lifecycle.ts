// The life of one VM process as the supervisor sees it. Explicit, so every component
// (supervisor, agent, controller) agrees on what can follow what.
//
//   starting --ready--> running --stop--> stopping --exit--> stopped
//       |                  |                            (any exit while stopping)
//   start-failed         exit(clean)  --> stopped   (the guest powered itself off)
//       v                exit(unclean) --> crashed  (QEMU vanished without a shutdown)
//     failed

export const vmStates = [
  'starting',
  'running',
  'stopping',
  'stopped',
  'crashed',
  'failed',
] as const;
export type VmState = (typeof vmStates)[number];

export type VmEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'start-failed' }
  | { readonly type: 'stop' }
  /** clean: QEMU reported a SHUTDOWN (guest power-off, quit) before the process ended. */
  | { readonly type: 'exit'; readonly clean: boolean };

export class IllegalTransitionError extends Error {
  constructor(state: VmState, event: VmEvent['type']) {
    super(`a VM that is ${state} cannot take "${event}"`);
    this.name = 'IllegalTransitionError';
  }
}

export function isFinal(state: VmState): boolean {
  return state === 'stopped' || state === 'crashed' || state === 'failed';
}

export function nextVmState(state: VmState, event: VmEvent): VmState {
  switch (state) {
    case 'starting':
      if (event.type === 'ready') return 'running';
      if (event.type === 'start-failed') return 'failed';
      if (event.type === 'exit') return 'failed';
      break;
    case 'running':
      if (event.type === 'stop') return 'stopping';
      if (event.type === 'exit') return event.clean ? 'stopped' : 'crashed';
      break;
    case 'stopping':
      if (event.type === 'exit') return 'stopped';
      if (event.type === 'stop') return 'stopping';
      break;
    default:
      break;
  }
  throw new IllegalTransitionError(state, event.type);
}

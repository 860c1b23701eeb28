// The description of one VM that the command-line builder turns into QEMU's argv.
// Everything here is already validated and resolved (absolute paths, known formats,
// a concrete accelerator): the builder itself makes no decisions that can fail on input.

export const nicModels = ['virtio', 'rtl8139', 'e1000'] as const;
export type NicModel = (typeof nicModels)[number];

export const diskBuses = ['ide', 'virtio'] as const;
export type DiskBus = (typeof diskBuses)[number];

export const bootDevices = ['disk', 'cdrom'] as const;
export type BootDevice = (typeof bootDevices)[number];

export type Accel = 'kvm' | 'tcg';
export type AccelRequest = Accel | 'auto';

/** A host port forwarded to a guest port; always bound to 127.0.0.1. */
export interface PortForward {
  readonly hostPort: number;
  readonly guestPort: number;
}

export type NetSpec =
  | { readonly mode: 'user'; readonly forwards: readonly PortForward[] }
  | { readonly mode: 'bridge'; readonly bridge: string }
  | { readonly mode: 'tap'; readonly ifname: string }
  | { readonly mode: 'none' };

export interface DiskSpec {
  /** Absolute path of the image QEMU opens (a per-VM overlay when writes are discarded). */
  readonly path: string;
  /** Always explicit: QEMU never probes a format. */
  readonly format: string;
}

/**
 * The display terminals use, besides the console's VNC socket (always there). 'vnc' is that
 * same socket; 'spice' adds a SPICE server on a Unix socket of its own. Ticketed: no client
 * gets in before a password is set over QMP (set_password); the agent's gateway is what
 * puts either on TCP.
 */
export type DisplaySpec =
  | {
      readonly protocol: 'vnc';
      readonly ticketed: boolean;
      /**
       * A ticketed display's terminals hold the VNC socket's one-time passwords; the web
       * console gets a second, password-less VNC server on this socket, which only the
       * host's own processes reach (never the gateway), so it never takes a terminal's
       * ticket and never hands a password out.
       */
      readonly consoleSocket?: string | undefined;
    }
  | { readonly protocol: 'spice'; readonly ticketed: boolean; readonly socket: string };

export interface VmSpec {
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly disks: readonly DiskSpec[];
  readonly diskBus: DiskBus;
  /** Absolute path of an ISO image, attached read-only. */
  readonly cdrom?: string | undefined;
  readonly boot: BootDevice;
  readonly nic: { readonly model: NicModel; readonly mac: string };
  readonly net: NetSpec;
  readonly accel: Accel;
  readonly qmpSocket: string;
  readonly vncSocket: string;
  readonly serialLog: string;
  /** Without it: the console's VNC socket only, no password. */
  readonly display?: DisplaySpec | undefined;
}

// What a terminal is told at boot: where its VM's display is, and how to show it. Only
// this terminal's settings, never a user's credentials; the ticket is a one-time password
// for a VNC or SPICE display, valid for a short while.
import type { DisplayProtocol } from '../agent/host-agent.js';

export interface ScreenOptions {
  /** Full screen (the usual for a lab); else a window of width x height. */
  readonly fullscreen: boolean;
  readonly width: number | null;
  readonly height: number | null;
}

export interface TerminalConfig {
  readonly terminal: { readonly name: string; readonly mac: string };
  readonly lab: string;
  readonly profile: string;
  /** The VM serving this terminal (its name). */
  readonly vm: string;
  readonly protocol: DisplayProtocol;
  /** Where the client connects: a host name or address, and a TCP port. */
  readonly host: string;
  readonly port: number;
  /** One-time password (vnc, spice); null for rdp, whose guest asks the user itself. */
  readonly ticket: string | null;
  readonly ticketExpiresAt: string | null;
  readonly screen: ScreenOptions;
}

/** The clients a terminal may ask for arguments for (format=args). */
export const terminalClients = ['xfreerdp', 'rdesktop', 'remote-viewer', 'vncviewer'] as const;
export type TerminalClient = (typeof terminalClients)[number];

export const configFormats = ['json', 'env', 'rdp', 'vv', 'args'] as const;
export type ConfigFormat = (typeof configFormats)[number];

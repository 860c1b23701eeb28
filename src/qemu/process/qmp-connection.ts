// The part of a QMP client the supervisor depends on, so it can be driven by the real
// client (src/qemu/qmp) in production and tests alike.

export interface QmpEventMessage {
  readonly event: string;
  readonly data?: Readonly<Record<string, unknown>> | undefined;
  /** When QEMU emitted it (host clock). */
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number } | undefined;
}

export interface QmpConnection {
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options?: { timeoutMs?: number },
  ): Promise<T>;
  on(event: 'event', listener: (message: QmpEventMessage) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'event', listener: (message: QmpEventMessage) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  close(): void;
  readonly closed: boolean;
}

export type QmpConnector = (socketPath: string) => Promise<QmpConnection>;

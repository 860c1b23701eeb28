// The console's WebSocket joined to the VM's VNC display: binary frames carry the raw RFB
// stream both ways, the client's half through the filter (rfb-view-only.ts). Each side
// waits for the slower one (the display is paused while the browser's socket has much
// unsent; the browser's socket while the display's is full), and when either ends, so
// does the other.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { RfbClientFilter } from './rfb-view-only.js';

/** Unsent bytes on the WebSocket past which the display is paused, and below which resumed. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/** WebSocket close codes (RFC 6455 §7.4.1). */
const NORMAL = 1000;
const POLICY = 1008;
const SERVER_ERROR = 1011;

export interface BridgeEvents {
  /** Why it ended, when not simply closed by either side. */
  readonly onProblem?: (message: string, error?: unknown) => void;
  /** The display is open and joined. */
  readonly onOpen?: () => void;
}

/**
 * Joins the (open) WebSocket to the display `open` connects to. Call it as soon as the
 * socket is there: what the client sends while the display opens is kept for it.
 */
export function bridgeConsole(
  ws: WebSocket,
  open: () => Promise<Duplex>,
  filter: RfbClientFilter,
  events: BridgeEvents = {},
): void {
  let display: Duplex | undefined;
  /** Filtered client bytes that came before the display was open. */
  const early: Buffer[] = [];
  let ended = false;
  let draining = false;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    display?.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };
  const toDisplay = (bytes: Buffer) => {
    if (display === undefined) {
      early.push(bytes);
      return;
    }
    if (!display.write(bytes) && !draining) {
      draining = true;
      ws.pause();
      display.once('drain', () => {
        draining = false;
        ws.resume();
      });
    }
  };

  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (ended) return;
    if (!isBinary) {
      end(POLICY, 'binary frames only');
      return;
    }
    const chunk = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    const { forward, refused } = filter.push(chunk);
    if (forward.length > 0) toDisplay(forward);
    if (refused !== undefined) {
      events.onProblem?.(`console stream refused: ${refused}`);
      end(POLICY, 'unexpected RFB message');
    }
  });
  ws.on('close', () => end(NORMAL, ''));
  ws.on('error', (error) => {
    events.onProblem?.('the console WebSocket failed', error);
    end(SERVER_ERROR, '');
  });

  open().then(
    (opened) => {
      if (ended) {
        opened.destroy();
        return;
      }
      display = opened;
      join(ws, opened, end, events);
      for (const bytes of early.splice(0)) toDisplay(bytes);
      events.onOpen?.();
    },
    (error: unknown) => {
      events.onProblem?.('the VM display could not be opened', error);
      end(SERVER_ERROR, 'display unavailable');
    },
  );
}

function join(
  ws: WebSocket,
  display: Duplex,
  end: (code: number, reason: string) => void,
  events: BridgeEvents,
): void {
  display.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, () => {
      if (display.isPaused() && ws.bufferedAmount < LOW_WATER) display.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) display.pause();
  });
  display.on('end', () => end(NORMAL, 'display closed'));
  display.on('close', () => end(NORMAL, 'display closed'));
  display.on('error', (error) => {
    events.onProblem?.('the VM display connection failed', error);
    end(SERVER_ERROR, 'display error');
  });
}

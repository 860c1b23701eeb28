// GET /vms/:name/display: a WebSocket carrying the VM's VNC display (HostAgent.openDisplay)
// as binary frames both ways, for a controller's console bridge. A VM that does not run is
// refused before the upgrade, as an ordinary problem answer. Each side waits for the
// slower one, and when either ends so does the other.
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { LabvirtError } from '../../domain/errors.js';
import type { HostAgent } from '../host-agent.js';

const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export function displayRoute(app: FastifyInstance, agent: HostAgent): void {
  app.get(
    '/vms/:name/display',
    {
      websocket: true,
      preHandler: async (request) => {
        const { name } = request.params as { name: string };
        if ((await agent.vm(name)) === undefined) throw new LabvirtError('VM_NOT_FOUND', { name });
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      const { name } = request.params as { name: string };
      pipeDisplay(
        socket,
        () => agent.openDisplay(name),
        (message, error) => request.log.info({ err: error, vm: name }, message),
      );
    },
  );
}

export function pipeDisplay(
  ws: WebSocket,
  open: () => Promise<Duplex>,
  problem: (message: string, error?: unknown) => void,
): void {
  let display: Duplex | undefined;
  const early: Buffer[] = [];
  let ended = false;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    display?.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };
  const toDisplay = (bytes: Buffer) => {
    if (display === undefined) early.push(bytes);
    else if (!display.write(bytes)) {
      ws.pause();
      display.once('drain', () => ws.resume());
    }
  };
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (ended) return;
    toDisplay(
      Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data),
    );
  });
  ws.on('close', () => end(1000, ''));
  ws.on('error', (error) => {
    problem('the display WebSocket failed', error);
    end(1011, '');
  });
  open().then(
    (opened) => {
      if (ended) {
        opened.destroy();
        return;
      }
      display = opened;
      opened.on('data', (chunk: Buffer) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(chunk, { binary: true }, () => {
          if (opened.isPaused() && ws.bufferedAmount < LOW_WATER) opened.resume();
        });
        if (ws.bufferedAmount > HIGH_WATER) opened.pause();
      });
      opened.on('end', () => end(1000, 'display closed'));
      opened.on('close', () => end(1000, 'display closed'));
      opened.on('error', (error) => {
        problem('the VM display connection failed', error);
        end(1011, 'display error');
      });
      for (const bytes of early.splice(0)) toDisplay(bytes);
    },
    (error: unknown) => {
      problem('the VM display could not be opened', error);
      end(1011, 'display unavailable');
    },
  );
}

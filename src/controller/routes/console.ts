// The in-browser VM console: tickets and the WebSocket bridged to the VM's VNC display.
// Stub: filled in by the console work.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function consoleRoutes(_app: FastifyInstance, _ctx: RouteContext): void {}

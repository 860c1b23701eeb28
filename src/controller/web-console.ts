// The web console's built files (dist/web) served at /, with the single-page app's
// index.html for its own paths. Stub.
import type { FastifyInstance } from 'fastify';

export async function webConsole(_app: FastifyInstance): Promise<void> {}

// The idle-cost baseline: a bare Node process with a bare Fastify server listening on
// loopback and nothing else, the least any Node service costs. Run as a process of its
// own (node dist/bench/lib/bare-node-server.js); it prints its URL and idles.
import Fastify from 'fastify';

const app = Fastify();
app.get('/', async () => ({ ok: true }));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(url);
// Gone with its parent, even one killed before its clean-up: the parent holds our stdin.
process.stdin.on('close', () => process.exit(0)).resume();

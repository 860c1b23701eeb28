// The gateway daemon of one run directory: `node gateway-daemon.js RUNDIR`, spawned detached
// by the agent (gateway-client.ts). One process per host holds every VM's gateway listener
// and relayed connection, so a terminal's session survives the agent's restart. It writes
// its pidfile once its control socket (0600) listens, and ends, closing everything, on
// SIGTERM or once nothing has needed it for a while. Never imported: run as a program.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { GatewayServer } from './gateway-server.js';
import { gatewayDaemonPaths } from './gateway-protocol.js';

/** With no listener and no agent connected this long, the daemon ends. */
const IDLE_EXIT_MS = 60_000;
/** How often it checks that its control socket is still its own. */
const SOCKET_CHECK_MS = 5_000;

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} gateway[${process.pid}] ${line}\n`);
}

/** Whether a daemon already answers on the socket (then it serves this run directory). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function main(runDir: string): Promise<void> {
  const paths = gatewayDaemonPaths(runDir);
  if (await answers(paths.socket)) {
    log('another gateway daemon serves this run directory');
    return;
  }
  await rm(paths.socket, { force: true }); // a dead daemon's
  process.umask(0o077); // the control socket: the agent's user only
  const running: { server?: GatewayServer } = {};
  let ending = false;
  const end = async (why: string) => {
    if (ending) return;
    ending = true;
    log(`ending: ${why}`);
    await running.server?.close();
    // Another daemon may have taken over since: leave its files alone.
    const pid = await readFile(paths.pidfile, 'utf8').catch(() => '');
    if (Number.parseInt(pid, 10) === process.pid) {
      await rm(paths.pidfile, { force: true });
      await rm(paths.socket, { force: true });
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void end('SIGTERM'));
  process.on('SIGINT', () => void end('SIGINT'));
  // A fault in one relay must not end every terminal's session.
  process.on('uncaughtException', (error) => log(`uncaught: ${error.stack ?? String(error)}`));
  running.server = await GatewayServer.listen(paths.socket, {
    onIdle: () => void end('idle'),
    idleMs: IDLE_EXIT_MS,
    log,
  });
  await writeFile(paths.pidfile, `${process.pid}\n`, { mode: 0o600 });
  log(`listening on ${paths.socket}`);
  // No agent can reach a daemon whose socket is gone (its run directory removed, say):
  // then it has nothing left to do.
  const { ino } = await stat(paths.socket);
  setInterval(() => {
    stat(paths.socket).then(
      (now) => (now.ino === ino ? undefined : end('control socket replaced')),
      () => end('control socket gone'),
    );
  }, SOCKET_CHECK_MS).unref();
}

const runDir = process.argv[2];
if (runDir === undefined || !runDir.startsWith('/')) {
  log('usage: gateway-daemon.js RUNDIR (an absolute path)');
  process.exitCode = 2;
} else {
  main(runDir).catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
}

// `labvirt server --demo`: builds (or finds) the Linux guest before the server starts, sets
// the demo up once the app is ready (before it listens), and prints the sign-in link once
// the real address is known. Progress goes to stderr, the link to stdout.
import { join, resolve } from 'node:path';
import { LabvirtError } from '../../domain/errors.js';
import type { PreparedServer } from '../../controller/server.js';
import type { SignInLinks } from '../../controller/auth/sign-in-links.js';
import type { CliContext } from '../context.js';

export interface DemoStart {
  /** The startServer options the demo needs. */
  readonly options: {
    readonly accel: 'tcg' | undefined;
    readonly signInLinks: SignInLinks;
    readonly prepare: (server: PreparedServer) => Promise<void>;
  };
  /** Prints the link to open, on the server's real URL. */
  announce(url: string): void;
}

/** The guest image first (a failure here has written nothing), then the server's hooks. */
export async function startDemo(
  ctx: CliContext,
  flags: { readonly data: string; readonly importDir?: readonly string[] | undefined },
): Promise<DemoStart> {
  const { tr, io } = ctx;
  const say = (line: string) => io.err(`labvirt demo: ${line}\n`);
  const { buildLinuxGuest, kvmIsPvm } = await import('../../guest/linux-guest.js');
  const { SignInLinks } = await import('../../controller/auth/sign-in-links.js');
  const { setUpDemo } = await import('../../controller/demo/demo-setup.js');

  say(tr.t('building the demo guest (Debian’s kernel and busybox, by apt-get download)'));
  let image: string;
  try {
    image = await buildLinuxGuest({ log: (line) => say(line) });
  } catch (error) {
    throw new LabvirtError(
      'DEMO_FAILED',
      { reason: error instanceof Error ? error.message : String(error) },
      { cause: error },
    );
  }
  say(tr.t('demo guest image: {path}', { path: image }));
  // The guest's kernel does not boot under a PVM KVM (see kvmIsPvm): the demo's VMs use TCG.
  const pvm = kvmIsPvm();
  if (pvm) say(tr.t('this host’s KVM is PVM, which cannot boot the demo guest: VMs run under TCG'));

  const links = new SignInLinks();
  let token: string | undefined;
  const importDir = resolve(flags.importDir?.[0] ?? join(flags.data, 'import'));
  return {
    options: {
      accel: pvm ? 'tcg' : undefined,
      signInLinks: links,
      prepare: async (server) => {
        const result = await setUpDemo({
          app: server.app,
          db: server.database.db,
          image,
          importDir,
          links,
          tr,
          say,
        });
        token = result.link.token;
      },
    },
    announce: (url) => {
      if (token === undefined) return;
      const link = `${url}/sign-in?token=${encodeURIComponent(token)}`;
      io.out(`${tr.t('LabVirt demo: open {url}', { url: link })}\n`);
    },
  };
}

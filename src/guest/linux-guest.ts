// The project's small Linux guest: Debian's kernel and static busybox in an initramfs, on a
// FAT disk booted by syslinux. It takes its address by DHCP on eth0, prints
// `labvirt-guest: ip=<addr> mac=<mac>` on the serial console at every lease (bound or
// renewed), echoes whatever it receives on TCP ports 3389 and 5900 (any number of
// connections at once, each kept open until the client closes it) and powers off when
// ACPI's power button is pressed. Its screen (VGA text) shows a banner and its address, so
// a console shows something; the serial port stays the kernel's console (the last
// console= wins /dev/console). Tests that need a real network stack boot it (bridges,
// DHCP, conntrack; test/helpers/linux-guest.ts is their entry point), and
// `labvirt server --demo` makes its demo profile from it.
//
// Built from Debian packages only (`apt-get download`, no other network access) and cached
// in $LABVIRT_TEST_GUEST_CACHE or ~/.cache/labvirt/linux-guest: the packages under debs/,
// the image as linux-guest-<builder hash>-<package versions>.raw. The builder hash is that
// of this file, so a changed init script rebuilds; an image with the current builder hash
// is reused as is, without asking apt (delete the directory to pick up newer packages).
// Images are written to a temporary file and renamed, so concurrent builders never see a
// half-written one. `node dist/scripts/linux-guest.js` builds (or finds) it and prints its path.
import { existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import {
  link,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { nodeCommandRunner, type CommandRunner } from '../system/command-runner.js';

export interface LinuxGuestOptions {
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  /** Runs the build's programs; a test may count the calls. */
  readonly runner?: CommandRunner;
}

/** The modules the guest loads when they are not built in: NICs, virtio on PCI, the power button. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'e1000', '8139cp', 'button', 'evdev'];
/** Leftovers of a killed builder and images of other builders go when older than this. */
const STALE_MS = 60 * 60 * 1000;
// tty0 (the VGA screen) gets the kernel's messages too; ttyS0, named last, is /dev/console.
// The screen never blanks: a console opened hours later still shows the banner.
const KERNEL_CMDLINE = 'console=tty0 console=ttyS0 consoleblank=0 quiet';
/** The first line the guest writes on its screen. */
export const LINUX_GUEST_BANNER = 'LabVirt demo guest';
const IMAGE_KIB = 24 * 1024;
// This module's own file, whose hash keys the cache; '../guest/' names it from the CLI bundle
// in dist/src/cli/ too (scripts/bundle-cli.ts), whose own hash changes with any module.
const BUILDER_FILE = fileURLToPath(new URL('../guest/linux-guest.js', import.meta.url));

const INIT = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "labvirt-guest: $*" >/dev/ttyS0; }
# The screen: cleared, cursor hidden, a banner (the address follows from udhcpc.script).
printf '\\033[2J\\033[H\\033[?25l' >/dev/tty0
printf '\\n  ${LINUX_GUEST_BANNER}\\n\\n  A small Linux (Debian kernel, busybox) started by LabVirt.\\n\\n' >/dev/tty0
for module in $(cat /etc/modules); do insmod "/lib/modules/$module.ko" || say "insmod $module failed"; done
ip link set lo up
ip link set eth0 up
say boot
# Any event from the power button's input device means it was pressed.
for event in /sys/class/input/event*; do
  case "$(cat "$event/device/name" 2>/dev/null)" in
  *"Power Button"*)
    node="/dev/input/\${event##*/}"
    ( while [ ! -c "$node" ]; do sleep 1; done
      dd if="$node" of=/dev/null bs=24 count=1 2>/dev/null
      say "power button"; poweroff -f ) & ;;
  esac
done
( while :; do udhcpc -f -i eth0 -s /etc/udhcpc.script -t 3 -T 2 -A 2; sleep 2; done ) &
for port in 3389 5900; do
  ( while :; do nc -ll -p "$port" -e /bin/cat; sleep 1; done ) &
done
while :; do sleep 3600; done
`;

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set "$interface" up ;;
bound|renew)
  # Keep the address (and the connections on it) when a renewal does not change it.
  ip -4 addr show dev "$interface" | grep -q " $ip/" || ip -4 addr flush dev "$interface"
  ip addr replace "$ip/\${mask:-24}" dev "$interface"
  for gateway in $router; do ip route replace default via "$gateway" dev "$interface"; break; done
  echo "labvirt-guest: ip=$ip mac=$(cat "/sys/class/net/$interface/address")" >/dev/ttyS0
  echo "  address: $ip" >/dev/tty0 ;;
esac
`;

const SYSLINUX_CFG = `DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND ${KERNEL_CMDLINE}
`;

/**
 * Whether this host's KVM cannot boot the guest: a KVM that is PVM (kvm_pvm, a software
 * hypervisor of some nested clouds) runs only real-mode code and PVM-aware kernels, so the
 * bootloader and Debian's kernel need TCG there.
 */
export function kvmIsPvm(sysModule = '/sys/module'): boolean {
  return existsSync(join(sysModule, 'kvm_pvm'));
}

export function defaultCacheDir(): string {
  return process.env['LABVIRT_TEST_GUEST_CACHE'] ?? join(homedir(), '.cache/labvirt/linux-guest');
}

/** The kernel package `apt-cache depends linux-image-amd64` names. */
export function kernelPackage(depends: string): string {
  const match = /^\s*Depends:\s*(linux-image-\d\S*)\s*$/m.exec(depends);
  if (match?.[1] === undefined) throw new Error('apt-cache names no linux-image package');
  return match[1];
}

/** The part of an image's name that changes with the packages and the builder. */
export function cacheKey(builderHash: string, versions: Readonly<Record<string, string>>): string {
  const packages = Object.entries(versions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, version]) => `${name}=${version}\n`)
    .join('');
  const digest = createHash('sha256').update(packages).digest('hex');
  return `${builderHash.slice(0, 12)}-${digest.slice(0, 12)}`;
}

function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.\w+)?$/, '')
    .replaceAll('-', '_');
}

/**
 * The module files to load, in an order that loads each after its dependencies, for the
 * wanted modules that modules.dep lists (the others are built in). modules.dep gives each
 * module's dependencies transitively, so a dependency always has fewer than its dependant.
 */
export function moduleLoadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const [path, rest] = line.split(':');
    if (path === undefined || rest === undefined) continue;
    deps.set(moduleName(path), { path, deps: rest.trim().split(/\s+/).filter(Boolean) });
  }
  const chosen = new Map<string, number>();
  for (const name of wanted) {
    const entry = deps.get(name.replaceAll('-', '_'));
    if (entry === undefined) continue;
    chosen.set(entry.path, entry.deps.length);
    for (const dep of entry.deps) chosen.set(dep, deps.get(moduleName(dep))?.deps.length ?? 0);
  }
  return [...chosen]
    .sort(([a, m], [b, n]) => m - n || (a < b ? -1 : a > b ? 1 : 0))
    .map(([path]) => path);
}

export interface CpioEntry {
  readonly name: string;
  /** File type and permission bits, as in st_mode. */
  readonly mode: number;
  /** The file's contents, or a symbolic link's target. */
  readonly data?: Buffer | string;
  readonly rdev?: readonly [major: number, minor: number];
}

/** A cpio archive in the "newc" format the kernel unpacks as initramfs; owner root, time 0. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);
  const add = (entry: CpioEntry, ino: number) => {
    const data = Buffer.from(entry.data ?? '');
    const name = Buffer.from(`${entry.name}\0`);
    const nlink = (entry.mode & 0o170000) === 0o040000 ? 2 : 1;
    const [major, minor] = entry.rdev ?? [0, 0];
    const fields = [ino, entry.mode, 0, 0, nlink, 0, data.length, 0, 0, major, minor];
    const header = `070701${[...fields, name.length, 0].map((f) => f.toString(16).toUpperCase().padStart(8, '0')).join('')}`;
    parts.push(Buffer.from(header), name, pad(110 + name.length), data, pad(data.length));
  };
  entries.forEach((entry, index) => add(entry, index + 1));
  add({ name: 'TRAILER!!!', mode: 0 }, 0);
  return Buffer.concat(parts);
}

async function fileHash(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** An image built earlier by this same builder, whatever packages it was built from. */
async function cachedImage(cacheDir: string, builderHash: string): Promise<string | undefined> {
  const prefix = `linux-guest-${builderHash.slice(0, 12)}-`;
  const names = (await readdir(cacheDir)).filter((n) => n.startsWith(prefix) && n.endsWith('.raw'));
  const found = await Promise.all(
    names.map(async (n) => ({
      path: join(cacheDir, n),
      mtime: (await stat(join(cacheDir, n))).mtimeMs,
    })),
  );
  return found.sort((a, b) => b.mtime - a.mtime)[0]?.path;
}

/** A killed builder's leftovers, and images of other builders not made in the last hour. */
async function removeStale(cacheDir: string, builderHash: string): Promise<void> {
  const current = `linux-guest-${builderHash.slice(0, 12)}-`;
  for (const name of await readdir(cacheDir)) {
    const image = name.startsWith('linux-guest-') && !name.startsWith(current);
    if (!image && !name.startsWith('.work-') && !name.startsWith('.image-')) continue;
    const path = join(cacheDir, name);
    const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > STALE_MS) await rm(path, { recursive: true, force: true });
  }
}

class Build {
  readonly #run: CommandRunner;
  readonly #log: (line: string) => void;
  #updated = false;

  constructor(runner: CommandRunner, log: (line: string) => void) {
    this.#run = runner;
    this.#log = log;
  }

  async run(argv: readonly string[]): Promise<string> {
    const result = await this.#run.run(argv);
    if (result.code !== 0) {
      throw new Error(`${argv.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
    }
    return result.stdout;
  }

  /** The package's .deb in debsDir, downloaded there unless it already is. */
  async deb(debsDir: string, work: string, pkg: string): Promise<string> {
    const cached = (await readdir(debsDir)).find(
      (n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'),
    );
    if (cached !== undefined) return join(debsDir, cached);
    const dir = await mkdtemp(join(work, 'download-'));
    this.#log(`downloading ${pkg}`);
    // apt-get download writes to the working directory: env -C sets it without a shell.
    const download = () => this.#run.run(['env', '-C', dir, 'apt-get', 'download', '-q', pkg]);
    let result = await download();
    if (result.code !== 0 && !this.#updated) {
      this.#log('apt-get download failed; updating the package lists once');
      this.#updated = true;
      await this.run(['apt-get', 'update', '-qq']);
      result = await download();
    }
    if (result.code !== 0)
      throw new Error(`apt-get download ${pkg} failed: ${result.stderr.trim()}`);
    const name = (await readdir(dir)).find((n) => n.endsWith('.deb'));
    if (name === undefined) throw new Error(`apt-get download ${pkg} left no .deb`);
    await rename(join(dir, name), join(debsDir, name));
    return join(debsDir, name);
  }

  /** The module's contents, decompressed for busybox insmod. */
  async module(path: string): Promise<Buffer> {
    if (path.endsWith('.ko')) return readFile(path);
    if (!path.endsWith('.ko.xz')) throw new Error(`cannot decompress ${path}`);
    await this.run(['xz', '-d', '-k', '-f', path]);
    return readFile(path.slice(0, -'.xz'.length));
  }
}

async function buildInitramfs(build: Build, work: string, kernelRoot: string): Promise<Buffer> {
  const busybox = join(work, 'busybox/bin/busybox');
  const [version] = await readdir(join(kernelRoot, 'lib/modules'));
  if (version === undefined) throw new Error('the kernel package has no modules');
  const modulesDir = join(kernelRoot, 'lib/modules', version);
  // The package ships no modules.dep (its postinst runs depmod): busybox's depmod makes it.
  await build.run([busybox, 'depmod', '-b', kernelRoot, version]);
  const order = moduleLoadOrder(
    await readFile(join(modulesDir, 'modules.dep'), 'utf8'),
    GUEST_MODULES,
  );

  const dir = (name: string): CpioEntry => ({ name, mode: 0o040755 });
  const entries: CpioEntry[] = [
    'bin',
    'sbin',
    'usr',
    'usr/bin',
    'usr/sbin',
    'etc',
    'lib',
    'lib/modules',
  ]
    .concat(['dev', 'proc', 'sys', 'tmp', 'run', 'var', 'var/run'])
    .map(dir);
  entries.push(
    { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'dev/null', mode: 0o020666, rdev: [1, 3] },
    { name: 'bin/busybox', mode: 0o100755, data: await readFile(busybox) },
    { name: 'init', mode: 0o100755, data: INIT },
    { name: 'etc/udhcpc.script', mode: 0o100755, data: UDHCPC_SCRIPT },
    { name: 'etc/modules', mode: 0o100644, data: order.map((p) => `${moduleName(p)}\n`).join('') },
  );
  for (const applet of (await build.run([busybox, '--list-full'])).split('\n')) {
    if (applet !== '' && applet !== 'bin/busybox') {
      entries.push({ name: applet, mode: 0o120777, data: '/bin/busybox' });
    }
  }
  for (const path of order) {
    const data = await build.module(join(modulesDir, path));
    entries.push({ name: `lib/modules/${moduleName(path)}.ko`, mode: 0o100644, data });
  }
  return gzipSync(cpioNewc(entries), { level: 9 });
}

/** Builds the guest's disk image unless it is cached; resolves to its absolute path (raw). */
export async function buildLinuxGuest(options: LinuxGuestOptions = {}): Promise<string> {
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const log = options.log ?? (() => undefined);
  const debsDir = join(cacheDir, 'debs');
  await mkdir(debsDir, { recursive: true });
  const builderHash = await fileHash(BUILDER_FILE);
  const cached = await cachedImage(cacheDir, builderHash);
  if (cached !== undefined) return cached;

  await removeStale(cacheDir, builderHash);
  const build = new Build(options.runner ?? nodeCommandRunner, log);
  const work = await mkdtemp(join(cacheDir, '.work-'));
  const temp = join(cacheDir, `.image-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const kernel = kernelPackage(await build.run(['apt-cache', 'depends', 'linux-image-amd64']));
    const versions: Record<string, string> = {};
    for (const [pkg, into] of [
      [kernel, 'kernel'],
      ['busybox-static', 'busybox'],
    ] as const) {
      const deb = await build.deb(debsDir, work, pkg);
      versions[pkg] = (await build.run(['dpkg-deb', '-f', deb, 'Version'])).trim();
      log(`extracting ${basename(deb)}`);
      await build.run(['dpkg-deb', '-x', deb, join(work, into)]);
    }
    const image = join(cacheDir, `linux-guest-${cacheKey(builderHash, versions)}.raw`);
    const kernelRoot = join(work, 'kernel');
    const vmlinuz = (await readdir(join(kernelRoot, 'boot'))).find((n) => n.startsWith('vmlinuz-'));
    if (vmlinuz === undefined) throw new Error(`${kernel} has no vmlinuz`);
    log('building the initramfs');
    await writeFile(join(work, 'initrd.gz'), await buildInitramfs(build, work, kernelRoot));
    await writeFile(join(work, 'syslinux.cfg'), SYSLINUX_CFG);

    log('writing the disk image');
    // A partitionless FAT disk ("superfloppy"): SeaBIOS boots syslinux from its first sector.
    await build.run(['mkfs.fat', '-C', '-n', 'LABVIRT', temp, String(IMAGE_KIB)]);
    const copy = (from: string, to: string) => build.run(['mcopy', '-i', temp, from, `::${to}`]);
    await copy(join(kernelRoot, 'boot', vmlinuz), 'vmlinuz');
    await copy(join(work, 'initrd.gz'), 'initrd.gz');
    await copy(join(work, 'syslinux.cfg'), 'syslinux.cfg');
    await build.run(['syslinux', '--install', temp]);
    // link() publishes the whole file at once and, unlike rename(), keeps an image another
    // builder published meanwhile (a test may be booting it already).
    await link(temp, image).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    log(`built ${image}`);
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(temp, { force: true });
  }
}

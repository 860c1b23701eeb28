// Images an attacker would hand over, made with qemu-img directly (as an outsider would):
// shared by the driver's, the CLI's and the image store's refusal tests.
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Runs qemu-img directly, to make files the way an outsider would. */
export function qemuImgCli(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A qcow2 at `file` whose backing file is `target` (a host file such as /etc/passwd), as raw. */
export function qcow2BackedBy(file: string, target = '/etc/passwd'): string {
  qemuImgCli('create', '-q', '-f', 'qcow2', '-u', '-F', 'raw', '-b', target, file, '1M');
  return file;
}

/**
 * A 1 MiB raw disk at `file` whose first bytes are a qcow2 header backed by /etc/passwd:
 * what a guest can write to its own disk. Probing would take it for qcow2 and follow the
 * backing file; only the recorded format (raw) keeps it inert. `scratch` is a temporary
 * path for the header's qcow2.
 */
export async function rawDiskWithQcow2Header(file: string, scratch: string): Promise<string> {
  const header = (await readFile(qcow2BackedBy(scratch))).subarray(0, 64 * 1024);
  await writeFile(file, Buffer.concat([header, Buffer.alloc(1024 * 1024 - header.length)]));
  return file;
}

/**
 * A qcow2 at `file` whose external data file is `target` (e.g. /etc/passwd), made without
 * ever opening `target`: qemu-img create makes (and truncates) its data file, so the image
 * is made with a placeholder name of the same length, which is then patched in the header.
 */
export async function qcow2WithDataFile(file: string, target = '/etc/passwd'): Promise<string> {
  const placeholder = join(dirname(file), `df${'x'.repeat(Math.max(0, target.length - 2))}`);
  const name = basename(placeholder);
  if (name.length !== target.length) throw new Error(`data file target too short: ${target}`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${name}`, file, '1M'], {
    cwd: dirname(file),
    stdio: 'ignore',
  });
  await rm(placeholder, { force: true });
  const image = await readFile(file);
  const at = image.indexOf(name);
  if (at < 0 || at > 64 * 1024) throw new Error('data file name not found in the qcow2 header');
  image.write(target, at, 'utf8');
  await writeFile(file, image);
  return file;
}

/** A qcow2 at `file` that declares a disk of `size` (qemu-img's suffixes: 1P) and holds nothing. */
export function hugeQcow2(file: string, size = '1P'): string {
  qemuImgCli('create', '-q', '-f', 'qcow2', file, size);
  return file;
}

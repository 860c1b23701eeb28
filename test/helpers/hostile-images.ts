// Images an attacker would hand over, made with qemu-img directly (as an outsider would):
// shared by the driver's, the CLI's and the image store's refusal tests.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';

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

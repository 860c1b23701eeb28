// The machine a run measured, for bench/README.md: figures mean little without it.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

function firstLine(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      ?.trim();
  } catch {
    return undefined;
  }
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? 'unknown OS';
  } catch {
    return 'unknown OS';
  }
}

/** Whether this process may use /dev/kvm (QEMU then runs under KVM, else TCG). */
export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** One line: date, commit, CPU, memory, OS, kernel, Node, QEMU and accelerator, load. */
export function describeMachine(now = new Date()): string {
  const cpu = cpus();
  const commit = firstLine('git', ['rev-parse', '--short', 'HEAD']);
  // The runner itself writes bench/README.md: that is not a change to what was measured.
  const dirty = firstLine('git', [
    'status',
    '--porcelain',
    '--untracked-files=no',
    '--',
    '.',
    ':!bench/README.md',
  ]);
  const qemu = firstLine('qemu-system-x86_64', ['--version'])?.replace(
    /^QEMU emulator version /,
    '',
  );
  return [
    `${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    commit === undefined ? 'no commit' : `commit ${commit}${dirty ? ' (with changes)' : ''}`,
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    osName(),
    `Linux ${release()}`,
    `Node ${process.version}`,
    qemu === undefined ? 'no QEMU' : `QEMU ${qemu} (${kvmUsable() ? 'KVM' : 'TCG'})`,
    `load average ${(loadavg()[0] ?? 0).toFixed(1)} at the start`,
  ].join(' · ');
}

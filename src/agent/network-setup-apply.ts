// Carrying out a network set-up plan (network-setup.ts): each step is first checked through
// a narrow probe and skipped when already true, so --apply can run any number of times.
// Commands run as argv arrays, never through a shell; files are written atomically.
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LabvirtError, phrase, type Phrase } from '../domain/errors.js';
import {
  CommandNotFoundError,
  nodeCommandRunner,
  type CommandResult,
  type CommandRunner,
} from '../system/command-runner.js';
import type { SetupCheck, SetupPlan, SetupStep } from './network-setup.js';

/** What --apply may look at and change on the host. */
export interface SetupHost {
  /** The file's text, or undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  interfaceExists(name: string): Promise<boolean>;
  /** Rejects with CommandNotFoundError when the program is not installed. */
  run(argv: readonly string[]): Promise<CommandResult>;
  /** Writes through a temporary file in the same directory, then renames it. */
  writeFileAtomic(
    path: string,
    content: string,
    mode: number,
    verify?: readonly string[],
  ): Promise<void>;
}

export type StepOutcome = 'done' | 'skipped';

export interface StepReport {
  readonly index: number;
  readonly step: SetupStep;
  readonly outcome: StepOutcome;
  /** Something worth saying about a step that did go through (e.g. a check not made). */
  readonly note?: Phrase;
}

interface LinkInfo {
  readonly flags?: readonly string[];
  readonly master?: string;
  readonly linkinfo?: { readonly info_kind?: string };
  readonly addr_info?: readonly { readonly local?: string; readonly prefixlen?: number }[];
}

async function linkInfo(host: SetupHost, argv: readonly string[]): Promise<LinkInfo | undefined> {
  const result = await host.run(argv);
  if (result.code !== 0) return undefined;
  try {
    const parsed = JSON.parse(result.stdout) as unknown;
    return Array.isArray(parsed) ? (parsed[0] as LinkInfo | undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** The kind of an interface ('bridge', 'veth'...; '' for a plain NIC), or undefined if none. */
export async function interfaceKind(host: SetupHost, name: string): Promise<string | undefined> {
  if (!(await host.interfaceExists(name))) return undefined;
  const info = await linkInfo(host, ['ip', '-j', '-d', 'link', 'show', 'dev', name]);
  return info?.linkinfo?.info_kind ?? '';
}

export async function checkDone(check: SetupCheck, host: SetupHost): Promise<boolean> {
  switch (check.kind) {
    case 'link-exists':
      return host.interfaceExists(check.name);
    case 'link-up': {
      const info = await linkInfo(host, ['ip', '-j', 'link', 'show', 'dev', check.name]);
      return info?.flags?.includes('UP') ?? false;
    }
    case 'link-master': {
      const info = await linkInfo(host, ['ip', '-j', 'link', 'show', 'dev', check.name]);
      return info?.master === check.master;
    }
    case 'address': {
      const [ip, prefix] = check.cidr.split('/');
      const info = await linkInfo(host, ['ip', '-j', 'addr', 'show', 'dev', check.name]);
      return (info?.addr_info ?? []).some((a) => a.local === ip && a.prefixlen === Number(prefix));
    }
    case 'file-exists':
      return (await host.readFile(check.path)) !== undefined;
    case 'file-value':
      return (await host.readFile(check.path))?.trim() === check.value;
    case 'nft-table':
      try {
        const result = await host.run(['nft', 'list', 'table', check.family, check.name]);
        return result.code === 0;
      } catch (error) {
        if (error instanceof CommandNotFoundError) return false;
        throw error;
      }
  }
}

const hasLine = (text: string, line: string) =>
  text.split('\n').some((candidate) => candidate.trim() === line);

export async function stepDone(step: SetupStep, host: SetupHost): Promise<boolean> {
  switch (step.kind) {
    case 'command':
      return checkDone(step.done, host);
    case 'line':
      return hasLine((await host.readFile(step.path)) ?? '', step.line);
    case 'file':
      return (await host.readFile(step.path)) === step.content;
  }
}

/** A step's one-word name in messages: its program, or the file it writes. */
export function stepName(step: SetupStep, index: number): string {
  const what = step.kind === 'command' ? step.argv.join(' ') : step.path;
  return `${index + 1} "${what}"`;
}

function failed(step: SetupStep, index: number, detail: string): LabvirtError {
  return new LabvirtError('NETWORK_SETUP_STEP_FAILED', {
    step: stepName(step, index),
    why: step.why,
    detail: detail.trim().split('\n').join(' ') || 'failed',
  });
}

async function applyStep(
  step: SetupStep,
  index: number,
  host: SetupHost,
): Promise<Phrase | undefined> {
  switch (step.kind) {
    case 'command': {
      let result: CommandResult;
      try {
        result = await host.run(step.argv);
      } catch (error) {
        throw failed(step, index, error instanceof Error ? error.message : String(error));
      }
      if (result.code !== 0) throw failed(step, index, result.stderr || `exit ${result.code}`);
      return undefined;
    }
    case 'line': {
      const text = (await host.readFile(step.path)) ?? '';
      const joined = text === '' || text.endsWith('\n') ? text : `${text}\n`;
      try {
        await host.writeFileAtomic(step.path, `${joined}${step.line}\n`, step.mode);
      } catch (error) {
        throw failed(step, index, error instanceof Error ? error.message : String(error));
      }
      return undefined;
    }
    case 'file':
      try {
        await host.writeFileAtomic(step.path, step.content, step.mode, step.verify);
      } catch (error) {
        if (error instanceof VerifierMissing) {
          return phrase('written without a check: {program} is not installed', {
            program: error.program,
          });
        }
        throw failed(step, index, error instanceof Error ? error.message : String(error));
      }
      return undefined;
  }
}

/**
 * Applies the plan in order, skipping what is already true; stops at the first failure
 * (NETWORK_SETUP_STEP_FAILED naming the step). `onStep` hears of each step as it ends.
 */
export async function applyNetworkSetup(
  plan: SetupPlan,
  host: SetupHost,
  onStep: (report: StepReport) => void = () => undefined,
): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (const [index, step] of plan.steps.entries()) {
    let report: StepReport;
    if (await stepDone(step, host)) report = { index, step, outcome: 'skipped' };
    else {
      const note = await applyStep(step, index, host);
      report = { index, step, outcome: 'done', ...(note !== undefined ? { note } : {}) };
    }
    reports.push(report);
    onStep(report);
  }
  return reports;
}

/** Thrown by writeFileAtomic when the verifier is not installed: the file is written anyway. */
export class VerifierMissing extends Error {
  readonly program: string;
  constructor(program: string) {
    super(`${program}: not found`);
    this.program = program;
  }
}

/** The real host: /sys/class/net, the file system and a CommandRunner. */
export function nodeSetupHost(runner: CommandRunner = nodeCommandRunner): SetupHost {
  return {
    async readFile(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async interfaceExists(name) {
      try {
        await access(`/sys/class/net/${name}`);
        return true;
      } catch {
        return false;
      }
    },
    run: (argv) => runner.run(argv, { timeoutMs: 60_000 }),
    async writeFileAtomic(path, content, mode, verify) {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(temporary, content, { mode, flag: 'wx' });
        await chmod(temporary, mode); // the umask may have taken bits away
        let missing: VerifierMissing | undefined;
        if (verify !== undefined && verify.length > 0) {
          try {
            const checked = await runner.run([...verify, temporary]);
            if (checked.code !== 0) {
              throw new Error(`${verify.join(' ')}: ${checked.stdout}${checked.stderr}`);
            }
          } catch (error) {
            if (!(error instanceof CommandNotFoundError)) throw error;
            missing = new VerifierMissing(error.program);
          }
        }
        await rename(temporary, path);
        if (missing !== undefined) throw missing;
      } finally {
        await rm(temporary, { force: true });
      }
    },
  };
}

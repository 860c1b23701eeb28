// Running a program: always an argv array, never a shell. The interface is what the QEMU
// driver depends on, so its logic can be tested with a scripted runner.
import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Called with each chunk of standard output as it arrives (progress parsing). */
  readonly onStdout?: (chunk: string) => void;
  readonly timeoutMs?: number;
}

export interface CommandRunner {
  /** Resolves when the program exits; rejects only if it cannot be started (ENOENT...). */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

export class CommandNotFoundError extends Error {
  readonly program: string;
  constructor(program: string, options?: { cause?: unknown }) {
    super(`${program}: not found`, options);
    this.name = 'CommandNotFoundError';
    this.program = program;
  }
}

export const nodeCommandRunner: CommandRunner = {
  run(argv, options = {}) {
    const [program, ...args] = argv;
    if (program === undefined) return Promise.reject(new Error('empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, {
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' },
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        options.onStdout?.(chunk);
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'ENOENT' ? new CommandNotFoundError(program, { cause: error }) : error,
        );
      });
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  },
};

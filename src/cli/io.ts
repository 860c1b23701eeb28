// Where the CLI writes: injected so commands can be tested without a terminal.
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  warn(message: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  warn: (message) => void process.stderr.write(`labvirt: warning: ${message}\n`),
};

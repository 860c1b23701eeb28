// Passwords come on standard input (--password-stdin), never on the command line where
// `ps` shows them. From a pipe: the lines of the input. From a terminal: typed without
// echo, one prompt per line.
import { LabvirtError } from '../domain/errors.js';

export interface PasswordInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** The lines of a piped input: one final newline dropped, CRLF accepted. */
export function passwordLines(text: string): string[] {
  const body = text.replace(/\r?\n$/, '');
  return body === '' ? [] : body.split(/\r?\n/);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.length > 64 * 1024) break; // no password is this long
  }
  return text;
}

/** One line typed at a terminal without echo. Ctrl-C and Ctrl-D end it early. */
function readHidden(stream: PasswordInput, prompt: string, err: (text: string) => void) {
  return new Promise<string>((resolve, reject) => {
    err(prompt);
    let line = '';
    stream.setRawMode?.(true);
    stream.setEncoding('utf8');
    const done = (result: () => void) => {
      stream.off('data', onData);
      stream.setRawMode?.(false);
      stream.pause();
      err('\n');
      result();
    };
    const onData = (chunk: string) => {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done(() => resolve(line));
        if (char === '\u0003') return done(() => reject(new LabvirtError('PASSWORD_STDIN_EMPTY')));
        if (char === '\u007f' || char === '\b') line = [...line].slice(0, -1).join('');
        else line += char;
      }
    };
    stream.on('data', onData);
    stream.resume();
  });
}

/**
 * Reads `prompts.length` passwords: lines of a pipe, or hidden entries at a terminal.
 * Empty passwords are refused here; the password policy is the server's.
 */
export async function readPasswords(
  stream: PasswordInput,
  prompts: readonly string[],
  err: (text: string) => void,
): Promise<string[]> {
  let values: string[];
  if (stream.isTTY) {
    values = [];
    for (const prompt of prompts) values.push(await readHidden(stream, prompt, err));
  } else {
    values = passwordLines(await readAll(stream)).slice(0, prompts.length);
  }
  if (values.length < prompts.length || values.some((value) => value === '')) {
    throw new LabvirtError(prompts.length > 1 ? 'PASSWORD_STDIN_CURRENT' : 'PASSWORD_STDIN_EMPTY');
  }
  return values;
}

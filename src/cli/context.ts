// What a command gets: where to write, the user's language, the environment and stdin.
import type { Translator } from '../i18n/translator.js';
import type { CliIo } from './io.js';
import type { PasswordInput } from './password-stdin.js';

export interface CliContext {
  readonly io: CliIo;
  readonly tr: Translator;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: PasswordInput;
}

// `labvirt login URL --user NAME --password-stdin`: trades a password for an API token and
// saves both server and token in the user's config, for the commands over the API.
import { hostname } from 'node:os';
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { ApiClient } from '../api-client.js';
import { configPath, normalizeServerUrl, writeConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { readPasswords } from '../password-stdin.js';
import { checkUsername } from './user.js';

/** "cli on lab-server-1": a token name the API accepts (letters, digits, " _.-", 64 at most). */
export function tokenName(host: string = hostname()): string {
  const clean = host.replace(/[^\p{L}\p{N} _.-]/gu, '-');
  return `cli on ${clean}`.slice(0, 64).trimEnd();
}

export function loginCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  return new Command('login')
    .description(tr.t('log in to a LabVirt server and save an API token for the other commands'))
    .argument('<URL>', tr.t('the server, e.g. http://127.0.0.1:8080'))
    .requiredOption('--user <NAME>', tr.t('your user name'))
    .option('--password-stdin', tr.t('read the password from standard input'))
    .option('--json', tr.t('print the result as JSON'))
    .action(
      async (rawUrl: string, flags: { user: string; passwordStdin?: boolean; json?: boolean }) => {
        const url = normalizeServerUrl(rawUrl);
        const username = checkUsername(flags.user);
        if (!flags.passwordStdin) throw new LabvirtError('PASSWORD_STDIN_REQUIRED');
        const [password] = await readPasswords(ctx.stdin, [tr.t('Password: ')], io.err);
        const client = new ApiClient({ url, tr });
        const created = await client.request<{ id: string; name: string; token: string }>(
          'POST',
          '/auth/tokens',
          { username, password, name: tokenName() },
        );
        const path = configPath(ctx.env);
        await writeConfig(path, { url, token: created.token, user: username });
        if (flags.json) {
          io.out(
            `${JSON.stringify({ url, user: username, tokenId: created.id, config: path }, null, 2)}\n`,
          );
          return;
        }
        io.out(
          `${tr.t('Logged in to {url} as {user}; the token is saved in {path}.', { url, user: username, path })}\n`,
        );
      },
    );
}

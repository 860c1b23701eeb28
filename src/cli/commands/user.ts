// `labvirt user add` (straight into the database, with the server running or not: how the
// first administrator is made), `labvirt user list|passwd` (over the API).
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import type { Role } from '../../controller/auth/rules.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import type { CliContext } from '../context.js';
import { readPasswords } from '../password-stdin.js';
import { formatTable } from '../table.js';
import type { UserView } from '../../controller/services/users.js';

const roles: readonly Role[] = ['admin', 'operator', 'viewer'];

/** The API's shape; a type-only import, erased at runtime, so no server code loads. */
export type { UserView } from '../../controller/services/users.js';

export function userTable(ctx: CliContext, users: readonly UserView[]): string {
  const { tr } = ctx;
  return formatTable(
    [tr.t('USER'), tr.t('ROLE'), tr.t('LABS'), tr.t('LANGUAGE'), tr.t('DISABLED'), tr.t('CREATED')],
    users.map((u) => [
      u.username,
      u.role,
      u.labs,
      u.language,
      u.disabled ? tr.t('yes') : tr.t('no'),
      u.createdAt,
    ]),
  );
}

export function parseRole(value: string): Role {
  const role = roles.find((candidate) => candidate === value);
  if (role === undefined) throw new LabvirtError('ROLE_UNKNOWN', { role: value });
  return role;
}

/** The API's Username schema (controller/schemas.ts), without loading TypeBox for the CLI. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
export const USERNAME_MAX_LENGTH = 64;

export function checkUsername(name: string): string {
  if (name.length > USERNAME_MAX_LENGTH || !USERNAME_PATTERN.test(name))
    throw new LabvirtError('USERNAME_INVALID', { name });
  return name;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface AddFlags {
  role: string;
  passwordStdin?: boolean;
  data: string;
  lab?: string[];
  json?: boolean;
}

function addCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  return new Command('add')
    .description(
      tr.t(
        'create a user directly in the database (SQLite in --data, or LABVIRT_DATABASE_URL), with the server running or not',
      ),
    )
    .argument('<NAME>', tr.t('the user name'))
    .requiredOption('--role <ROLE>', tr.t('admin, operator or viewer'))
    .option('--password-stdin', tr.t('read the password from standard input'))
    .option('--data <DIR>', tr.t('the server’s data directory'), 'data')
    .option('--lab <LAB>', tr.t('a lab granted to an operator (repeatable)'), collect)
    .option('--json', tr.t('print the new user as JSON'))
    .action(async (name: string, flags: AddFlags) => {
      const username = checkUsername(name);
      const role = parseRole(flags.role);
      if (!flags.passwordStdin) throw new LabvirtError('PASSWORD_STDIN_REQUIRED');
      const [password = ''] = await readPasswords(
        ctx.stdin,
        [tr.t('Password for {user}: ', { user: username })],
        io.err,
      );
      // Loaded here: the commands over the API start faster without the database's modules.
      const { databaseUrlFromEnv } = await import('../../db/connect.js');
      const { openMigrated } = await import('../../db/open-migrated.js');
      const { createUser } = await import('../../controller/services/users.js');
      const { database } = await openMigrated(
        databaseUrlFromEnv(ctx.env as NodeJS.ProcessEnv),
        flags.data,
        tr.t('data directory'),
      );
      try {
        const user = await createUser(
          database.db,
          { principal: undefined, source: 'cli' },
          { username, role, password, labs: flags.lab ?? [] },
          new Date(),
        );
        if (flags.json) return printJson(ctx, user);
        io.out(
          `${tr.t('User {user} ({role}) created in {database}.', { user: user.username, role: user.role, database: database.description })}\n`,
        );
      } finally {
        await database.close();
      }
    });
}

export function userCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const user = new Command('user').description(tr.t('create, list and change users'));
  user.addCommand(addCommand(ctx));

  user.addCommand(
    apiCommand('list', tr.t('list the users (admins only)'), ctx).action(
      async (flags: ApiFlags) => {
        const users = await (await clientFor(flags, ctx)).request<UserView[]>('GET', '/users');
        if (flags.json) return printJson(ctx, users);
        io.out(userTable(ctx, users));
      },
    ),
  );

  user.addCommand(
    apiCommand('passwd', tr.t('set a user’s password (ends their sessions and API tokens)'), ctx)
      .argument('<NAME>', tr.t('the user name'))
      .option(
        '--password-stdin',
        tr.t(
          'read the new password from standard input (your own: the current one first, then the new one, one a line)',
        ),
      )
      .action(async (name: string, flags: ApiFlags & { passwordStdin?: boolean }) => {
        if (!flags.passwordStdin) throw new LabvirtError('PASSWORD_STDIN_REQUIRED');
        const client = await clientFor(flags, ctx);
        const me = await client.request<UserView>('GET', '/auth/me');
        const self = me.username === name || me.id === name;
        const prompts = self
          ? [tr.t('Current password: '), tr.t('New password: ')]
          : [tr.t('New password for {user}: ', { user: name })];
        const answers = await readPasswords(ctx.stdin, prompts, io.err);
        const body = self
          ? { currentPassword: answers[0], password: answers[1] }
          : { password: answers[0] };
        await client.request('PUT', `/users/${segment(name)}/password`, body);
        if (flags.json) return printJson(ctx, { user: name, passwordChanged: true });
        io.out(
          `${
            self
              ? tr.t(
                  'Your password is changed and your API tokens have ended: log in again with labvirt login.',
                )
              : tr.t(
                  'The password of {user} is changed; their sessions and API tokens have ended.',
                  {
                    user: name,
                  },
                )
          }\n`,
        );
      }),
  );
  return user;
}

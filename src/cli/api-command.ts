// What every command over the API shares: --url/--token/--json, the client, JSON output.
import { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { configPath, readConfig, resolveTarget } from './config.js';
import type { CliContext } from './context.js';

export interface ApiFlags {
  readonly url?: string;
  readonly token?: string;
  readonly json?: boolean;
}

/** Adds --url, --token and --json to a command over the API. */
export function apiCommand(name: string, description: string, ctx: CliContext): Command {
  const { tr } = ctx;
  return new Command(name)
    .description(description)
    .option('--url <URL>', tr.t('the server (default: LABVIRT_URL, else the one of labvirt login)'))
    .option('--token <TOKEN>', tr.t('an API token (default: LABVIRT_TOKEN, else the saved one)'))
    .option('--json', tr.t('print the API’s JSON instead of a table'));
}

export async function clientFor(flags: ApiFlags, ctx: CliContext): Promise<ApiClient> {
  const saved = await readConfig(configPath(ctx.env));
  const target = resolveTarget(flags, ctx.env, saved);
  return new ApiClient({ url: target.url, token: target.token, tr: ctx.tr });
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** A path segment naming a resource by id, name or MAC. */
export const segment = (ref: string): string => encodeURIComponent(ref);

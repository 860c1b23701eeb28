// The CLI's saved login: which server, and the API token `labvirt login` got from it.
// $XDG_CONFIG_HOME/labvirt/config.json (or ~/.config/labvirt/config.json), owner-only:
// the token is as good as the password for whoever reads it.
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { LabvirtError, phrase } from '../domain/errors.js';

export interface CliConfig {
  readonly url: string;
  readonly token: string;
  readonly user?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where the config lives. A relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
export function configPath(env: Env = process.env, home: string = homedir()): string {
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(env['HOME'] || home, '.config');
  return join(base, 'labvirt', 'config.json');
}

/**
 * A server URL as the CLI stores and compares it: http or https, no credentials, query or
 * fragment, no trailing slash (a path prefix, for a reverse proxy, is kept).
 */
export function normalizeServerUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new LabvirtError('URL_INVALID', { url: value });
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new LabvirtError('URL_INVALID', { url: value });
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export async function readConfig(path: string): Promise<CliConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabvirtError('CONFIG_INVALID', {
      path,
      reason: (error as NodeJS.ErrnoException).code ?? String(error),
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LabvirtError('CONFIG_INVALID', { path, reason: (error as Error).message });
  }
  const { url, token, user } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof url !== 'string' || typeof token !== 'string') {
    throw new LabvirtError('CONFIG_INVALID', {
      path,
      reason: phrase('url and token must be strings'),
    });
  }
  return { url, token, ...(typeof user === 'string' ? { user } : {}) };
}

/** Writes the config atomically (temporary file, then rename), file 0600 in a 0700 directory. */
export async function writeConfig(path: string, config: CliConfig): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(`${JSON.stringify(config, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export interface ServerTarget {
  readonly url: string;
  readonly token: string | undefined;
}

/**
 * Which server and token a command uses: --url/--token, then LABVIRT_URL/LABVIRT_TOKEN,
 * then the saved login. The saved token is only sent to the server it was issued by.
 */
export function resolveTarget(
  flags: { readonly url?: string | undefined; readonly token?: string | undefined },
  env: Env,
  saved: CliConfig | undefined,
): ServerTarget {
  const rawUrl = flags.url || env['LABVIRT_URL'] || saved?.url;
  if (!rawUrl) throw new LabvirtError('NOT_LOGGED_IN');
  const url = normalizeServerUrl(rawUrl);
  const savedToken =
    saved !== undefined && safeNormalize(saved.url) === url ? saved.token : undefined;
  const token = flags.token || env['LABVIRT_TOKEN'] || savedToken;
  return { url, token: token || undefined };
}

function safeNormalize(url: string): string | undefined {
  try {
    return normalizeServerUrl(url);
  } catch {
    return undefined;
  }
}

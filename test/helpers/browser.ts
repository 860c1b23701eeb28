// Debian's Chromium driven by playwright-core (no downloaded browser): one headless browser
// per suite, pages with generous timeouts (two shared cores), and full-page screenshots kept
// in artifacts/screenshots/ as test artifacts.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './env.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO_ROOT, 'artifacts/screenshots');
/** How long a page may take to show something (a loaded CI machine, VMs booting). */
export const UI_TIMEOUT_MS = 30_000;

export function launchBrowser(): Promise<Browser> {
  // CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A fresh context (its own cookies) and page, speaking `locale` as the browser's language. */
export async function newPage(
  browser: Browser,
  options: { locale?: string; baseURL?: string } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    locale: options.locale ?? 'en-US',
    viewport: { width: 1280, height: 900 },
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
  });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  return { context, page };
}

/** Keeps a full-page screenshot as artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Errors the page itself reports (uncaught exceptions, console.error), for assertions. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/** Logs in through the (English) login page and waits for the shell's navigation. */
export async function logIn(
  page: Page,
  baseUrl: string,
  user: { username: string; password: string },
): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
}

/**
 * Clicks a dialog's button and waits for the dialog to close; if it stays open (the API
 * refused, say), fails with what the dialog shows.
 */
export async function submitDialog(page: Page, button: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: button, exact: true }).click();
  try {
    await dialog.waitFor({ state: 'detached' });
  } catch (error) {
    const shown = await dialog.innerText().catch(() => '(gone)');
    throw new Error(`the dialog stayed open after "${button}": ${shown}`, { cause: error });
  }
}

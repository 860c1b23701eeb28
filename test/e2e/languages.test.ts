// The console in Spanish (issue 7): switching the language changes the labels (the nav's
// "Labs" becomes es.po's msgstr, read from the file, not written here) and the choice stays
// after a reload; then every page of the console (contract item 8's paths, with real ids)
// is walked in English and in Spanish, a full-page screenshot of each kept as
// artifacts/screenshots/<page>-<lang>.png, and no visible text of a Spanish page (text
// nodes, aria-labels, placeholders) may be an English message of the catalogue whose
// Spanish differs (or that es.po does not translate yet). Messages with {placeholders} are
// matched as patterns. (A string that never went through t() is caught only when it equals
// a message of the catalogue; the screenshots show the rest.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { po } from 'gettext-parser';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildTemplate } from '../../scripts/extract-messages.js';
import { GuestMode } from '../../scripts/guest.js';
import { isFuzzy } from '../../src/i18n/catalogs.js';
import { launchBrowser, logIn, newPage, screenshot } from '../helpers/browser.js';
import { REPO_ROOT, waitFor } from '../helpers/env.js';
import { guestProfile, startClient, waitForState } from '../helpers/vm-fixture.js';
import { startWebServer, type WebServer } from '../helpers/web-server.js';

const spanishPo = po.parse(readFileSync(join(REPO_ROOT, 'po/es.po')));

/** es.po's usable translation of a message (not fuzzy, not empty), if any. */
function spanishOf(context: string, msgid: string): string | undefined {
  const entry = spanishPo.translations[context]?.[msgid];
  if (entry === undefined || isFuzzy(entry)) return undefined;
  return entry.msgstr[0] || undefined;
}

interface EnglishMessage {
  readonly msgid: string;
  readonly test: (text: string) => boolean;
}

/**
 * Every English text of the catalogue (msgids and plurals) that Spanish says differently,
 * or that es.po does not translate yet: seeing one on a Spanish page is a failure.
 */
function englishMessages(): EnglishMessage[] {
  const result: EnglishMessage[] = [];
  for (const [context, entries] of Object.entries(buildTemplate().translations)) {
    for (const entry of Object.values(entries)) {
      if (entry.msgid === '') continue;
      const spanish = spanishOf(context, entry.msgid);
      for (const english of [entry.msgid, entry.msgid_plural].filter(
        (text): text is string => text !== undefined,
      )) {
        if (spanish === english) continue; // the same in both languages
        const parts = english.split(/\{\w+\}/);
        if (parts.length === 1) {
          result.push({ msgid: english, test: (text) => text === english });
          continue;
        }
        // A pattern only when its fixed words say something ("{a}: {b}" would match anything).
        if (parts.join('').replace(/[^\p{L}]/gu, '').length < 3) continue;
        const escaped = parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
        const pattern = new RegExp(`^${escaped.join('.+')}$`, 's');
        result.push({ msgid: english, test: (text) => pattern.test(text) });
      }
    }
  }
  return result;
}

/** The page's visible texts: text nodes, aria-labels and placeholders. Runs in the page. */
const VISIBLE_TEXTS = `(() => {
  const texts = [];
  const shown = (element) =>
    element !== null &&
    element.closest('script, style, noscript, [hidden], [aria-hidden="true"]') === null &&
    (typeof element.checkVisibility !== 'function' || element.checkVisibility());
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text !== '' && shown(node.parentElement)) texts.push(text);
  }
  for (const element of document.querySelectorAll('[aria-label], [placeholder]')) {
    if (!shown(element) && element.tagName !== 'INPUT') continue;
    for (const name of ['aria-label', 'placeholder']) {
      const value = (element.getAttribute(name) || '').replace(/\\s+/g, ' ').trim();
      if (value !== '') texts.push(value);
    }
  }
  return texts;
})()`;

interface Walked {
  readonly name: string;
  readonly path: string;
}

describe('the console in Spanish', () => {
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let pages: Walked[];
  /** Names and values that are data, not messages (a user called "admin"…). */
  const data = new Set<string>(['English', 'Español']);

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.f.users.admin.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(
      response.ok,
      `${method} ${path}: ${response.status} ${await response.clone().text()}`,
    );
    return (await response.json()) as T;
  };

  /** Goes to a page and waits until it has loaded what it shows. */
  const visit = async (target: Page, path: string): Promise<void> => {
    await target.goto(`${server.url}${path}`);
    await target.locator('#root *').first().waitFor();
    await waitFor(
      `${path} to finish loading`,
      async () => ((await target.locator('.pf-v6-c-spinner').count()) === 0 ? true : undefined),
      30_000,
      100,
    );
    if (path.endsWith('/console')) await target.locator('canvas').first().waitFor();
    // Late answers (a timetable, a version number) and the fonts settle.
    await target.waitForTimeout(750);
  };

  before(async () => {
    server = await startWebServer();
    const lab = await api<{ id: string; name: string }>('POST', '/labs', {
      name: 'aula-1',
      description: 'Sala de informática',
    });
    await api('POST', '/terminals', { mac: '52:54:00:e5:00:01', lab: lab.id, name: 'pc-01' });
    await fetch(`${server.url}/terminal/v1/config?mac=52:54:00:e5:00:02`); // one pending
    const profile = await guestProfile(server.f, {
      mode: GuestMode.waitForPowerButton,
      name: 'escritorio',
    });
    const vm = await startClient(server.f, profile.id, server.f.users.admin);
    await waitForState(server.f, vm.id, 'running');
    const users = await api<{ username: string }[]>('GET', '/users');
    const labs = await api<{ name: string }[]>('GET', '/labs');
    const terminals = await api<{ name: string; mac: string }[]>('GET', '/terminals');
    const hosts = await api<{ name: string }[]>('GET', '/hosts');
    const vms = await api<{ name: string }[]>('GET', '/vms');
    for (const value of [
      ...users.map((user) => user.username),
      ...labs.map((entry) => entry.name),
      ...terminals.flatMap((entry) => [entry.name, entry.mac]),
      ...hosts.map((host) => host.name),
      ...vms.map((entry) => entry.name),
      profile.name,
    ])
      data.add(value);
    pages = [
      { name: 'dashboard', path: '/' },
      { name: 'labs', path: '/labs' },
      { name: 'lab', path: `/labs/${lab.id}` },
      { name: 'terminals', path: '/terminals' },
      { name: 'profiles', path: '/profiles' },
      { name: 'profile', path: `/profiles/${profile.id}` },
      { name: 'vms', path: '/vms' },
      { name: 'vm', path: `/vms/${vm.id}` },
      { name: 'vm-console', path: `/vms/${vm.id}/console` },
      { name: 'hosts', path: '/hosts' },
      { name: 'host', path: `/hosts/${server.hostId}` },
      { name: 'users', path: '/users' },
      { name: 'audit', path: '/audit' },
      { name: 'settings', path: '/settings' },
    ];
    browser = await launchBrowser();
    ({ context, page } = await newPage(browser));
    await logIn(page, server.url, server.f.users.admin);
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('walks every page in English, with a screenshot of each', async () => {
    for (const { name, path } of pages) {
      await visit(page, path);
      await screenshot(page, `${name}-en`);
    }
    for (const locale of ['en-US', 'es-ES']) {
      const { context: anonymous, page: login } = await newPage(browser, { locale });
      await visit(login, '/login');
      await screenshot(login, `login-${locale.slice(0, 2)}`);
      await visit(login, '/sign-in');
      await screenshot(login, `sign-in-${locale.slice(0, 2)}`);
      await anonymous.close();
    }
  });

  it('switches to Spanish: the labels change, and stay after a reload', async () => {
    const labs = spanishOf('', 'Labs');
    assert.ok(labs !== undefined && labs !== 'Labs', 'es.po translates "Labs"');
    await visit(page, '/');
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'Labs', exact: true }).waitFor();
    await page.getByRole('button', { name: /^Language: / }).click();
    await page.getByRole('menuitem', { name: 'Español' }).click();
    const spanishNav = page.getByRole('navigation', {
      name: spanishOf('', 'Main navigation') ?? 'Main navigation',
    });
    await spanishNav.getByRole('link', { name: labs, exact: true }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'es');
    await page.reload();
    await spanishNav.getByRole('link', { name: labs, exact: true }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Labs', exact: true }).count(), 0);
    // Saved to the user, not only to this browser.
    const me = await fetch(`${server.url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${server.f.users.admin.token}` },
    });
    assert.equal(((await me.json()) as { language: string | null }).language, 'es');
  });

  it('shows no untranslated message on any page in Spanish', async () => {
    const english = englishMessages();
    assert.ok(english.length > 100, 'the catalogue was read');
    // Spanish whatever the test before managed: the user's saved language.
    await api('PATCH', '/auth/me', { language: 'es' });
    const found: Record<string, string[]> = {};
    const check = async (target: Page, name: string) => {
      const texts = await target.evaluate<string[]>(VISIBLE_TEXTS);
      const untranslated = new Set<string>();
      for (const text of texts) {
        if (data.has(text)) continue;
        const message = english.find((candidate) => candidate.test(text));
        if (message !== undefined)
          untranslated.add(text === message.msgid ? text : `${text} (${message.msgid})`);
      }
      if (untranslated.size > 0) found[name] = [...untranslated];
    };
    for (const { name, path } of pages) {
      await visit(page, path);
      await screenshot(page, `${name}-es`);
      await check(page, name);
    }
    const { context: anonymous, page: login } = await newPage(browser, { locale: 'es-ES' });
    for (const name of ['login', 'sign-in']) {
      await visit(login, `/${name}`);
      await check(login, name);
    }
    await anonymous.close();
    assert.deepEqual(found, {}, 'English messages on Spanish pages');
  });
});

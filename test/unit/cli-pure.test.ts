// The CLI's pure parts, with golden outputs: tables, config paths and server targets,
// --listen and --trust-proxy, usage errors, password input, log lines.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { LabvirtError } from '../../src/domain/errors.js';
import { Username } from '../../src/controller/schemas.js';
import { createTranslator, translateError, translator } from '../../src/i18n/translator.js';
import { parsePluralForms } from '../../src/i18n/plural.js';
import { cellText, formatFields, formatTable, sanitize } from '../../src/cli/table.js';
import { configPath, normalizeServerUrl, resolveTarget } from '../../src/cli/config.js';
import {
  isLoopback,
  listenUrl,
  parseListen,
  parseTrustProxy,
} from '../../src/controller/listen-address.js';
import { usageError } from '../../src/cli/usage-errors.js';
import { passwordLines, readPasswords } from '../../src/cli/password-stdin.js';
import { formatLogLine } from '../../src/cli/log-format.js';
import { tokenName } from '../../src/cli/commands/login.js';
import { programName } from '../../src/cli/commands/server.js';
import {
  checkUsername,
  USERNAME_MAX_LENGTH,
  USERNAME_PATTERN,
} from '../../src/cli/commands/user.js';
import { connectionReason } from '../../src/cli/api-client.js';
import { errorLine } from '../../src/cli/main.js';
import { fails } from '../helpers/assertions.js';

describe('formatTable', () => {
  it('aligns columns, pads all but the last, shows missing values as "-"', () => {
    assert.equal(
      formatTable(
        ['NAME', 'TERMINALS', 'DESCRIPTION'],
        [
          ['Lab 101', 12, 'first floor'],
          ['B', 0, null],
          ['Cómputo', 3, ''],
        ],
      ),
      [
        'NAME     TERMINALS  DESCRIPTION',
        'Lab 101  12         first floor',
        'B        0          -',
        'Cómputo  3          -',
        '',
      ].join('\n'),
    );
  });

  it('prints just the header for no rows, and lists joined by commas', () => {
    assert.equal(formatTable(['A', 'BB'], []), 'A  BB\n');
    assert.equal(formatTable(['LABS'], [[['x', 'y']]]), 'LABS\nx,y\n');
  });

  it('never lets a cell reach the terminal with control characters', () => {
    assert.equal(sanitize('a\u001b[31mred\nnext\u009b'), 'a?[31mred?next?');
    assert.equal(cellText(undefined), '-');
    assert.equal(cellText(false), 'false');
  });

  it('formats the fields of one object with aligned values', () => {
    assert.equal(
      formatFields([
        ['Name', 'X'],
        ['Time zone', 'UTC'],
        ['Profiles', []],
      ]),
      'Name:      X\nTime zone: UTC\nProfiles:  -\n',
    );
  });
});

describe('the CLI config', () => {
  it('lives under XDG_CONFIG_HOME when absolute, else ~/.config', () => {
    assert.equal(
      configPath({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/u'),
      '/x/cfg/labvirt/config.json',
    );
    assert.equal(
      configPath({ XDG_CONFIG_HOME: 'relative', HOME: '/home/a' }, '/home/u'),
      '/home/a/.config/labvirt/config.json',
    );
    assert.equal(configPath({}, '/home/u'), '/home/u/.config/labvirt/config.json');
  });

  it('normalizes server URLs and refuses what is not one', () => {
    assert.equal(normalizeServerUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
    assert.equal(
      normalizeServerUrl('HTTPS://Lab.Example:443/labvirt/'),
      'https://lab.example/labvirt',
    );
    for (const bad of ['ftp://x', 'localhost:8080', 'http://u:p@x', 'http://x/?a=1', ''])
      assert.throws(() => normalizeServerUrl(bad), fails('URL_INVALID'));
  });

  it('takes flags, then the environment, then the saved login; the saved token only for its server', () => {
    const saved = { url: 'http://a:8080', token: 'saved' };
    assert.deepEqual(resolveTarget({}, {}, saved), { url: 'http://a:8080', token: 'saved' });
    assert.deepEqual(resolveTarget({}, { LABVIRT_URL: 'http://a:8080/' }, saved), {
      url: 'http://a:8080',
      token: 'saved',
    });
    assert.deepEqual(resolveTarget({}, { LABVIRT_URL: 'http://b:8080' }, saved), {
      url: 'http://b:8080',
      token: undefined,
    });
    assert.deepEqual(
      resolveTarget({ url: 'http://c', token: 'flag' }, { LABVIRT_TOKEN: 'env' }, saved),
      { url: 'http://c', token: 'flag' },
    );
    assert.deepEqual(resolveTarget({}, { LABVIRT_TOKEN: 'env' }, saved), {
      url: 'http://a:8080',
      token: 'env',
    });
    assert.throws(() => resolveTarget({}, {}, undefined), fails('NOT_LOGGED_IN'));
  });
});

describe('--listen and --trust-proxy', () => {
  it('parses HOST:PORT, bracketed IPv6 and host names', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('lab-server.local:443'), { host: 'lab-server.local', port: 443 });
    assert.deepEqual(parseListen('0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 });
  });

  it('refuses anything else with LISTEN_INVALID', () => {
    for (const bad of [
      '8080',
      ':8080',
      '127.0.0.1',
      '127.0.0.1:65536',
      '::1:80',
      '[x]:80',
      'a b:1',
      'h:-1',
      '[127.0.0.1]:80',
    ])
      assert.throws(() => parseListen(bad), fails('LISTEN_INVALID', { value: bad }), bad);
  });

  it('writes listening URLs, IPv6 in brackets', () => {
    assert.equal(listenUrl('http', '::1', 80), 'http://[::1]:80');
    assert.equal(listenUrl('https', '127.0.0.1', 8443), 'https://127.0.0.1:8443');
    assert.equal(isLoopback('127.0.0.2'), true);
    assert.equal(isLoopback('0.0.0.0'), false);
  });

  it('parses hop counts and proxy lists, never "trust everyone"', () => {
    assert.equal(parseTrustProxy('1'), 1);
    assert.deepEqual(parseTrustProxy('127.0.0.1, 10.0.0.0/8,loopback,::1/128'), [
      '127.0.0.1',
      '10.0.0.0/8',
      'loopback',
      '::1/128',
    ]);
    for (const bad of ['true', '0', '*', '10.0.0.0/33', 'example.com', '1.2.3.4/8/9', ''])
      assert.throws(() => parseTrustProxy(bad), fails('TRUST_PROXY_INVALID'), bad);
  });
});

describe('usage errors', () => {
  const cases: [string, string, string, Record<string, unknown>][] = [
    [
      'commander.unknownOption',
      "error: unknown option '--jsn'\n(Did you mean --json?)",
      'USAGE_UNKNOWN_OPTION',
      { option: '--jsn' },
    ],
    [
      'commander.unknownCommand',
      "error: unknown command 'lsit'",
      'USAGE_UNKNOWN_COMMAND',
      { command: 'lsit' },
    ],
    [
      'commander.missingArgument',
      "error: missing required argument 'LAB'",
      'USAGE_MISSING_ARGUMENT',
      { argument: 'LAB' },
    ],
    [
      'commander.optionMissingArgument',
      "error: option '--lab <LAB>' argument missing",
      'USAGE_OPTION_VALUE_MISSING',
      { option: '--lab <LAB>' },
    ],
    [
      'commander.missingMandatoryOptionValue',
      "error: required option '--role <ROLE>' not specified",
      'USAGE_OPTION_REQUIRED',
      { option: '--role <ROLE>' },
    ],
    [
      'commander.excessArguments',
      "error: too many arguments for 'show'. Expected 1 argument but got 2.",
      'USAGE_TOO_MANY_ARGUMENTS',
      { command: 'show', expected: 1, received: 2 },
    ],
    [
      'commander.somethingNew',
      'error: something\nnew',
      'USAGE_INVALID',
      { detail: 'something new' },
    ],
  ];
  for (const [code, message, expected, params] of cases) {
    it(`maps ${code} to ${expected}`, () => {
      const error = usageError(new CommanderError(1, code, message));
      assert.equal(error.code, expected);
      assert.deepEqual(error.params, params);
    });
  }

  it('are translated through the catalogue like every other error', () => {
    const catalog = {
      locale: 'xx',
      nplurals: 2,
      plural: parsePluralForms(undefined).plural,
      messages: new Map([
        ['missing argument {argument}', ['falta el argumento {argument}']],
        ['error: {message}', ['fallo: {message}']],
      ]),
    };
    const tr = createTranslator('xx', catalog);
    const error = usageError(
      new CommanderError(1, 'commander.missingArgument', "error: missing required argument 'LAB'"),
    );
    assert.equal(
      errorLine(tr, translateError(error, tr)),
      'labvirt: fallo: falta el argumento LAB\n',
    );
    assert.equal(errorLine(translator('en'), 'a\nb'), 'labvirt: error: a b\n');
  });
});

describe('passwords on standard input', () => {
  it('splits lines, dropping one final newline and CRs', () => {
    assert.deepEqual(passwordLines('secret\n'), ['secret']);
    assert.deepEqual(passwordLines('old\r\nnew\r\n'), ['old', 'new']);
    assert.deepEqual(passwordLines('with trailing space \n\n'), ['with trailing space ', '']);
    assert.deepEqual(passwordLines(''), []);
  });

  it('refuses empty input, and too few lines for a change of one’s own password', async () => {
    const input = (text: string) => Readable.from([text]) as unknown as NodeJS.ReadableStream;
    assert.deepEqual(await readPasswords(input('pw\n'), ['p'], () => undefined), ['pw']);
    await assert.rejects(
      readPasswords(input(''), ['p'], () => undefined),
      fails('PASSWORD_STDIN_EMPTY'),
    );
    await assert.rejects(
      readPasswords(input('only one\n'), ['current', 'new'], () => undefined),
      fails('PASSWORD_STDIN_CURRENT'),
    );
  });
});

describe('small CLI helpers', () => {
  it('formats pino lines for a terminal', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5);
    assert.equal(
      formatLogLine(JSON.stringify({ level: 40, time, msg: 'careful' })),
      '03:04:05 WARN  careful\n',
    );
    assert.equal(
      formatLogLine(
        JSON.stringify({
          level: 30,
          time,
          msg: 'request completed',
          res: { statusCode: 401 },
          responseTime: 2.4,
        }),
      ),
      '03:04:05 INFO  request completed: 401 2 ms\n',
    );
    assert.equal(formatLogLine('not json'), 'not json\n');
  });

  it('names tokens after the host, within the API’s name rule', () => {
    assert.equal(tokenName('lab-1.example'), 'cli on lab-1.example');
    assert.equal(tokenName('a/b:c'), 'cli on a-b-c');
    assert.equal(tokenName('x'.repeat(100)).length, 64);
  });

  it('names the program as run from a checkout, else "labvirt"', () => {
    assert.equal(programName('/src/labvirt/bin/labvirt', '/src/labvirt'), 'bin/labvirt');
    assert.equal(programName('/usr/local/bin/labvirt', '/home/me'), 'labvirt');
    assert.equal(programName('/src/labvirt/dist/scripts/demo.js', '/src/labvirt'), 'labvirt');
    assert.equal(programName(undefined, '/'), 'labvirt');
  });

  it('checks user names by the API’s own rule', () => {
    assert.equal(USERNAME_PATTERN.source, Username.pattern);
    assert.equal(USERNAME_MAX_LENGTH, Username.maxLength);
    assert.equal(checkUsername('ana.maria@fi'), 'ana.maria@fi');
    for (const bad of ['', '-x', 'a b', 'x'.repeat(65)])
      assert.throws(() => checkUsername(bad), fails('USERNAME_INVALID'));
  });

  it('says why a connection failed', () => {
    const en = translator('en');
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(connectionReason(refused, en), 'connection refused');
    assert.equal(connectionReason(new Error('odd\u001b'), en), 'odd?');
    assert.ok(new LabvirtError('SERVER_UNREACHABLE', { url: 'u', reason: 'r' }).status >= 500);
  });
});

// The terminal config in each format: golden outputs for every format, protocol and client,
// the refusals, and the env format sourced by real shells with hostile names.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { formatMessage, LabvirtError } from '../../src/domain/errors.js';
import { terminalClients, type TerminalConfig } from '../../src/terminal/config.js';
import { renderConfig, shQuote } from '../../src/terminal/formats.js';

const base = {
  terminal: { name: 'pc-07', mac: '52:54:00:aa:bb:07' },
  lab: 'lab-a',
  profile: 'debian-12',
  vm: 'lab-a-pc-07',
  host: '10.0.0.5',
  screen: { fullscreen: true, width: null, height: null },
} as const;
const expires = '2026-11-29T17:10:00.000Z';
const rdp: TerminalConfig = {
  ...base,
  protocol: 'rdp',
  port: 40001,
  ticket: null,
  ticketExpiresAt: null,
};
const vnc: TerminalConfig = {
  ...base,
  protocol: 'vnc',
  port: 40002,
  ticket: 'Xy7pQ2z9',
  ticketExpiresAt: expires,
};
// A ticket with URI-special characters: the spice:// URI must carry it percent-encoded.
const spice: TerminalConfig = {
  ...base,
  protocol: 'spice',
  port: 40003,
  ticket: 'tk+/=&;%',
  ticketExpiresAt: expires,
};
const windowed = { fullscreen: false, width: 1280, height: 800 };

const lines = (...list: string[]) => list.map((line) => `${line}\n`).join('');
const argv = (config: TerminalConfig, clients: string[]) =>
  renderConfig(config, 'args', clients as (typeof terminalClients)[number][]).body;

function refusal(run: () => unknown, code: string): LabvirtError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof LabvirtError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('terminal config formats', () => {
  it('json is the config itself', () => {
    for (const config of [rdp, vnc, spice]) {
      const out = renderConfig(config, 'json', []);
      assert.equal(out.contentType, 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(out.body), config);
      assert.equal(out.filename, undefined);
    }
  });

  it('env: every key, single-quoted, empty when there is no value', () => {
    const out = renderConfig(rdp, 'env', []);
    assert.equal(out.contentType, 'text/plain; charset=utf-8');
    assert.equal(
      out.body,
      lines(
        "LABVIRT_PROTOCOL='rdp'",
        "LABVIRT_HOST='10.0.0.5'",
        "LABVIRT_PORT='40001'",
        "LABVIRT_TICKET=''",
        "LABVIRT_TICKET_EXPIRES_AT=''",
        "LABVIRT_FULLSCREEN='1'",
        "LABVIRT_WIDTH=''",
        "LABVIRT_HEIGHT=''",
        "LABVIRT_TERMINAL='pc-07'",
        "LABVIRT_LAB='lab-a'",
        "LABVIRT_PROFILE='debian-12'",
        "LABVIRT_VM='lab-a-pc-07'",
      ),
    );
    const ticketed = renderConfig({ ...spice, screen: windowed }, 'env', []).body;
    assert.match(ticketed, /^LABVIRT_PROTOCOL='spice'\n/);
    assert.match(ticketed, /\nLABVIRT_TICKET='tk\+\/=&;%'\n/);
    assert.match(ticketed, /\nLABVIRT_TICKET_EXPIRES_AT='2026-11-29T17:10:00.000Z'\n/);
    assert.match(
      ticketed,
      /\nLABVIRT_FULLSCREEN='0'\nLABVIRT_WIDTH='1280'\nLABVIRT_HEIGHT='800'\n/,
    );
    assert.equal(renderConfig(vnc, 'env', []).body.split('\n').length, 13);
  });

  it('rdp: an .rdp file for an rdp display, full screen or a window of the given size', () => {
    const out = renderConfig(rdp, 'rdp', []);
    assert.equal(out.contentType, 'application/x-rdp');
    assert.equal(out.filename, 'labvirt.rdp');
    const common = [
      'use multimon:i:0',
      'session bpp:i:32',
      'audiomode:i:0',
      'redirectclipboard:i:1',
      'autoreconnection enabled:i:1',
      'prompt for credentials:i:0',
      'enablecredsspsupport:i:0',
      'authentication level:i:2',
    ];
    const crlf = (...list: string[]) => list.map((line) => `${line}\r\n`).join('');
    assert.equal(out.body, crlf('full address:s:10.0.0.5:40001', 'screen mode id:i:2', ...common));
    assert.equal(
      renderConfig({ ...rdp, screen: windowed }, 'rdp', []).body,
      crlf(
        'full address:s:10.0.0.5:40001',
        'screen mode id:i:1',
        'desktopwidth:i:1280',
        'desktopheight:i:800',
        ...common,
      ),
    );
    // A window without a size: the client's default size.
    assert.doesNotMatch(
      renderConfig({ ...rdp, screen: { ...windowed, height: null } }, 'rdp', []).body,
      /desktop/,
    );
    assert.match(
      renderConfig({ ...rdp, host: 'fd00::5' }, 'rdp', []).body,
      /^full address:s:\[fd00::5\]:40001\r\n/,
    );
  });

  it('vv: a virt-viewer file for vnc and spice, with the ticket as its password', () => {
    const out = renderConfig(vnc, 'vv', []);
    assert.equal(out.contentType, 'application/x-virt-viewer');
    assert.equal(out.filename, 'labvirt.vv');
    assert.equal(
      out.body,
      lines(
        '[virt-viewer]',
        'type=vnc',
        'host=10.0.0.5',
        'port=40002',
        'password=Xy7pQ2z9',
        'fullscreen=1',
        'title=LabVirt: debian-12 (pc-07)',
        'delete-this-file=1',
      ),
    );
    assert.equal(
      renderConfig({ ...spice, screen: windowed, profile: 'a\\b' }, 'vv', []).body,
      lines(
        '[virt-viewer]',
        'type=spice',
        'host=10.0.0.5',
        'port=40003',
        'password=tk+/=&;%',
        'fullscreen=0',
        'title=LabVirt: a\\\\b (pc-07)',
        'delete-this-file=1',
      ),
    );
    assert.doesNotMatch(renderConfig({ ...vnc, ticket: null }, 'vv', []).body, /password/);
  });

  it('refuses a file format for a protocol it does not serve, naming both', () => {
    for (const config of [vnc, spice]) {
      const error = refusal(() => renderConfig(config, 'rdp', []), 'TERMINAL_FORMAT_PROTOCOL');
      assert.equal(error.status, 409);
      assert.equal(
        error.message,
        `the VM's display is ${config.protocol}; format rdp serves only rdp: ask for format=args, json or env`,
      );
    }
    const error = refusal(() => renderConfig(rdp, 'vv', []), 'TERMINAL_FORMAT_PROTOCOL');
    assert.match(error.message, /display is rdp; format vv serves only vnc, spice/);
  });
});

describe('terminal config as a client’s arguments', () => {
  it('xfreerdp and rdesktop for rdp', () => {
    const title = 'LabVirt: debian-12 (pc-07)';
    assert.equal(
      argv(rdp, ['xfreerdp']),
      lines('xfreerdp', '/v:10.0.0.5:40001', '/cert:tofu', '/sec:tls', '/f', `/t:${title}`),
    );
    assert.equal(
      argv({ ...rdp, screen: windowed }, ['xfreerdp']),
      lines(
        'xfreerdp',
        '/v:10.0.0.5:40001',
        '/cert:tofu',
        '/sec:tls',
        '/size:1280x800',
        `/t:${title}`,
      ),
    );
    assert.equal(argv(rdp, ['rdesktop']), lines('rdesktop', '-f', '-T', title, '10.0.0.5:40001'));
    assert.equal(
      argv({ ...rdp, screen: windowed, host: 'fd00::5' }, ['rdesktop']),
      lines('rdesktop', '-g', '1280x800', '-T', title, '[fd00::5]:40001'),
    );
  });

  it('remote-viewer for spice (ticket in the URI) and for vnc without a ticket', () => {
    const title = 'LabVirt: debian-12 (pc-07)';
    assert.equal(
      argv(spice, ['remote-viewer']),
      lines(
        'remote-viewer',
        '--full-screen',
        '--title',
        title,
        'spice://10.0.0.5:40003?password=tk%2B%2F%3D%26%3B%25',
      ),
    );
    assert.equal(
      argv({ ...spice, ticket: null, screen: windowed, host: 'fd00::5' }, ['remote-viewer']),
      lines('remote-viewer', '--title', title, 'spice://[fd00::5]:40003'),
    );
    assert.equal(
      argv({ ...vnc, ticket: null }, ['remote-viewer']),
      lines('remote-viewer', '--full-screen', '--title', title, 'vnc://10.0.0.5:40002'),
    );
  });

  it('vncviewer gets the ticket through its environment, and HOST::PORT', () => {
    assert.equal(
      argv(vnc, ['vncviewer']),
      lines('env', 'VNC_PASSWORD=Xy7pQ2z9', 'vncviewer', '-FullScreen', '10.0.0.5::40002'),
    );
    assert.equal(
      argv({ ...vnc, ticket: null, screen: windowed }, ['vncviewer']),
      lines('vncviewer', '-geometry', '1280x800', '10.0.0.5::40002'),
    );
  });

  it('takes the first client in the terminal’s order that fits', () => {
    assert.match(argv(rdp, ['vncviewer', 'rdesktop', 'xfreerdp']), /^rdesktop\n/);
    assert.match(argv(rdp, ['remote-viewer', 'xfreerdp', 'rdesktop']), /^xfreerdp\n/);
    assert.match(argv(spice, ['vncviewer', 'xfreerdp', 'remote-viewer']), /^remote-viewer\n/);
    assert.match(argv(vnc, ['remote-viewer', 'vncviewer']), /^env\nVNC_PASSWORD=/);
    assert.match(
      argv({ ...vnc, ticket: null }, ['remote-viewer', 'vncviewer']),
      /^remote-viewer\n/,
    );
    assert.equal(renderConfig(rdp, 'args', ['xfreerdp']).contentType, 'text/plain; charset=utf-8');
  });

  it('refuses when no client fits, naming the protocol and the clients that would', () => {
    const cases: [TerminalConfig, string[], string][] = [
      [rdp, ['remote-viewer', 'vncviewer'], 'xfreerdp, rdesktop'],
      [spice, ['xfreerdp', 'vncviewer'], 'remote-viewer'],
      [vnc, ['remote-viewer', 'rdesktop'], 'vncviewer, or remote-viewer with format=vv'],
    ];
    for (const [config, clients, fitting] of cases) {
      const error = refusal(() => argv(config, clients), 'TERMINAL_CLIENT_NONE');
      assert.equal(error.status, 409);
      assert.equal(
        formatMessage(error.code, error.params),
        `none of the clients ${clients.join(', ')} can open this VM's ${config.protocol} display from its command line: install one of ${fitting}`,
      );
    }
    assert.match(refusal(() => argv(rdp, []), 'TERMINAL_CLIENT_NONE').message, /\(none given\)/);
  });

  it('every client has an argv for each protocol it speaks, one argument per line', () => {
    for (const client of terminalClients) {
      for (const config of [rdp, vnc, { ...vnc, ticket: null }, spice]) {
        let body: string;
        try {
          body = argv(config, [client]);
        } catch (error) {
          assert.ok(error instanceof LabvirtError && error.code === 'TERMINAL_CLIENT_NONE');
          continue;
        }
        assert.ok(body.endsWith('\n'));
        assert.ok(!body.slice(0, -1).split('\n').includes(''), `an empty argument: ${body}`);
        assert.ok(body.startsWith(client) || body.startsWith('env\n'));
      }
    }
  });
});

describe('what a config may contain', () => {
  it('refuses a host or port that is not one, and a ticket that could break a line', () => {
    for (const host of [
      '10.0.0.5\n/evil',
      'a b',
      '',
      '-oProxyCommand=x',
      'x;reboot',
      'é.example',
    ]) {
      const error = refusal(
        () => renderConfig({ ...rdp, host }, 'args', ['xfreerdp']),
        'TERMINAL_DISPLAY_INVALID',
      );
      assert.equal(error.status, 500);
      assert.equal(error.params.field, 'host');
    }
    for (const port of [0, 65536, 1.5]) {
      refusal(() => renderConfig({ ...rdp, port }, 'json', []), 'TERMINAL_DISPLAY_INVALID');
    }
    const error = refusal(
      () => renderConfig({ ...vnc, ticket: 'QQ\nZZ' }, 'args', ['vncviewer']),
      'TERMINAL_DISPLAY_INVALID',
    );
    assert.doesNotMatch(error.message, /QQ|ZZ/, 'the ticket is not shown');
    for (const host of ['labvirt-gw.example.org', 'gw', '192.168.0.1', '::1', 'fd00::5']) {
      assert.doesNotThrow(() => renderConfig({ ...rdp, host }, 'args', ['xfreerdp']));
    }
  });

  it('keeps names on one line in every format', () => {
    const config = { ...vnc, terminal: { name: 'pc\n07\r\u2028x', mac: base.terminal.mac } };
    for (const format of ['env', 'vv'] as const) {
      assert.match(renderConfig(config, format, []).body, /pc 07 {2}x/);
    }
    const args = renderConfig({ ...spice, ...config, protocol: 'spice' }, 'args', [
      'remote-viewer',
    ]);
    assert.equal(args.body.split('\n').length, 6);
  });
});

describe('one line per key or argument, whatever the names', () => {
  it('holds for any terminal, lab, profile and VM name', () => {
    // Line breaks and quotes often, any other code point too.
    const unit = fc.oneof(
      fc.constantFrom('\n', '\r', '\u2028', '\u2029', '\u0085', '\t', '\u0000', "'", '"', '$', '`'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    const name = fc.string({ maxLength: 40, unit });
    fc.assert(
      fc.property(name, name, name, name, (terminal, lab, profile, vm) => {
        const named = { terminal: { name: terminal, mac: base.terminal.mac }, lab, profile, vm };
        const count = (
          config: TerminalConfig,
          format: 'env' | 'vv' | 'rdp' | 'args',
          client = 'xfreerdp',
        ) =>
          renderConfig({ ...config, ...named }, format, [client as 'xfreerdp']).body.split(
            /\r?\n|\r|\u2028|\u2029/,
          ).length;
        assert.equal(count(vnc, 'env'), 13);
        assert.equal(count(vnc, 'vv'), 9);
        assert.equal(count(rdp, 'rdp'), 11);
        assert.equal(count(rdp, 'args'), 7);
        assert.equal(count(rdp, 'args', 'rdesktop'), 6);
        assert.equal(count(spice, 'args', 'remote-viewer'), 6);
      }),
    );
  });
});

describe('the env format in a real shell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-env-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pwned = join(dir, 'pwned');
  const hostile = {
    ...vnc,
    ticket: `a'b"c$d\`e`,
    terminal: {
      name: `it's "pc 7" $(touch ${pwned}) \`touch ${pwned}\` $HOME \\ '' end`,
      mac: base.terminal.mac,
    },
    lab: "'; touch " + pwned + "; '",
    profile: 'tab\there',
    vm: '$((1+1))',
    screen: windowed,
  };
  const keys = [
    'LABVIRT_PROTOCOL',
    'LABVIRT_HOST',
    'LABVIRT_PORT',
    'LABVIRT_TICKET',
    'LABVIRT_TICKET_EXPIRES_AT',
    'LABVIRT_FULLSCREEN',
    'LABVIRT_WIDTH',
    'LABVIRT_HEIGHT',
    'LABVIRT_TERMINAL',
    'LABVIRT_LAB',
    'LABVIRT_PROFILE',
    'LABVIRT_VM',
  ];
  const expected = [
    'vnc',
    '10.0.0.5',
    '40002',
    `a'b"c$d\`e`,
    expires,
    '0',
    '1280',
    '800',
    hostile.terminal.name,
    hostile.lab,
    'tab here',
    '$((1+1))',
  ];
  const file = join(dir, 'config.env');
  writeFileSync(file, renderConfig(hostile, 'env', []).body);
  const print = `. "$1"; printf '%s\\n' ${keys.map((key) => `"$${key}"`).join(' ')}`;

  for (const shell of [['dash'], ['busybox', 'sh']]) {
    it(`sources verbatim under ${shell.join(' ')}, running nothing`, () => {
      const out = execFileSync(shell[0]!, [...shell.slice(1), '-c', print, 'sh', file], {
        encoding: 'utf8',
      });
      assert.deepEqual(out.split('\n').slice(0, -1), expected);
      assert.equal(existsSync(pwned), false, 'a value ran a command');
    });
  }

  it('reads line by line: one key per line', () => {
    const body = renderConfig(hostile, 'env', []).body;
    assert.deepEqual(
      body
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('=')[0]),
      keys,
    );
  });

  it('shQuote escapes single quotes the sh way', () => {
    assert.equal(shQuote(`it's`), `'it'\\''s'`);
    assert.equal(shQuote(''), `''`);
  });
});

// The agent's pure parts: join tokens and where they may be used, the controller-secret
// check, the agent API's error mapping back into LabvirtErrors, the event stream's parser,
// and the idempotent start of a VM by name (over a fake HostAgent: the seam's unit test).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAgentName, joinTarget, parseJoinToken } from '../../src/agent/agent-identity.js';
import { bearerMatches, bearerToken, sha256Hex } from '../../src/agent/api/agent-auth.js';
import { IdempotentStarts } from '../../src/agent/api/idempotent-starts.js';
import type { AgentVm, AgentVmSpec } from '../../src/agent/host-agent.js';
import { answerError, transportError } from '../../src/agent/remote/agent-errors.js';
import { RemoteAgent } from '../../src/agent/remote/remote-agent.js';
import { parseSse } from '../../src/agent/remote/sse-parse.js';
import { formatMessage, isLabvirtError, LabvirtError } from '../../src/domain/errors.js';

const SECRET = 'A'.repeat(40) + '_-9';
const PIN = 'ab'.repeat(32);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isLabvirtError(error), String(error));
    return `${error.code}: ${formatMessage(error.code, error.params)}`;
  }
  return 'no error';
}

describe('join tokens', () => {
  it('parses lvj1.<secret>.<sha256|none>', () => {
    assert.deepEqual(parseJoinToken(`lvj1.${SECRET}.${PIN.toUpperCase()}`), {
      secret: SECRET,
      controllerCertSha256: PIN,
    });
    assert.deepEqual(parseJoinToken(` lvj1.${SECRET}.none\n`), {
      secret: SECRET,
      controllerCertSha256: null,
    });
  });

  it('says what is wrong with a damaged token', () => {
    assert.equal(
      code(() => parseJoinToken('hello')),
      'OPTION_INVALID: --token: not a LabVirt join token: it looks like lvj1.SECRET.FINGERPRINT (copy it whole from labvirt host add)',
    );
    assert.equal(
      code(() => parseJoinToken(`lvj2.${SECRET}.none`)),
      'OPTION_INVALID: --token: not a LabVirt join token: it looks like lvj1.SECRET.FINGERPRINT (copy it whole from labvirt host add)',
    );
    assert.equal(
      code(() => parseJoinToken(`lvj1.${SECRET.slice(1)}.none`)),
      'OPTION_INVALID: --token: the token’s secret part is damaged (copy the token whole from labvirt host add)',
    );
    assert.equal(
      code(() => parseJoinToken(`lvj1.${SECRET}.${PIN.slice(2)}`)),
      'OPTION_INVALID: --token: the token’s certificate fingerprint is damaged (copy the token whole from labvirt host add)',
    );
  });

  it('pins https, allows plain http to loopback only, and the token must agree', () => {
    const pinned = parseJoinToken(`lvj1.${SECRET}.${PIN}`);
    const plain = parseJoinToken(`lvj1.${SECRET}.none`);
    assert.deepEqual(joinTarget('https://ctl.example:8443/some/path', pinned), {
      url: 'https://ctl.example:8443',
      pin: PIN,
    });
    assert.deepEqual(joinTarget('http://127.0.0.1:8080', plain), {
      url: 'http://127.0.0.1:8080',
      pin: null,
    });
    assert.deepEqual(joinTarget('http://[::1]:8080', plain), {
      url: 'http://[::1]:8080',
      pin: null,
    });
    assert.equal(
      code(() => joinTarget('http://ctl.example:8080', plain)),
      'JOIN_INSECURE: joining over plain HTTP is only allowed to a controller on this machine (loopback): use an https:// URL',
    );
    assert.match(
      code(() => joinTarget('https://ctl.example', plain)),
      /^OPTION_INVALID: --token: this token is for a controller serving plain HTTP/,
    );
    assert.match(
      code(() => joinTarget('http://localhost:8080', pinned)),
      /^OPTION_INVALID: --token: this token is for a controller serving HTTPS/,
    );
    assert.match(
      code(() => joinTarget('ftp://ctl.example', pinned)),
      /^OPTION_INVALID: --join: use an https:\/\/ URL/,
    );
    assert.match(
      code(() => joinTarget('not a url', pinned)),
      /^OPTION_INVALID: --join: give the controller’s URL/,
    );
  });

  it('checks host names like the controller does', () => {
    assert.equal(checkAgentName('host-1.lab'), 'host-1.lab');
    assert.equal(
      code(() => checkAgentName('-bad')),
      'HOST_NAME_INVALID: host name "-bad" is not valid: use 1-63 letters, digits, "." or "-"',
    );
  });
});

describe('the controller secret', () => {
  it('matches the bearer token against the stored sha256 only', () => {
    const hash = sha256Hex('s3cret');
    assert.equal(hash, '1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0');
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerMatches('Bearer s3cret', hash), true);
    assert.equal(bearerMatches('bearer s3cret', hash.toUpperCase()), true);
    assert.equal(bearerMatches('Bearer s3cret2', hash), false);
    assert.equal(bearerMatches(undefined, hash), false);
    assert.equal(bearerMatches('Bearer s3cret', undefined), false);
    assert.equal(bearerMatches('Bearer s3cret', 'abc'), false);
  });
});

describe('agent errors as LabvirtErrors', () => {
  const errno = (c: string, message = c) => Object.assign(new Error(message), { code: c });
  const show = (error: LabvirtError) => `${error.code}: ${error.message}`;

  it('maps transport failures', () => {
    assert.equal(
      show(transportError('h1', errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'))),
      'AGENT_UNREACHABLE: host "h1" does not answer: connect ECONNREFUSED 127.0.0.1:9',
    );
    assert.equal(
      show(transportError('h1', errno('ETIMEDOUT', 'no answer within 30 s'))),
      'AGENT_UNREACHABLE: host "h1" does not answer: no answer within 30 s',
    );
    for (const c of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'ERR_LABVIRT_PIN_MISMATCH',
      'SELF_SIGNED_CERT_IN_CHAIN',
    ]) {
      assert.equal(
        show(transportError('h1', errno(c))),
        'AGENT_CERTIFICATE_MISMATCH: host "h1" answered with a TLS certificate other than the one it enrolled with',
      );
    }
    assert.equal(
      show(transportError('h1', new Error('odd'))),
      'AGENT_REQUEST_FAILED: host "h1" failed: odd',
    );
    const own = new LabvirtError('VM_NOT_FOUND', { name: 'x' });
    assert.equal(transportError('h1', own), own);
  });

  it('rethrows the agent’s problem with its code and parameters', () => {
    const problem = JSON.stringify({
      type: 'urn:labvirt:problem:vm-already-running',
      status: 409,
      code: 'VM_ALREADY_RUNNING',
      detail: 'a VM named "v1" is already running',
      params: { name: 'v1' },
    });
    const error = answerError('h1', 409, 'application/problem+json; charset=utf-8', problem);
    assert.equal(show(error), 'VM_ALREADY_RUNNING: a VM named "v1" is already running');
    assert.deepEqual(error.params, { name: 'v1' });
    assert.equal(error.status, 409);
    assert.equal(
      show(answerError('h1', 418, 'application/problem+json', '{"code":"NO_SUCH_CODE"}')),
      'AGENT_REQUEST_FAILED: host "h1" failed: HTTP 418: {"code":"NO_SUCH_CODE"}',
    );
    assert.equal(
      show(answerError('h1', 502, 'text/html', '<h1>Bad\n gateway</h1>')),
      'AGENT_REQUEST_FAILED: host "h1" failed: HTTP 502: <h1>Bad gateway</h1>',
    );
    assert.equal(
      show(answerError('h1', 500, undefined, '')),
      'AGENT_REQUEST_FAILED: host "h1" failed: HTTP 500',
    );
  });
});

describe('the event stream parser', () => {
  it('reads complete blocks, skips comments, keeps the rest', () => {
    const { events, rest } = parseSse(
      ': open\n\nevent: vm-ended\ndata: {"name":"a"}\n\n: ping\n\ndata: x\r\ndata: y\r\n\r\nevent: vm-ended\ndata: {"na',
    );
    assert.deepEqual(events, [
      { event: 'vm-ended', data: '{"name":"a"}' },
      { event: 'message', data: 'x\ny' },
    ]);
    assert.equal(rest, 'event: vm-ended\ndata: {"na');
  });
});

describe('idempotent starts by name', () => {
  const vmOf = (spec: AgentVmSpec, pid: number): AgentVm => ({
    name: spec.name,
    uuid: spec.uuid,
    pid,
    state: 'running',
    runStatus: 'running',
    mac: spec.nic.mac,
    vncSocket: '/x',
    discardWrites: true,
    startedAt: '2026-01-01T00:00:00.000Z',
    display: null,
    connections: [],
  });
  const spec = (name: string, uuid: string): AgentVmSpec => ({
    name,
    uuid,
    memoryMiB: 32,
    cpus: 1,
    nic: { model: 'virtio', mac: '52:54:00:00:00:01' },
    diskBus: 'ide',
    image: { profileId: 'p', versionId: 'v' },
    writes: 'discard',
  });

  it('shares a start in flight, answers a running one, refuses another uuid', async () => {
    const running = new Map<string, AgentVm>();
    let starts = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const starter = new IdempotentStarts({
      vm: async (name) => running.get(name),
      startVm: async (s) => {
        starts++;
        await gate;
        const vm = vmOf(s, 100 + starts);
        running.set(s.name, vm);
        return vm;
      },
    });
    const a = spec('v1', '11111111-1111-4111-8111-111111111111');
    const first = starter.start(a);
    const second = starter.start({ ...a, uuid: a.uuid.toUpperCase() });
    await assert.rejects(starter.start(spec('v1', '22222222-2222-4222-8222-222222222222')), {
      code: 'VM_ALREADY_RUNNING',
    });
    release();
    assert.equal((await first).pid, 101);
    assert.equal((await second).pid, 101);
    assert.equal((await starter.start(a)).pid, 101);
    await assert.rejects(starter.start(spec('v1', '22222222-2222-4222-8222-222222222222')), {
      code: 'VM_ALREADY_RUNNING',
    });
    assert.equal(starts, 1);
  });

  it('lets a failed start be tried again', async () => {
    let attempts = 0;
    const starter = new IdempotentStarts({
      vm: async () => undefined,
      startVm: async (s) => {
        attempts++;
        if (attempts === 1) throw new Error('QEMU failed');
        return vmOf(s, 7);
      },
    });
    const a = spec('v2', '33333333-3333-4333-8333-333333333333');
    await assert.rejects(starter.start(a), /QEMU failed/);
    assert.equal((await starter.start(a)).pid, 7);
  });
});

describe('a RemoteAgent of an unusable hosts row', () => {
  it('is made, and fails each request with the reason', async () => {
    const cases = [
      [{ url: '', certificate: '' }, 'its address is not an agent URL: (none)'],
      [
        { url: 'http://10.0.0.5:8445', certificate: '' },
        'its address is not an agent URL: http://10.0.0.5:8445',
      ],
      [
        { url: 'https://10.0.0.5:8445', certificate: 'junk' },
        'its enrolled certificate is not a valid PEM certificate',
      ],
    ] as const;
    for (const [row, reason] of cases) {
      const agent = new RemoteAgent({ hostName: 'h9', secret: 's', ...row });
      for (const call of [() => agent.report(), () => agent.openDisplay('v')]) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(isLabvirtError(error));
          assert.equal(error.message, `host "h9" failed: ${reason}`);
          return true;
        });
      }
      await agent.close();
    }
  });
});

// The pure bits of image transfer: the Range header the controller honours, the pin's
// normal form, and problem+json answers back into LabvirtErrors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { problemOfBody } from '../../src/agent/remote/agent-errors.js';
import { fingerprintToHex } from '../../src/agent/remote/pinned-tls.js';
import { rangeStart } from '../../src/controller/routes/agent-images.js';

describe('image transfer', () => {
  it('reads only `bytes=N-` ranges', () => {
    const cases: [string | undefined, number | undefined][] = [
      [undefined, undefined],
      ['bytes=0-', 0],
      ['bytes=1048576-', 1048576],
      [' bytes=12- ', 12],
      ['bytes=0-99', undefined],
      ['bytes=-500', undefined],
      ['bytes=1-,5-', undefined],
      ['items=3-', undefined],
      ['bytes=1234567890123456-', undefined],
    ];
    assert.deepEqual(
      cases.map(([header]) => rangeStart(header)),
      cases.map(([, start]) => start),
    );
  });

  it('compares pins in one form', () => {
    assert.equal(fingerprintToHex('AB:CD:0F'), 'abcd0f');
    assert.equal(fingerprintToHex('abcd0f'), 'abcd0f');
  });

  it('turns a LabVirt problem back into its error, and nothing else', () => {
    const error = problemOfBody(
      JSON.stringify({
        code: 'HOST_OFFLINE',
        params: { host: 'h1', state: 'offline', reason: 'x' },
      }),
    );
    assert.equal(error?.code, 'HOST_OFFLINE');
    assert.equal(error?.message, 'host "h1" is offline: x');
    assert.equal(problemOfBody(JSON.stringify({ code: 'AGENT_CREDENTIAL_INVALID' }))?.status, 401);
    assert.equal(problemOfBody(JSON.stringify({ code: 'NOT_A_CODE' })), undefined);
    assert.equal(problemOfBody('<html>'), undefined);
  });
});

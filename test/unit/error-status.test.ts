// A fault in the server's own configuration is a conflict (409), not a bad request (400).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorStatus } from '../../src/domain/errors.js';

describe('error statuses', () => {
  it('answers a missing bridge or a bridged RDP VM without an address with 409', () => {
    assert.equal(errorStatus('DISPLAY_NEEDS_ADDRESS'), 409);
    assert.equal(errorStatus('BRIDGE_NOT_FOUND'), 409);
  });
});

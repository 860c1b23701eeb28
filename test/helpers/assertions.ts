import assert from 'node:assert/strict';
import { LabvirtError, type ErrorCode } from '../../src/domain/errors.js';

/** For assert.rejects/throws: a LabvirtError with this code and these parameters. */
export function fails(code: ErrorCode, params: Record<string, string> = {}) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LabvirtError, String(error));
    assert.equal(error.code, code);
    for (const [key, value] of Object.entries(params)) assert.equal(error.params[key], value);
    return true;
  };
}

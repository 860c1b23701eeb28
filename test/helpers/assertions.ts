import assert from 'node:assert/strict';
import { LabvirtError, paramText, type ErrorCode } from '../../src/domain/errors.js';

/** For assert.rejects/throws: a LabvirtError with this code and these parameters. */
export function fails(code: ErrorCode, params: Record<string, string | number> = {}) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LabvirtError, String(error));
    assert.equal(error.code, code);
    // A translatable parameter compares by its English text.
    for (const [key, value] of Object.entries(params))
      assert.equal(
        typeof value === 'number' ? error.params[key] : paramText(error.params[key]),
        value,
      );
    return true;
  };
}

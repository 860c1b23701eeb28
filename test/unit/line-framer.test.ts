import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { LineFramer } from '../../src/qemu/qmp/line-framer.js';

function isProtocolError(error: unknown): boolean {
  assert.ok(error instanceof LabvirtError);
  assert.equal(error.code, 'QMP_PROTOCOL');
  return true;
}

describe('LineFramer', () => {
  it('returns one line per newline, without the terminator', () => {
    const framer = new LineFramer();
    assert.deepEqual(framer.push('{"a":1}\n'), ['{"a":1}']);
    assert.equal(framer.pending, '');
  });

  it('returns every line of a chunk holding several messages, in order', () => {
    const framer = new LineFramer();
    assert.deepEqual(framer.push('{"a":1}\n{"b":2}\n{"c":'), ['{"a":1}', '{"b":2}']);
    assert.equal(framer.pending, '{"c":');
    assert.deepEqual(framer.push('3}\n'), ['{"c":3}']);
  });

  it('joins a line split across many chunks', () => {
    const framer = new LineFramer();
    const message = '{"return": {"status": "running"}, "id": 7}\n';
    const lines = [...message].flatMap((char) => framer.push(char));
    assert.deepEqual(lines, [message.trimEnd()]);
  });

  it('accepts \\r\\n endings, even with \\r and \\n in different chunks', () => {
    const framer = new LineFramer();
    assert.deepEqual(framer.push('{"a":1}\r\n{"b":2}\r'), ['{"a":1}']);
    assert.deepEqual(framer.push('\n'), ['{"b":2}']);
  });

  it('skips blank lines', () => {
    const framer = new LineFramer();
    assert.deepEqual(framer.push('\n\r\n  \n{"a":1}\n\n'), ['{"a":1}']);
  });

  it('decodes a multi-byte UTF-8 character split between two Buffers', () => {
    const framer = new LineFramer();
    const bytes = Buffer.from('{"desc":"ñandú €"}\n', 'utf8');
    // Split inside the three-byte "€" (and again inside "ú"): naive per-chunk decoding
    // would produce U+FFFD replacement characters.
    const euro = bytes.indexOf(Buffer.from('€'));
    const u = bytes.indexOf(Buffer.from('ú'));
    const chunks = [bytes.subarray(0, u + 1), bytes.subarray(u + 1, euro + 1)];
    chunks.push(bytes.subarray(euro + 1, euro + 2), bytes.subarray(euro + 2));
    const lines = chunks.flatMap((chunk) => framer.push(chunk));
    assert.deepEqual(lines, ['{"desc":"ñandú €"}']);
  });

  it('decodes one byte at a time', () => {
    const framer = new LineFramer();
    const bytes = Buffer.from('{"x":"日本語"}\n{"y":"ü"}\n');
    const lines = [...bytes].flatMap((byte) => framer.push(Uint8Array.of(byte)));
    assert.deepEqual(lines, ['{"x":"日本語"}', '{"y":"ü"}']);
  });

  it('raises a protocol error when an unterminated line outgrows the limit', () => {
    const framer = new LineFramer({ maxLineLength: 10 });
    assert.deepEqual(framer.push('0123456789'), []); // exactly the limit is fine
    assert.throws(() => framer.push('x'), isProtocolError);
    // The stream is lost: the framer does not resynchronise on a later newline.
    assert.throws(() => framer.push('\n{}\n'), isProtocolError);
  });

  it('raises a protocol error for a complete line over the limit in one chunk', () => {
    const framer = new LineFramer({ maxLineLength: 10 });
    assert.deepEqual(framer.push('0123456789\r\n'), ['0123456789']); // \r not counted
    assert.throws(() => framer.push('01234567890\n'), isProtocolError);
  });

  it('uses a 16 MiB limit by default', () => {
    const framer = new LineFramer();
    assert.deepEqual(framer.push('x'.repeat(16 * 1024 * 1024)), []);
    assert.throws(() => framer.push('x'), isProtocolError);
  });
});

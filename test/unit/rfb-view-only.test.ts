// The console's client-to-server RFB filter, on golden byte sequences (the messages noVNC
// builds, core/rfb.js RFB.messages), each fed whole, a byte at a time, and split in two at
// every offset: what reaches the server must not depend on where the chunks broke.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RfbClientFilter } from '../../src/controller/console/rfb-view-only.js';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

const VERSION = Buffer.from('RFB 003.008\n', 'latin1');
/** Security type None, then an exclusive ClientInit (which goes on as shared). */
const HANDSHAKE_NONE = Buffer.concat([VERSION, hex('01'), hex('00')]);
const HANDSHAKE_NONE_OUT = Buffer.concat([VERSION, hex('01'), hex('01')]);
const RESPONSE = hex('00112233445566778899aabbccddeeff');
/** VNC Authentication: the type, the 16-byte response, a shared ClientInit. */
const HANDSHAKE_VNC = Buffer.concat([VERSION, hex('02'), RESPONSE, hex('01')]);

const PIXEL_FORMAT = hex('00 000000 20 18 00 01 00ff 00ff 00ff 00 08 10 000000');
// Tight, QEMU extended key event, ExtendedMouseButtons, DesktopSize.
const ENCODINGS = hex('02 00 0004 00000007 fffffefe fffffec4 ffffff21');
const ENCODINGS_OUT = hex('02 00 0003 00000007 fffffefe ffffff21');
const UPDATE_REQUEST = hex('03 00 0000 0000 0320 0258');
const KEY = hex('04 01 0000 00000061');
const POINTER = hex('05 01 000a 0014');
const CUT_TEXT = hex('06 000000 00000002 6869');
const CUT_TEXT_EXTENDED = hex('06 000000 fffffffb 00000001 ab');
const QEMU_KEY = hex('ff 00 0001 00000061 0000001e');
const AUDIO_ENABLE = hex('ff 01 0000');
const AUDIO_FORMAT = hex('ff 01 0002 03 02 0000ac44');
const FENCE = hex('f8 000000 80000002 04 deadbeef');
const CONTINUOUS = hex('96 01 0000 0000 0320 0258');
const XVP = hex('fa 00 01 02');
const DESKTOP_SIZE = hex('fb 00 0400 0300 01 00 00000000 0000 0000 0400 0300 00000000');
const UPDATE_INCREMENTAL = hex('03 01 0000 0000 0320 0258');

/** Every message type a viewer may send, input and all. */
const VIEWER_MESSAGES = [
  PIXEL_FORMAT,
  ENCODINGS,
  UPDATE_REQUEST,
  KEY,
  POINTER,
  CUT_TEXT,
  CUT_TEXT_EXTENDED,
  QEMU_KEY,
  AUDIO_ENABLE,
  AUDIO_FORMAT,
  FENCE,
  CONTINUOUS,
  XVP,
  DESKTOP_SIZE,
  UPDATE_INCREMENTAL,
];
/** What of them reaches the server: no input, and no ExtendedMouseButtons asked for. */
const VIEWER_FORWARDED = [
  PIXEL_FORMAT,
  ENCODINGS_OUT,
  UPDATE_REQUEST,
  AUDIO_ENABLE,
  AUDIO_FORMAT,
  FENCE,
  CONTINUOUS,
  UPDATE_INCREMENTAL,
];

interface Outcome {
  readonly forward: string;
  readonly refused: string | undefined;
}

function feed(viewOnly: boolean, chunks: readonly Buffer[]): Outcome {
  const filter = new RfbClientFilter({ viewOnly });
  const out: Buffer[] = [];
  let refused: string | undefined;
  for (const chunk of chunks) {
    const result = filter.push(chunk);
    out.push(result.forward);
    refused ??= result.refused;
  }
  return { forward: Buffer.concat(out).toString('hex'), refused };
}

/** The outcome fed whole, byte by byte, and split in two (and three) at every offset. */
function assertEverySplit(viewOnly: boolean, input: Buffer, expected: Outcome): void {
  assert.deepEqual(feed(viewOnly, [input]), expected, 'whole');
  assert.deepEqual(
    feed(
      viewOnly,
      [...input].map((byte) => Buffer.from([byte])),
    ),
    expected,
    'byte by byte',
  );
  for (let i = 0; i <= input.length; i++) {
    const two = feed(viewOnly, [input.subarray(0, i), input.subarray(i)]);
    assert.deepEqual(two, expected, `split at ${i}`);
    const j = Math.min(input.length, i + 7);
    const three = feed(viewOnly, [input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
    assert.deepEqual(three, expected, `split at ${i} and ${j}`);
  }
}

const ok = (...parts: Buffer[]): Outcome => ({
  forward: Buffer.concat(parts).toString('hex'),
  refused: undefined,
});

describe('RFB view-only filter', () => {
  it('passes a viewer’s handshake (None) with ClientInit made shared, and drops its input', () => {
    assertEverySplit(
      true,
      Buffer.concat([HANDSHAKE_NONE, ...VIEWER_MESSAGES]),
      ok(HANDSHAKE_NONE_OUT, ...VIEWER_FORWARDED),
    );
  });

  it('passes VNC Authentication’s 16-byte response untouched', () => {
    assertEverySplit(
      true,
      Buffer.concat([HANDSHAKE_VNC, KEY, UPDATE_REQUEST, POINTER]),
      ok(HANDSHAKE_VNC, UPDATE_REQUEST),
    );
  });

  it('accepts version 3.7 like 3.8', () => {
    const v37 = Buffer.from('RFB 003.007\n', 'latin1');
    assertEverySplit(
      true,
      Buffer.concat([v37, hex('01 01'), POINTER, UPDATE_REQUEST]),
      ok(v37, hex('01 01'), UPDATE_REQUEST),
    );
  });

  it('skips a long clipboard message as it comes, without losing the next message', () => {
    const text = Buffer.alloc(100_000, 0x41);
    const cut = Buffer.concat([hex('06 000000'), hex('000186a0'), text]);
    const input = Buffer.concat([HANDSHAKE_NONE, cut, UPDATE_REQUEST]);
    const expected = ok(HANDSHAKE_NONE_OUT, UPDATE_REQUEST);
    assert.deepEqual(feed(true, [input]), expected);
    const pieces: Buffer[] = [];
    for (let i = 0; i < input.length; i += 997) pieces.push(input.subarray(i, i + 997));
    assert.deepEqual(feed(true, pieces), expected);
  });

  it('frames the longest SetEncodings fed a byte at a time (kept, not parsed again each byte)', () => {
    const count = 65_535;
    const message = Buffer.alloc(4 + 4 * count);
    message.writeUInt8(2, 0);
    message.writeUInt16BE(count, 2);
    for (let i = 0; i < count; i++) message.writeInt32BE(i === 1000 ? -316 : i, 4 + 4 * i);
    const expected = Buffer.alloc(4 + 4 * (count - 1));
    expected.writeUInt8(2, 0);
    expected.writeUInt16BE(count - 1, 2);
    for (let i = 0, j = 0; i < count; i++) if (i !== 1000) expected.writeInt32BE(i, 4 + 4 * j++);
    const input = Buffer.concat([HANDSHAKE_NONE, message, UPDATE_REQUEST]);
    const outcome = feed(
      true,
      [...input].map((byte) => Buffer.from([byte])),
    );
    assert.deepEqual(outcome, ok(HANDSHAKE_NONE_OUT, expected, UPDATE_REQUEST));
  });

  it('leaves SetEncodings as it is when it asks for nothing refused', () => {
    const encodings = hex('02 00 0002 00000000 ffffff21');
    assertEverySplit(
      true,
      Buffer.concat([HANDSHAKE_NONE, encodings]),
      ok(HANDSHAKE_NONE_OUT, encodings),
    );
  });

  it('passes a full-access client’s messages as they are, input included', () => {
    const messages = [...VIEWER_MESSAGES, hex('07 aa bb')];
    assertEverySplit(
      false,
      Buffer.concat([HANDSHAKE_VNC, ...messages]),
      ok(HANDSHAKE_VNC, ...messages),
    );
    assertEverySplit(false, Buffer.concat([HANDSHAKE_NONE, KEY]), ok(HANDSHAKE_NONE_OUT, KEY));
  });

  describe('ends a stream it cannot frame, after what came before', () => {
    const cases: [string, boolean, Buffer, Buffer, string][] = [
      [
        'an unknown message type',
        true,
        Buffer.concat([HANDSHAKE_NONE, UPDATE_REQUEST, hex('07 000000'), UPDATE_REQUEST]),
        Buffer.concat([HANDSHAKE_NONE_OUT, UPDATE_REQUEST]),
        'unknown client message type 7',
      ],
      [
        'an unknown QEMU message',
        true,
        Buffer.concat([HANDSHAKE_NONE, hex('ff 02 0000'), UPDATE_REQUEST]),
        HANDSHAKE_NONE_OUT,
        'unknown QEMU client message 2',
      ],
      [
        'an unknown QEMU audio operation',
        true,
        Buffer.concat([HANDSHAKE_NONE, AUDIO_ENABLE, hex('ff 01 0003')]),
        Buffer.concat([HANDSHAKE_NONE_OUT, AUDIO_ENABLE]),
        'unknown QEMU audio operation 3',
      ],
      [
        'protocol version 3.3 (its security type is the server’s choice)',
        false,
        Buffer.from('RFB 003.003\n\x01', 'latin1'),
        Buffer.alloc(0),
        'unsupported protocol version "RFB 003.003\\n"',
      ],
      [
        'a security type QEMU does not offer here (VeNCrypt)',
        false,
        Buffer.concat([VERSION, hex('13 0002')]),
        VERSION,
        'unsupported security type 19',
      ],
    ];
    for (const [name, viewOnly, input, forwarded, reason] of cases) {
      it(name, () => {
        assertEverySplit(viewOnly, input, { forward: forwarded.toString('hex'), refused: reason });
      });
    }

    it('and forwards nothing more once it refused', () => {
      const filter = new RfbClientFilter({ viewOnly: true });
      assert.equal(
        filter.push(Buffer.concat([HANDSHAKE_NONE, hex('09')])).refused,
        'unknown client message type 9',
      );
      const after = filter.push(UPDATE_REQUEST);
      assert.equal(after.forward.length, 0);
      assert.equal(after.refused, 'unknown client message type 9');
    });
  });
});

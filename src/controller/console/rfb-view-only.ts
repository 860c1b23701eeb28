// The client-to-server half of the console's RFB stream (RFC 6143), filtered. The
// handshake is framed for everyone: the versions QEMU and noVNC speak (3.7, 3.8), the
// security type QEMU offers here (None, or VNC Authentication on a password display) and
// ClientInit, whose shared flag is forced on so a console never disconnects the
// terminal's own client (QEMU honours an exclusive ClientInit by dropping the others).
// After it, a full-access client's bytes pass as they are; a view-only client's are framed
// message by message and its input (keys, pointer, clipboard, QEMU's extended key event,
// desktop resizing, xvp power operations) is dropped. A message that cannot be framed ends
// the stream: guessing its length would let later bytes through unchecked.

export interface RfbFilterResult {
  /** The bytes to pass on to the server, in order (may be empty). */
  readonly forward: Buffer;
  /** Set once the stream cannot be framed: close both ends. */
  readonly refused?: string;
}

type State = 'version' | 'security' | 'vnc-auth' | 'client-init' | 'messages' | 'raw' | 'refused';

/** What to do with the message at the start of the buffer. */
type Frame =
  | { readonly action: 'need'; readonly bytes: number }
  | { readonly action: 'forward' | 'drop'; readonly length: number; readonly next?: State }
  | {
      readonly action: 'replace';
      readonly length: number;
      readonly bytes: Buffer;
      readonly next?: State;
    }
  | { readonly action: 'refuse'; readonly reason: string };

const VERSIONS = new Set(['RFB 003.008\n', 'RFB 003.007\n']);
const SECURITY_NONE = 1;
const SECURITY_VNC = 2;
/**
 * Pseudo-encodings a view-only client may not ask for: ExtendedMouseButtons makes the
 * server expect 7-byte PointerEvents, which the filter could then no longer frame.
 */
const VIEW_ONLY_REFUSED_ENCODINGS = new Set([-316]);

const EMPTY = Buffer.alloc(0);

export class RfbClientFilter {
  readonly viewOnly: boolean;
  #state: State = 'version';
  /** Bytes of a message not yet whole, and how many it needs at least. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #needed = 0;
  /** Bytes of a dropped message still to come (a long ClientCutText is skipped, not kept). */
  #skip = 0;
  #refused: string | undefined;

  constructor(options: { readonly viewOnly: boolean }) {
    this.viewOnly = options.viewOnly;
  }

  /** Feeds bytes as they came from the client, split anywhere. */
  push(chunk: Uint8Array): RfbFilterResult {
    if (this.#state === 'refused') return this.#result(EMPTY);
    if (this.#state === 'raw') return { forward: Buffer.from(chunk) };
    let data = Buffer.from(chunk);
    if (this.#skip > 0) {
      const skipped = Math.min(this.#skip, data.length);
      this.#skip -= skipped;
      data = data.subarray(skipped);
    }
    if (data.length === 0) return this.#result(EMPTY);
    this.#pending.push(data);
    this.#pendingLength += data.length;
    // Kept, not parsed again, until the message it waits for can be whole: a long message
    // sent a byte at a time costs no more than sent at once.
    if (this.#pendingLength < this.#needed) return this.#result(EMPTY);
    const buffer = this.#pending.length === 1 ? data : Buffer.concat(this.#pending);
    const out: Buffer[] = [];
    let offset = 0;
    this.#needed = 0;
    while (offset < buffer.length && this.#state !== 'refused') {
      if (this.#state === 'raw') {
        out.push(buffer.subarray(offset));
        offset = buffer.length;
        break;
      }
      const rest = buffer.subarray(offset);
      const frame = this.#frame(rest);
      if (frame.action === 'need') {
        this.#needed = frame.bytes;
        break;
      }
      if (frame.action === 'refuse') {
        this.#state = 'refused';
        this.#refused = frame.reason;
        break;
      }
      if (frame.action === 'drop' && frame.length > rest.length) {
        // The rest of this message is skipped as it arrives.
        this.#skip = frame.length - rest.length;
        offset = buffer.length;
        break;
      }
      if (frame.length > rest.length) {
        this.#needed = frame.length;
        break;
      }
      if (frame.action === 'forward') out.push(rest.subarray(0, frame.length));
      if (frame.action === 'replace') out.push(frame.bytes);
      offset += frame.length;
      if (frame.next !== undefined) this.#state = frame.next;
    }
    // A copy: the caller's chunk may be reused once this returns.
    const left = this.#state === 'refused' ? EMPTY : Buffer.from(buffer.subarray(offset));
    this.#pending = left.length === 0 ? [] : [left];
    this.#pendingLength = left.length;
    return this.#result(Buffer.concat(out));
  }

  #result(forward: Buffer): RfbFilterResult {
    return this.#refused === undefined ? { forward } : { forward, refused: this.#refused };
  }

  #frame(b: Buffer): Frame {
    switch (this.#state) {
      case 'version': {
        if (b.length < 12) return { action: 'need', bytes: 12 };
        const version = b.subarray(0, 12).toString('latin1');
        if (!VERSIONS.has(version))
          return refuse(`unsupported protocol version ${JSON.stringify(version)}`);
        return { action: 'forward', length: 12, next: 'security' };
      }
      case 'security': {
        const type = b.readUInt8(0);
        if (type === SECURITY_NONE) return { action: 'forward', length: 1, next: 'client-init' };
        if (type === SECURITY_VNC) return { action: 'forward', length: 1, next: 'vnc-auth' };
        return refuse(`unsupported security type ${type}`);
      }
      case 'vnc-auth':
        return { action: 'forward', length: 16, next: 'client-init' };
      case 'client-init':
        // Shared, whatever the client asked.
        return {
          action: 'replace',
          length: 1,
          bytes: Buffer.from([1]),
          next: this.viewOnly ? 'messages' : 'raw',
        };
      case 'messages':
        return frameMessage(b);
      default:
        return refuse(`no frame in state ${this.#state}`);
    }
  }
}

function refuse(reason: string): Frame {
  return { action: 'refuse', reason };
}

/** A view-only client's message: its length, and whether it reaches the server. */
export function frameMessage(b: Buffer): Frame {
  const type = b.readUInt8(0);
  switch (type) {
    case 0: // SetPixelFormat
      return { action: 'forward', length: 20 };
    case 2: // SetEncodings
      return setEncodings(b);
    case 3: // FramebufferUpdateRequest
      return { action: 'forward', length: 10 };
    case 4: // KeyEvent
      return { action: 'drop', length: 8 };
    case 5: // PointerEvent
      return { action: 'drop', length: 6 };
    case 6: {
      // ClientCutText; a negative length is the extended clipboard's (its absolute value).
      if (b.length < 8) return { action: 'need', bytes: 8 };
      return { action: 'drop', length: 8 + Math.abs(b.readInt32BE(4)) };
    }
    case 150: // EnableContinuousUpdates
      return { action: 'forward', length: 10 };
    case 248: {
      // ClientFence: flags, then a payload of up to 64 bytes
      if (b.length < 9) return { action: 'need', bytes: 9 };
      return { action: 'forward', length: 9 + b.readUInt8(8) };
    }
    case 250: // xvp: shutdown, reboot, reset
      return { action: 'drop', length: 4 };
    case 251: {
      // SetDesktopSize: 16 bytes a screen
      if (b.length < 8) return { action: 'need', bytes: 8 };
      return { action: 'drop', length: 8 + 16 * b.readUInt8(6) };
    }
    case 255:
      return qemuMessage(b);
    default:
      return refuse(`unknown client message type ${type}`);
  }
}

function setEncodings(b: Buffer): Frame {
  if (b.length < 4) return { action: 'need', bytes: 4 };
  const count = b.readUInt16BE(2);
  const length = 4 + 4 * count;
  if (b.length < length) return { action: 'need', bytes: length };
  const kept: number[] = [];
  for (let i = 0; i < count; i++) {
    const encoding = b.readInt32BE(4 + 4 * i);
    if (!VIEW_ONLY_REFUSED_ENCODINGS.has(encoding)) kept.push(encoding);
  }
  if (kept.length === count) return { action: 'forward', length };
  const bytes = Buffer.alloc(4 + 4 * kept.length);
  bytes.writeUInt8(2, 0);
  bytes.writeUInt16BE(kept.length, 2);
  kept.forEach((encoding, i) => bytes.writeInt32BE(encoding, 4 + 4 * i));
  return { action: 'replace', length, bytes };
}

/** QEMU's client message (255) by its subtype, as QEMU frames it (ui/vnc.c). */
function qemuMessage(b: Buffer): Frame {
  if (b.length < 2) return { action: 'need', bytes: 2 };
  const subtype = b.readUInt8(1);
  if (subtype === 0) return { action: 'drop', length: 12 }; // extended key event
  if (subtype !== 1) return refuse(`unknown QEMU client message ${subtype}`);
  // Audio: enable (0) and disable (1) are 4 bytes; set format (2) is 10.
  if (b.length < 4) return { action: 'need', bytes: 4 };
  const operation = b.readUInt16BE(2);
  if (operation === 0 || operation === 1) return { action: 'forward', length: 4 };
  if (operation === 2) return { action: 'forward', length: 10 };
  return refuse(`unknown QEMU audio operation ${operation}`);
}

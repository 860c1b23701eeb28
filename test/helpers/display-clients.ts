// Just enough of the VNC (RFB 3.8) and SPICE link protocols to authenticate as a real
// client would, for tests of the agent's gateway and tickets.
import { createCipheriv, createPublicKey, publicEncrypt, constants } from 'node:crypto';
import net from 'node:net';

/** A socket read as a stream of exact-size pieces. */
export class ByteReader {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #waiting: (() => void) | undefined;
  #ended = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#waiting?.();
    });
    const end = () => {
      this.#ended = true;
      this.#waiting?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  async read(size: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < size) {
      if (this.#ended) throw new Error(`connection closed after ${this.#buffer.length} bytes`);
      if (Date.now() > deadline) throw new Error(`timed out reading ${size} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const piece = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return piece;
  }

  /** Resolves once the peer has closed the connection. */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) {
      if (Date.now() > deadline) throw new Error('the connection stayed open');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export function connectTcp(port: number, host = '127.0.0.1'): Promise<ByteReader> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new ByteReader(socket));
    });
    socket.once('error', reject);
  });
}

export function connectUnix(path: string): Promise<ByteReader> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new ByteReader(socket));
    });
    socket.once('error', reject);
  });
}

/** Whether something accepts TCP connections on the port. */
export async function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    const reader = await connectTcp(port, host);
    reader.socket.destroy();
    return true;
  } catch {
    return false;
  }
}

/**
 * VNC authentication: the challenge DES-encrypted with the password (8 bytes, zero
 * padded) as key, each key byte's bits reversed. This OpenSSL has no single DES, but
 * triple DES with three equal keys is single DES.
 */
export function vncResponse(challenge: Buffer, password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let byte = key[i]!;
    let reversed = 0;
    for (let bit = 0; bit < 8; bit++) {
      reversed = (reversed << 1) | (byte & 1);
      byte >>= 1;
    }
    key[i] = reversed;
  }
  const cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

export interface RfbResult {
  readonly banner: string;
  readonly securityTypes: number[];
  /** True: authenticated and initialised (ServerInit read); false: refused. */
  readonly ok: boolean;
  readonly reason?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * An RFB 3.8 handshake: VNC authentication with `password`, or the None type when it is
 * undefined, then ClientInit/ServerInit. The socket stays open when it succeeds.
 */
export async function rfbHandshake(
  reader: ByteReader,
  password: string | undefined,
): Promise<RfbResult> {
  return rfbAfterBanner(reader, await rfbBanner(reader), password);
}

/** The server's ProtocolVersion, the first thing it sends. */
export async function rfbBanner(reader: ByteReader): Promise<string> {
  return (await reader.read(12)).toString('latin1');
}

/** The rest of rfbHandshake, once the banner was read (maybe long before). */
export async function rfbAfterBanner(
  reader: ByteReader,
  banner: string,
  password: string | undefined,
): Promise<RfbResult> {
  reader.socket.write('RFB 003.008\n');
  const count = (await reader.read(1))[0]!;
  if (count === 0) {
    const length = (await reader.read(4)).readUInt32BE(0);
    const reason = (await reader.read(length)).toString('utf8');
    return { banner, securityTypes: [], ok: false, reason };
  }
  const securityTypes = [...(await reader.read(count))];
  if (password === undefined) {
    reader.socket.write(Buffer.from([1]));
  } else {
    reader.socket.write(Buffer.from([2]));
    const challenge = await reader.read(16);
    reader.socket.write(vncResponse(challenge, password));
  }
  const result = (await reader.read(4)).readUInt32BE(0);
  if (result !== 0) {
    const length = (await reader.read(4)).readUInt32BE(0);
    const reason = (await reader.read(length)).toString('utf8');
    return { banner, securityTypes, ok: false, reason };
  }
  reader.socket.write(Buffer.from([1])); // ClientInit, shared
  const init = await reader.read(24);
  await reader.read(init.readUInt32BE(20)); // the desktop's name
  return {
    banner,
    securityTypes,
    ok: true,
    width: init.readUInt16BE(0),
    height: init.readUInt16BE(2),
  };
}

/**
 * Asks a connected RFB server for the whole screen (FramebufferUpdateRequest) and reads the
 * start of its answer: the FramebufferUpdate message type (0) and how many rectangles.
 */
export async function rfbScreen(
  reader: ByteReader,
  width: number,
  height: number,
): Promise<{ type: number; rectangles: number }> {
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0);
  request.writeUInt8(0, 1); // not incremental: the whole area now
  request.writeUInt16BE(width, 6);
  request.writeUInt16BE(height, 8);
  reader.socket.write(request);
  const header = await reader.read(4);
  return { type: header.readUInt8(0), rectangles: header.readUInt16BE(2) };
}

const SPICE_MAGIC = 'REDQ';

/**
 * A SPICE link of the main channel: the link header and message, then (when the server
 * answers with its public key) the ticket RSA-OAEP-encrypted with it. Returns whether the
 * server's reply began with the SPICE magic, and its link result (0: SPICE_LINK_ERR_OK).
 */
export async function spiceLink(
  reader: ByteReader,
  password: string,
  channel: { readonly connectionId: number; readonly type: number } = { connectionId: 0, type: 1 },
): Promise<{ magic: string; linkError: number; authResult: number | undefined }> {
  // SpiceLinkMess: connection id, channel type (1: main), channel id, no capabilities.
  const message = Buffer.alloc(18);
  message.writeUInt32LE(channel.connectionId, 0);
  message.writeUInt8(channel.type, 4);
  message.writeUInt8(0, 5);
  message.writeUInt32LE(0, 6);
  message.writeUInt32LE(0, 10);
  message.writeUInt32LE(18, 14);
  const header = Buffer.alloc(16);
  header.write(SPICE_MAGIC, 0, 'latin1');
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(message.length, 12);
  reader.socket.write(Buffer.concat([header, message]));
  const reply = await reader.read(16);
  const magic = reply.subarray(0, 4).toString('latin1');
  const body = await reader.read(reply.readUInt32LE(12));
  const linkError = body.readUInt32LE(0);
  if (linkError !== 0) return { magic, linkError, authResult: undefined };
  const key = createPublicKey({ key: body.subarray(4, 4 + 162), format: 'der', type: 'spki' });
  const ticket = publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.concat([Buffer.from(password, 'latin1'), Buffer.from([0])]),
  );
  reader.socket.write(ticket);
  const authResult = (await reader.read(4)).readUInt32LE(0);
  return { magic, linkError, authResult };
}

/** SPICE's inputs channel type: one a client links after the main channel. */
export const SPICE_INPUTS_CHANNEL = 3;

/**
 * The session id the server gives a linked main channel (SPICE_MSG_MAIN_INIT's first
 * field): the connection id the client's other channels link with.
 */
export async function spiceSessionId(reader: ByteReader): Promise<number> {
  for (;;) {
    // Full data header (no mini-header capability asked for): serial, type, size, sub-list.
    const header = await reader.read(18);
    const type = header.readUInt16LE(8);
    const body = await reader.read(header.readUInt32LE(10));
    if (type === 103) return body.readUInt32LE(0);
  }
}

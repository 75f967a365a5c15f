import { connect, type Socket } from 'node:net';

/** A Redis error reply (`-ERR …`, `-NOSCRIPT …`): Redis answered, and said no. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** The connection went away (or never came) before the reply: the caller may ask elsewhere. */
export class RespConnectionLost extends Error {
  override readonly name = 'RespConnectionLost';
}

export interface RespOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

export type Reply = string | number | null | Array<string | number | null>;
interface Pending {
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

const CRLF = '\r\n';
/** Past this many replies outstanding the connection refuses more (Redis stalled: ask ioredis, which times out). */
const MAX_PENDING = 10_000;
const RECONNECT_MS = 1000;

function encode(args: readonly string[]): string {
  let out = `*${args.length}${CRLF}`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
  return out;
}

/**
 * A minimal RESP2 connection for the reads of the introspection hot path (EVALSHA of FETCH
 * on a single Redis, the reads of a cluster's introspection): commands of one event-loop turn are
 * written together (pipelined), replies are matched in order, and only the reply types of those
 * reads are parsed (bulk and simple strings, integers, nil, errors, and flat arrays of those:
 * EVALSHA of FETCH, GET, MGET, HGET, HMGET). It skips ioredis's general command machinery, which
 * was a sixth of the process.
 *
 * It is never the only way to Redis: `ready` is false until it is connected and authenticated,
 * and after any socket error (then it reconnects in the background), and callers send through
 * ioredis meanwhile. Every outstanding command of a lost connection is rejected with
 * RespConnectionLost, never answered. The socket is unref'd: it never keeps a process alive.
 */
export class RespConnection {
  #socket: Socket | undefined;
  #ready = false;
  #closed = false;
  #pending: Pending[] = [];
  #head = 0;
  #queued: string[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  readonly #options: RespOptions;

  constructor(options: RespOptions) {
    this.#options = options;
    this.#open();
  }

  get ready(): boolean {
    return this.#ready && this.#pending.length - this.#head < MAX_PENDING;
  }

  /** Sends a command; its reply, a RespError for an error reply, RespConnectionLost when the socket went. */
  send(args: readonly string[]): Promise<Reply> {
    if (!this.#ready) return Promise.reject(new RespConnectionLost('the direct Redis connection is not ready'));
    return this.#send(args);
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
  }

  #send(args: readonly string[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      // setImmediate, not nextTick: every request read in this turn of the event loop shares one write.
      if (this.#queued.push(encode(args)) === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const commands = this.#queued.join('');
    this.#queued = [];
    this.#socket?.write(commands);
  }

  #open(): void {
    const socket = connect({ host: this.#options.host, port: this.#options.port, noDelay: true });
    this.#socket = socket;
    socket.unref();
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => {}); // 'close' follows and does the work
    socket.on('close', () => this.#lost());
    socket.on('connect', () => {
      const { username, password, db } = this.#options;
      const setup: Array<Promise<Reply>> = [];
      if (password) setup.push(this.#send(username ? ['AUTH', username, password] : ['AUTH', password]));
      if (db) setup.push(this.#send(['SELECT', String(db)]));
      Promise.all(setup).then(
        () => {
          if (this.#socket === socket) this.#ready = true;
        },
        () => socket.destroy(),
      );
    });
  }

  #lost(): void {
    this.#ready = false;
    this.#socket = undefined;
    this.#buffer = Buffer.alloc(0);
    this.#queued = [];
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const p of pending) p.reject(new RespConnectionLost('the direct Redis connection closed'));
    if (!this.#closed) setTimeout(() => this.#closed || this.#open(), RECONNECT_MS).unref();
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = this.#parse(offset);
      if (!parsed) break;
      offset = parsed.next;
      const pending = this.#pending[this.#head++];
      if (this.#head === this.#pending.length) {
        this.#pending = [];
        this.#head = 0;
      }
      if (!pending) {
        // A reply nobody asked for: the stream is out of step, start over.
        this.#socket?.destroy();
        return;
      }
      if (parsed.error) pending.reject(parsed.error);
      else pending.resolve(parsed.value);
    }
    this.#buffer = offset === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(offset);
  }

  /** One reply at `offset`, or undefined when it is not all there yet. */
  #parse(offset: number): { value: Reply; error?: Error; next: number } | undefined {
    const buffer = this.#buffer;
    const eol = buffer.indexOf(CRLF, offset);
    if (eol < 0) return undefined;
    const line = buffer.toString('utf8', offset + 1, eol);
    switch (buffer[offset]) {
      case 0x24: {
        // '$': bulk string, or nil ($-1)
        const length = Number(line);
        if (length < 0) return { value: null, next: eol + 2 };
        const end = eol + 2 + length;
        if (buffer.length < end + 2) return undefined;
        return { value: buffer.toString('utf8', eol + 2, end), next: end + 2 };
      }
      case 0x2b: // '+'
        return { value: line, next: eol + 2 };
      case 0x3a: // ':'
        return { value: Number(line), next: eol + 2 };
      case 0x2d: // '-'
        return { value: null, error: new RespError(line), next: eol + 2 };
      case 0x2a: {
        // '*': a flat array (HMGET), or nil (*-1)
        const count = Number(line);
        if (count < 0) return { value: null, next: eol + 2 };
        const items: Array<string | number | null> = [];
        let next = eol + 2;
        for (let i = 0; i < count; i++) {
          if (buffer[next] === 0x2a) break; // nested: not a reply of these reads
          const item = this.#parse(next);
          if (!item) return undefined;
          if (item.error) break; // an error inside an array: not a reply of these reads
          items.push(item.value as string | number | null);
          next = item.next;
        }
        if (items.length === count) return { value: items, next };
        this.#socket?.destroy();
        return undefined;
      }
      default:
        // No other type is ever asked for: out of step, start over
        // ('close' hands every outstanding command back as RespConnectionLost).
        this.#socket?.destroy();
        return undefined;
    }
  }
}

/**
 * An incremental HTTP/1.1 response parser for the lean client's own HTTP client: fed whatever
 * bytes the socket gives (any split, one byte at a time included), it returns the response once
 * complete. Body framing as RFC 9112 §6.3: chunked, content-length, else read until close. It
 * throws HttpParseError on anything malformed; the caller must then drop the connection.
 */

export interface ParsedResponse {
  status: number;
  /** Names lowercased; a repeated header's values joined with ", " (as Node does for most). */
  headers: Record<string, string>;
  body: string;
  /** Whether the connection may carry another request. */
  keepAlive: boolean;
}

export class HttpParseError extends Error {
  override name = 'HttpParseError';
}

export interface ParserLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeaderBytes: 64 * 1024, maxBodyBytes: 64 * 1024 * 1024 };

/** A chunk-size line may carry extensions; anything longer than this is not a sane chunk header. */
const MAX_CHUNK_LINE = 4096;
const LF = 0x0a;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done';

export class ResponseParser {
  private state: State = 'head';
  /** Head bytes received so far, when the head spans several reads. */
  private head: Buffer | undefined;
  private headLength = 0;
  /** Where to resume looking for the end of a line in the head. */
  private lineStart = 0;
  private line = '';
  private trailerBytes = 0;
  private status = 0;
  private headers: Record<string, string> = Object.create(null) as Record<string, string>;
  private keepAlive = true;
  /** Bytes of the current chunk (chunked) or of the body (content-length) still to come. */
  private remaining = 0;
  private readonly chunks: Buffer[] = [];
  private bodyLength = 0;

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /** Feeds the next bytes; the response when these complete it. */
  push(data: Buffer): ParsedResponse | undefined {
    let at = 0;
    while (at < data.length) {
      switch (this.state) {
        case 'head':
          at = this.readHead(data, at);
          break;
        case 'length': {
          const n = Math.min(this.remaining, data.length - at);
          this.addBody(data.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'done';
          break;
        }
        case 'chunk-size':
        case 'chunk-end':
        case 'trailers':
          at = this.readChunkLine(data, at);
          break;
        case 'chunk-data': {
          const n = Math.min(this.remaining, data.length - at);
          this.addBody(data.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-end';
          break;
        }
        case 'close':
          this.addBody(data.subarray(at));
          at = data.length;
          break;
        case 'done':
          // Nothing was asked for: bytes after the answer mean the connection is out of step.
          this.keepAlive = false;
          at = data.length;
          break;
      }
      if (this.state === 'done') {
        if (at < data.length) this.keepAlive = false;
        return this.result();
      }
    }
    return undefined;
  }

  /** The peer closed the connection: the response if it was read until close, else undefined (cut off). */
  end(): ParsedResponse | undefined {
    if (this.state !== 'close') return undefined;
    this.state = 'done';
    return this.result();
  }

  private readHead(data: Buffer, at: number): number {
    // Most heads arrive whole in one read: parse them in place, without copying.
    const buffered = this.headLength;
    if (buffered > 0) this.appendHead(data.subarray(at));
    const buf = buffered > 0 ? this.head!.subarray(0, this.headLength) : data;
    const from = buffered > 0 ? 0 : at;
    let lineStart = buffered > 0 ? this.lineStart : at;
    for (let nl = buf.indexOf(LF, lineStart); nl !== -1; nl = buf.indexOf(LF, lineStart)) {
      const empty = nl === lineStart || (nl === lineStart + 1 && buf[lineStart] === 0x0d);
      if (empty && lineStart === from) throw new HttpParseError('empty status line');
      if (empty) {
        if (nl + 1 - from > this.limits.maxHeaderBytes) throw new HttpParseError(`response head over ${this.limits.maxHeaderBytes} bytes`);
        const text = buf.toString('latin1', from, lineStart);
        this.headLength = 0;
        this.lineStart = 0;
        this.parseHead(text);
        // What follows the empty line in `data` is the body (or the next head after a 1xx).
        return buffered > 0 ? at + nl + 1 - buffered : nl + 1;
      }
      lineStart = nl + 1;
    }
    if (buf.length - from > this.limits.maxHeaderBytes) throw new HttpParseError(`response head over ${this.limits.maxHeaderBytes} bytes`);
    if (buffered === 0) this.appendHead(data.subarray(at));
    this.lineStart = lineStart - from;
    return data.length;
  }

  private appendHead(bytes: Buffer): void {
    const needed = this.headLength + bytes.length;
    if (!this.head || this.head.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * (this.head?.length ?? 512)));
      this.head?.copy(grown, 0, 0, this.headLength);
      this.head = grown;
    }
    bytes.copy(this.head, this.headLength);
    this.headLength = needed;
  }

  private parseHead(text: string): void {
    const lines = text.split('\n');
    const statusLine = lines[0]!.endsWith('\r') ? lines[0]!.slice(0, -1) : lines[0]!;
    const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/.exec(statusLine);
    if (!m) throw new HttpParseError(`malformed status line ${JSON.stringify(statusLine.slice(0, 100))}`);
    const http10 = m[1] === '0';
    const status = Number(m[2]);
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    let last: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      let line = lines[i]!;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') continue;
      if (line[0] === ' ' || line[0] === '\t') {
        // Obsolete line folding: the continuation joins the previous value with a space (RFC 9112 §5.2).
        if (last === undefined) throw new HttpParseError('header continuation without a header');
        headers[last] = `${headers[last]} ${line.trim()}`.trim();
        continue;
      }
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new HttpParseError(`malformed header line ${JSON.stringify(line.slice(0, 100))}`);
      const value = line.slice(colon + 1).trim();
      const before = headers[name];
      headers[name] = before === undefined ? value : `${before}, ${value}`;
      last = name;
    }
    if (status < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      if (status === 101) throw new HttpParseError('the server switched protocols');
      this.state = 'head';
      return;
    }
    this.status = status;
    this.headers = headers;
    const connection = tokens(headers.connection);
    this.keepAlive = http10 ? connection.includes('keep-alive') : !connection.includes('close');
    this.frameBody(headers);
  }

  private frameBody(headers: Record<string, string>): void {
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (this.status === 204 || this.status === 304) {
      this.state = 'done';
    } else if (te !== undefined) {
      const codings = tokens(te);
      // With both headers the framing is ambiguous (a smuggling risk): trust chunked, never reuse.
      if (cl !== undefined) this.keepAlive = false;
      if (codings[codings.length - 1] === 'chunked') {
        this.state = 'chunk-size';
      } else {
        this.state = 'close';
        this.keepAlive = false;
      }
    } else if (cl !== undefined) {
      // Repeated content-length headers are allowed only when they agree.
      const values = new Set(cl.split(',').map((v) => v.trim()));
      const [only] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new HttpParseError(`malformed content-length ${JSON.stringify(cl.slice(0, 100))}`);
      this.remaining = Number(only);
      if (this.remaining > this.limits.maxBodyBytes) throw new HttpParseError(`response body of ${this.remaining} bytes is over ${this.limits.maxBodyBytes}`);
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.state = 'close';
      this.keepAlive = false;
    }
  }

  /** A line of the chunked framing: a chunk size, the CRLF after a chunk, or a trailer. */
  private readChunkLine(data: Buffer, at: number): number {
    const nl = data.indexOf(LF, at);
    const end = nl === -1 ? data.length : nl;
    this.line += data.toString('latin1', at, end);
    if (this.state === 'trailers') {
      this.trailerBytes += end - at;
      if (this.trailerBytes > this.limits.maxHeaderBytes) throw new HttpParseError(`trailers over ${this.limits.maxHeaderBytes} bytes`);
    } else if (this.line.length > MAX_CHUNK_LINE) {
      throw new HttpParseError('chunk header line too long');
    }
    if (nl === -1) return data.length;
    const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
    this.line = '';
    if (this.state === 'chunk-size') {
      const size = line.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new HttpParseError(`malformed chunk size ${JSON.stringify(line.slice(0, 100))}`);
      this.remaining = parseInt(size, 16);
      if (this.bodyLength + this.remaining > this.limits.maxBodyBytes) throw new HttpParseError(`response body over ${this.limits.maxBodyBytes} bytes`);
      this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
    } else if (this.state === 'chunk-end') {
      if (line !== '') throw new HttpParseError('chunk data longer than its size');
      this.state = 'chunk-size';
    } else if (line === '') {
      // The empty line after the trailers (which are ignored) ends the answer.
      this.state = 'done';
    }
    return nl + 1;
  }

  private addBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.bodyLength += bytes.length;
    if (this.bodyLength > this.limits.maxBodyBytes) throw new HttpParseError(`response body over ${this.limits.maxBodyBytes} bytes`);
    this.chunks.push(bytes);
  }

  private result(): ParsedResponse {
    // Decoded once, from all the bytes: a character split across reads stays whole.
    const body = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks, this.bodyLength).toString('utf8');
    return { status: this.status, headers: this.headers, body, keepAlive: this.keepAlive };
  }
}

/** A comma-separated header's lowercased tokens. */
function tokens(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((t) => t.trim().toLowerCase());
}

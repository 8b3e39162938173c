/**
 * Service discovery: `POST {endpoint}/discover` and the decoding of its
 * `dev.restate.service.discovery.ServiceDiscoveryResponse` (docs/protocol.md §2).
 *
 * The response is read straight off the wire: five fields do not justify generated code.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { InvalidArgumentError } from '../errors.js';
import { ForbiddenEndpointAddressError } from '../endpoint/address-guard.js';
import { TransportError } from '../endpoint/errors.js';
import type { EndpointResponse, EndpointTransport } from '../endpoint/types.js';
import type { ProtocolType } from './types.js';

/** What an endpoint announced. `files` is the raw (unrepaired) FileDescriptorSet. */
export interface DiscoveryResult {
  files: Uint8Array;
  services: string[];
  minProtocolVersion: number;
  maxProtocolVersion: number;
  protocolMode: ProtocolType;
}

export interface DiscoveryOptions {
  /** Attempts in total, the first included. Default 5. */
  attempts?: number;
  /** Delay before the second attempt, doubled after each failure. Default 100 ms. */
  initialDelayMs?: number;
  /** Cap of the delay. Default 1 s. */
  maxDelayMs?: number;
  /** All attempts together give up after this. Default 10 s (API Gateway cuts the admin call at 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Used in error messages, e.g. the URI or ARN. */
  describe?: string;
}

/** How long discovery (all attempts) may take by default. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 10_000;

/** Admin API code for "cannot reach the endpoint / discovery failed". */
export const DISCOVERY_RESTATE_CODE = 'META0003';

/** Statuses the 0.x runtime retried discovery on. */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Discovery failed; always a 400 on the admin API (the endpoint, not the runtime, is at fault). */
export class DiscoveryError extends InvalidArgumentError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, restateCode: DISCOVERY_RESTATE_CODE });
  }
}

/**
 * Runs discovery against one endpoint. Transient failures (connection refused right after the
 * endpoint started, 5xx, 408, 429) are retried with backoff: 100, 200, 400, 800 ms by default.
 * The transport adds the registration's additional headers.
 */
export async function discover(transport: EndpointTransport, options: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const maxDelay = options.maxDelayMs ?? 1000;
  let delay = options.initialDelayMs ?? 100;
  const where = options.describe ?? 'the endpoint';
  const timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= attempts;
    let res: EndpointResponse;
    try {
      res = await transport.call({
        path: '/discover',
        headers: { 'content-type': 'application/proto', accept: 'application/proto' },
        body: new Uint8Array(0),
        signal,
      });
    } catch (err) {
      if (err instanceof ForbiddenEndpointAddressError) throw err;
      if (deadline.aborted) throw new DiscoveryError(`Discovery at ${where} did not answer within ${timeoutMs} ms`, { cause: err });
      const retryable = !(err instanceof TransportError) || err.retryable;
      if (last || !retryable || signal.aborted) {
        throw new DiscoveryError(`Cannot reach ${where} to run discovery: ${(err as Error).message}`, { cause: err });
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxDelay);
      continue;
    }
    if (res.status < 200 || res.status > 299) {
      if (!last && RETRYABLE_STATUS.has(res.status) && !signal.aborted) {
        await sleep(delay, signal);
        delay = Math.min(delay * 2, maxDelay);
        continue;
      }
      // Status and content type only: the target's body is not ours to relay.
      throw new DiscoveryError(
        `Discovery at ${where} answered HTTP ${res.status} (content type '${excerpt(res.headers['content-type'] ?? '')}'); expected 200 with application/proto`,
      );
    }
    const contentType = res.headers['content-type'];
    if (contentType !== 'application/proto') {
      throw new DiscoveryError(
        `Bad content type header from discovery at ${where}: expected 'application/proto', got '${excerpt(contentType ?? '')}' (HTTP ${res.status})`,
      );
    }
    try {
      return decodeDiscoveryResponse(res.body);
    } catch (err) {
      throw new DiscoveryError(`Cannot decode the discovery response of ${where}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Decodes a ServiceDiscoveryResponse: files = 1, services = 2, min/max version = 3/4, mode = 5. */
export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResult {
  const reader = new BinaryReader(bytes);
  const result: DiscoveryResult = {
    files: new Uint8Array(0),
    services: [],
    minProtocolVersion: 0,
    maxProtocolVersion: 0,
    protocolMode: 'BidiStream',
  };
  // A repeated message field may arrive in pieces that merge by concatenation.
  const fileParts: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) fileParts.push(reader.bytes());
    else if (field === 2 && wireType === WireType.LengthDelimited) result.services.push(reader.string());
    else if (field === 3 && wireType === WireType.Varint) result.minProtocolVersion = reader.uint32();
    else if (field === 4 && wireType === WireType.Varint) result.maxProtocolVersion = reader.uint32();
    else if (field === 5 && wireType === WireType.Varint) result.protocolMode = reader.int32() === 1 ? 'RequestResponse' : 'BidiStream';
    else reader.skip(wireType, field);
  }
  result.files = fileParts.length === 1 ? fileParts[0]! : new Uint8Array(Buffer.concat(fileParts));
  return result;
}

/** The inverse of `decodeDiscoveryResponse` (tests, fake endpoints). */
export function encodeDiscoveryResponse(res: Partial<DiscoveryResult>): Uint8Array {
  const writer = new BinaryWriter();
  if (res.files !== undefined) writer.tag(1, WireType.LengthDelimited).bytes(res.files);
  for (const s of res.services ?? []) writer.tag(2, WireType.LengthDelimited).string(s);
  if (res.minProtocolVersion) writer.tag(3, WireType.Varint).uint32(res.minProtocolVersion);
  if (res.maxProtocolVersion) writer.tag(4, WireType.Varint).uint32(res.maxProtocolVersion);
  if (res.protocolMode === 'RequestResponse') writer.tag(5, WireType.Varint).int32(1);
  return writer.finish();
}

function excerpt(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

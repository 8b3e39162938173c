/**
 * Lambda transport for ARN endpoints: a synchronous `Invoke` whose payload is an API Gateway
 * v1-shaped event, as the 0.x runtime sent it (docs/protocol.md §1.1). The SDK's
 * `lambdaHandler()` only looks at the path suffix and always base64-decodes the body.
 */
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { EndpointCredentialsError, TransportError } from './errors.js';
import { mergeHeaders, normalizeResponseHeaders } from './headers.js';
import { lambdaSdk } from '../lazy-sdk.js';
import type { EndpointRequest, EndpointResponse, EndpointTransport } from './types.js';

/** What the function receives. */
export interface LambdaInvokePayload {
  path: string;
  httpMethod: 'POST';
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: true;
}

/** What the function answers (an API Gateway proxy result). */
interface LambdaProxyResult {
  statusCode?: unknown;
  headers?: unknown;
  body?: unknown;
  isBase64Encoded?: unknown;
}

export interface LambdaTransportOptions {
  additionalHeaders?: Record<string, string>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A client, or a function that gives one when the first call needs it (the SDK loads lazily). */
export type LambdaClientSource = LambdaClient | (() => Promise<LambdaClient>);

/** Calls one Lambda endpoint (function ARN, possibly qualified) through an injected client. */
export class LambdaTransport implements EndpointTransport {
  private readonly additionalHeaders: Record<string, string>;

  constructor(
    private readonly client: LambdaClientSource,
    private readonly arn: string,
    options: LambdaTransportOptions = {},
  ) {
    this.additionalHeaders = options.additionalHeaders ?? {};
  }

  async call(req: EndpointRequest): Promise<EndpointResponse> {
    const payload: LambdaInvokePayload = {
      path: req.path,
      httpMethod: 'POST',
      headers: mergeHeaders(this.additionalHeaders, req.headers),
      body: Buffer.from(req.body).toString('base64'),
      isBase64Encoded: true,
    };
    let out: InvokeCommandOutput;
    try {
      const [client, { InvokeCommand }] = await Promise.all([typeof this.client === 'function' ? this.client() : this.client, lambdaSdk()]);
      out = await client.send(
        new InvokeCommand({
          FunctionName: this.arn,
          InvocationType: 'RequestResponse',
          Payload: encoder.encode(JSON.stringify(payload)),
        }),
        { abortSignal: req.signal },
      );
    } catch (err) {
      // The registered role could not be assumed: already typed, with its own retry verdict.
      if (err instanceof EndpointCredentialsError) throw err;
      throw new TransportError(`Lambda Invoke of ${this.arn} failed: ${describe(err)}`, { cause: err, retryable: isRetryableAwsError(err) });
    }
    const text = out.Payload === undefined ? '' : decoder.decode(out.Payload);
    if (out.FunctionError !== undefined) {
      // The function crashed or timed out; the payload is {errorType, errorMessage, trace}.
      throw new TransportError(`Lambda ${this.arn} failed (${out.FunctionError}): ${functionErrorMessage(text)}`);
    }
    return parseProxyResult(this.arn, text);
  }
}

function parseProxyResult(arn: string, text: string): EndpointResponse {
  let result: LambdaProxyResult;
  try {
    result = JSON.parse(text) as LambdaProxyResult;
  } catch (err) {
    throw new TransportError(`Lambda ${arn} answered a payload that is not JSON: ${snippet(text)}`, { cause: err });
  }
  if (result === null || typeof result !== 'object' || typeof result.statusCode !== 'number') {
    throw new TransportError(`Lambda ${arn} answered a payload without a statusCode: ${snippet(text)}`);
  }
  const raw = typeof result.body === 'string' ? result.body : '';
  const body = result.isBase64Encoded === true ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  return {
    status: result.statusCode,
    headers: normalizeResponseHeaders(result.headers as Record<string, unknown> | undefined),
    body: new Uint8Array(body),
  };
}

function functionErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') {
      return typeof parsed.errorType === 'string' ? `${parsed.errorType}: ${parsed.errorMessage}` : parsed.errorMessage;
    }
  } catch {
    // not JSON: report the raw text
  }
  return snippet(text);
}

/** Client-side AWS errors (no such function, access denied, bad parameter) do not heal by retrying. */
function isRetryableAwsError(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'AbortError') return true;
  if (e.name === 'TooManyRequestsException' || e.name === 'ThrottlingException') return true;
  const status = e.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || status === 429;
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return e.name !== undefined && e.message !== undefined ? `${e.name}: ${e.message}` : String(err);
}

function snippet(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * The CLI's HTTP client for the admin API (and the ingress's output/attach routes): JSON in and
 * out, SigV4-signed with the standard AWS credential chain when the admin routes are on AWS.
 */
import { ExitCode, exitCodeForStatus } from '../errors.js';
import { signRequest, type AwsCredentials } from '../sigv4.js';

/** The admin API answered with an error status. */
export class AdminRequestError extends Error {
  readonly exitCode: ExitCode;
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'AdminRequestError';
    this.exitCode = exitCodeForStatus(status);
  }
}

/** A command line that cannot work (a bad URL, no region to sign for). */
export class CliUsageError extends Error {
  readonly exitCode = ExitCode.Usage;
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** `invocations output|attach`: the invocation ended with a failure. */
export class InvocationFailedError extends Error {
  readonly exitCode = ExitCode.Failed;
  constructor(message: string) {
    super(message);
    this.name = 'InvocationFailedError';
  }
}

/** Nothing answered at the URL (refused, DNS, timeout). */
export class AdminUnreachableError extends Error {
  readonly exitCode = ExitCode.Unreachable;
  constructor(url: string, cause: unknown) {
    super(
      `nothing answered at ${url}: ${(cause as Error).message}${(cause as { cause?: Error }).cause ? ` (${(cause as { cause: Error }).cause.message})` : ''}`,
      { cause },
    );
    this.name = 'AdminUnreachableError';
  }
}

export interface AwsSigning {
  region: string;
  credentials: () => Promise<AwsCredentials>;
}

export interface ClientOptions {
  adminUrl: string;
  ingressUrl: string;
  aws?: AwsSigning;
  timeoutMs?: number;
}

export interface Answer {
  status: number;
  json: unknown;
}

export class AdminClient {
  constructor(private readonly opts: ClientOptions) {}

  admin(method: string, path: string, opts: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<Answer> {
    return this.send(this.opts.adminUrl, method, path, opts);
  }

  ingress(method: string, path: string): Promise<Answer> {
    return this.send(this.opts.ingressUrl, method, path, {});
  }

  private async send(base: string, method: string, path: string, opts: { query?: Record<string, string | undefined>; body?: unknown }): Promise<Answer> {
    const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
    url.pathname = `${new URL(base).pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = opts.body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(opts.body));
    let headers: Record<string, string> = { accept: 'application/json', ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) };
    if (this.opts.aws) {
      headers = signRequest({
        method,
        url,
        headers,
        body,
        region: this.opts.aws.region,
        service: 'execute-api',
        credentials: await this.opts.aws.credentials(),
      });
      // fetch sets host itself.
      delete headers.host;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body.length > 0 ? body : undefined, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000) });
    } catch (err) {
      throw new AdminUnreachableError(url.origin, err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = text;
    }
    if (res.status >= 400) {
      const message =
        typeof json === 'object' && json !== null && 'message' in json ? String((json as { message: unknown }).message) : `${res.status} ${res.statusText}`;
      throw new AdminRequestError(res.status, message, json);
    }
    return { status: res.status, json };
  }
}

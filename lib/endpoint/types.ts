/**
 * How the runtime talks to a service endpoint: one POST with a body, one buffered response.
 * Two adapters: h2c (the SDK's `listen()` server) and Lambda Invoke (ARN endpoints).
 */
export interface EndpointRequest {
  /** `/discover` or `/invoke/{service}/{method}`; the adapter prefixes the endpoint's own path. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  signal?: AbortSignal;
}

export interface EndpointResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface EndpointTransport {
  call(req: EndpointRequest): Promise<EndpointResponse>;
}

/** Where an endpoint lives, as registered. */
export type EndpointAddress =
  | { kind: 'http'; uri: string; additionalHeaders: Record<string, string> }
  | { kind: 'lambda'; arn: string; assumeRoleArn?: string; additionalHeaders: Record<string, string> };

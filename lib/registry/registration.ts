/**
 * Registration rules (research notes §5 "Re-registration"), as plain functions: what an admin
 * request means, which id an endpoint gets, and what a new discovery changes in the registry.
 * The DynamoDB side lives in registry-store.ts.
 */
import { ConflictError, InvalidArgumentError } from '../errors.js';
import type { EndpointAddress } from '../endpoint/types.js';
import type { CompiledService } from './schema.js';
import type { ProtocolType, ServiceMetadata } from './types.js';

/** `POST /endpoints` body (0.5 shape; also what the local runner passes). */
export interface RegisterEndpointRequest {
  uri?: string;
  arn?: string;
  assume_role_arn?: string;
  additional_headers?: Record<string, string>;
  /** Replace an endpoint with the same address, allow incompatible changes. Default true. */
  force?: boolean;
  /** Discover and validate, write nothing. Default false. */
  dry_run?: boolean;
}

/** Admin API code: the endpoint already exists (register with force to replace it). */
export const ENDPOINT_EXISTS_RESTATE_CODE = 'META0004';
/** Admin API code: an incompatible service change without force. */
export const INCOMPATIBLE_CHANGE_RESTATE_CODE = 'META0006';

const LAMBDA_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,140}(:(\$LATEST|[a-zA-Z0-9_-]+))?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Validates the request's address fields (400 on anything wrong). */
export function endpointAddressOf(req: RegisterEndpointRequest): EndpointAddress {
  const additionalHeaders = validHeaders(req.additional_headers);
  if ((req.uri === undefined) === (req.arn === undefined)) {
    throw new InvalidArgumentError('Give exactly one of "uri" (an http:// or https:// endpoint) or "arn" (a Lambda function ARN)');
  }
  if (req.uri !== undefined) {
    if (typeof req.uri !== 'string') throw new InvalidArgumentError('"uri" must be a string');
    let url: URL;
    try {
      url = new URL(req.uri);
    } catch {
      throw new InvalidArgumentError(`Invalid uri '${req.uri}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`Invalid uri '${req.uri}': only http:// and https:// endpoints are supported`);
    }
    if (url.search !== '' || url.hash !== '') {
      throw new InvalidArgumentError(`Invalid uri '${req.uri}': no query string or fragment allowed`);
    }
    return { kind: 'http', uri: req.uri, additionalHeaders };
  }
  const arn = req.arn;
  if (typeof arn !== 'string' || !LAMBDA_ARN.test(arn)) {
    throw new InvalidArgumentError(`Invalid Lambda ARN '${String(arn)}': expected arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`);
  }
  if (req.assume_role_arn !== undefined && (typeof req.assume_role_arn !== 'string' || !req.assume_role_arn.startsWith('arn:'))) {
    throw new InvalidArgumentError(`Invalid assume_role_arn '${String(req.assume_role_arn)}'`);
  }
  return req.assume_role_arn === undefined
    ? { kind: 'lambda', arn, additionalHeaders }
    : { kind: 'lambda', arn, assumeRoleArn: req.assume_role_arn, additionalHeaders };
}

function validHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== 'object' || Array.isArray(headers)) throw new InvalidArgumentError('"additional_headers" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new InvalidArgumentError(`Invalid header name '${name}' in "additional_headers"`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new InvalidArgumentError(`Header '${name}' in "additional_headers" must be a string without line breaks`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * The 0.5 endpoint id: base64url (no padding) of the URI's authority + path, or of the ARN.
 * The same address always gets the same id, which is how re-registration finds its endpoint.
 */
export function endpointIdOf(address: EndpointAddress): string {
  if (address.kind === 'lambda') return Buffer.from(address.arn, 'utf8').toString('base64url');
  const url = new URL(address.uri);
  return Buffer.from(`${url.host}${url.pathname}`, 'utf8').toString('base64url');
}

/** An endpoint as stored, without its descriptor set. */
export interface EndpointSummary {
  id: string;
  address: EndpointAddress;
  protocolType: ProtocolType;
  /** Service name → revision, of the services that point at this endpoint. */
  services: Record<string, number>;
  createdAt: string;
  /** Changes on every registration of this endpoint (cache key of resolvers). */
  generation: string;
  /** Content hash of the repaired descriptor set. */
  descriptorHash: string;
}

/** Names of everything registered: the item that makes listing cheap, and the registry's lock. */
export interface Catalogue {
  /** Bumped by every change of the registry; writes are conditional on it. */
  version: number;
  services: string[];
  endpoints: string[];
}

/** What registration reads before deciding. */
export interface RegistrationSnapshot {
  catalogue: Catalogue;
  /** The endpoint with the same id, if any. */
  endpoint: EndpointSummary | undefined;
  /** Current service items: the discovered names and the existing endpoint's services. */
  services: Map<string, ServiceMetadata>;
}

export interface RegistrationInput {
  id: string;
  address: EndpointAddress;
  protocolType: ProtocolType;
  compiled: CompiledService[];
  force: boolean;
  createdAt: string;
  generation: string;
  descriptorHash: string;
}

/** Every write a registration makes; applied atomically by the store. */
export interface RegistrationPlan {
  endpoint: EndpointSummary;
  services: ServiceMetadata[];
  /** Services of the replaced endpoint that the new discovery no longer lists. */
  removedServices: string[];
  /** Services moving here from another endpoint: that endpoint's list loses them. */
  detached: { endpointId: string; service: string }[];
  catalogue: Catalogue;
  /** The endpoint this registration replaces (same id), if any. */
  replaced: EndpointSummary | undefined;
}

/**
 * Decides a registration:
 * - the same address again without force → 409;
 * - without force, a service that changes its instance type or loses methods → 409;
 * - every registered service's revision goes up by one; `public` is kept (new services: true);
 * - services the replaced endpoint had and the new discovery lacks are removed;
 * - a service owned by another endpoint moves here.
 */
export function planRegistration(input: RegistrationInput, snapshot: RegistrationSnapshot): RegistrationPlan {
  const { id, force } = input;
  if (snapshot.endpoint !== undefined && !force) {
    throw new ConflictError(`Endpoint '${id}' is already registered; register it with "force": true to replace it`, {
      restateCode: ENDPOINT_EXISTS_RESTATE_CODE,
    });
  }
  const services: ServiceMetadata[] = [];
  const detached: RegistrationPlan['detached'] = [];
  for (const compiled of input.compiled) {
    const previous = snapshot.services.get(compiled.name);
    if (previous !== undefined && !force) checkCompatible(previous, compiled);
    services.push({
      name: compiled.name,
      methods: compiled.methods,
      instance_type: compiled.instanceType,
      endpoint_id: id,
      revision: (previous?.revision ?? 0) + 1,
      public: previous?.public ?? true,
    });
    if (previous !== undefined && previous.endpoint_id !== id) detached.push({ endpointId: previous.endpoint_id, service: compiled.name });
  }
  const listed = new Set(services.map((s) => s.name));
  const removedServices = Object.keys(snapshot.endpoint?.services ?? {}).filter(
    (name) => !listed.has(name) && snapshot.services.get(name)?.endpoint_id === id,
  );
  const removed = new Set(removedServices);
  return {
    endpoint: {
      id,
      address: input.address,
      protocolType: input.protocolType,
      services: Object.fromEntries(services.map((s) => [s.name, s.revision])),
      createdAt: input.createdAt,
      generation: input.generation,
      descriptorHash: input.descriptorHash,
    },
    services,
    removedServices,
    detached,
    catalogue: {
      version: snapshot.catalogue.version + 1,
      services: sortedUnique([...snapshot.catalogue.services.filter((n) => !removed.has(n)), ...listed]),
      endpoints: sortedUnique([...snapshot.catalogue.endpoints, id]),
    },
    replaced: snapshot.endpoint,
  };
}

function checkCompatible(previous: ServiceMetadata, next: CompiledService): void {
  if (previous.instance_type !== next.instanceType) {
    throw new ConflictError(
      `Service '${next.name}' changes its instance type from ${previous.instance_type} to ${next.instanceType}; register with "force": true to allow it`,
      { restateCode: INCOMPATIBLE_CHANGE_RESTATE_CODE },
    );
  }
  const now = new Set(next.methods.map((m) => m.name));
  const removed = previous.methods.map((m) => m.name).filter((m) => !now.has(m));
  if (removed.length > 0) {
    throw new ConflictError(`Service '${next.name}' removes methods ${removed.join(', ')}; register with "force": true to allow it`, {
      restateCode: INCOMPATIBLE_CHANGE_RESTATE_CODE,
    });
  }
}

export function sortedUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}

/**
 * Registration rules, as plain functions: what an admin request means, which id an endpoint
 * (deployment) gets, and what a new discovery changes in the registry. Compatibility rules live in
 * deployments.ts, the DynamoDB side in registry-store.ts.
 */
import { InvalidArgumentError } from '../errors.js';
import type { EndpointAddress } from '../endpoint/types.js';
import { DeploymentExistsError, droppedMethods, incompatibleChanges, IncompatibleChangeError } from './deployments.js';
import type { CompiledService } from './schema.js';
import type { ProtocolType, ServiceMetadata } from './types.js';

/** `POST /endpoints` body (0.5 shape; also what the local runner passes). */
export interface RegisterEndpointRequest {
  uri?: string;
  arn?: string;
  assume_role_arn?: string;
  additional_headers?: Record<string, string>;
  /**
   * Replace the deployment at the same address in place, and allow incompatible service changes.
   * Default false (Restate's default is true): both are unsafe for invocations in flight.
   */
  force?: boolean;
  /** Discover and validate, write nothing. Default false. */
  dry_run?: boolean;
}

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

/** An endpoint (deployment) as stored, without its descriptor set. */
export interface EndpointSummary {
  id: string;
  address: EndpointAddress;
  protocolType: ProtocolType;
  /**
   * Service name → revision: the services this deployment serves, as registered. Unchanged when
   * a later deployment takes a service over (invocations pinned here still need it).
   */
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
  catalogue: Catalogue;
  /** The endpoint this registration replaces in place (same id), if any. */
  replaced: EndpointSummary | undefined;
  /** Accepted, but worth telling the operator (dropped methods, an in-place replacement). */
  warnings: string[];
}

/**
 * Decides a registration:
 * - the same address again without force → 409 (a deployment is immutable);
 * - without force, a service that changes its instance type or a method's types → 409;
 * - every registered service's revision goes up by one and points here; `public` is kept (new
 *   services: true); a method the new revision drops is reported as a warning;
 * - services the replaced endpoint had and the new discovery lacks are removed;
 * - other deployments are never touched: those still serving older revisions stay resolvable.
 */
export function planRegistration(input: RegistrationInput, snapshot: RegistrationSnapshot): RegistrationPlan {
  const { id, force } = input;
  if (snapshot.endpoint !== undefined && !force) throw new DeploymentExistsError(id);
  const services: ServiceMetadata[] = [];
  const incompatible: string[] = [];
  const warnings: string[] = [];
  if (snapshot.endpoint !== undefined) {
    warnings.push(`Deployment '${id}' was replaced in place: invocations pinned to it resume on the code now at this address`);
  }
  for (const compiled of input.compiled) {
    const previous = snapshot.services.get(compiled.name);
    if (previous !== undefined) {
      if (!force) incompatible.push(...incompatibleChanges(previous, compiled));
      const dropped = droppedMethods(previous, compiled);
      if (dropped.length > 0) {
        const pinned = previous.endpoint_id === id ? '' : `; invocations pinned to deployment '${previous.endpoint_id}' still finish there`;
        warnings.push(`Service '${compiled.name}' no longer has method${dropped.length === 1 ? '' : 's'} ${dropped.join(', ')}: new calls answer 404${pinned}`);
      }
    }
    services.push({
      name: compiled.name,
      methods: compiled.methods,
      instance_type: compiled.instanceType,
      endpoint_id: id,
      revision: (previous?.revision ?? 0) + 1,
      public: previous?.public ?? true,
    });
  }
  if (incompatible.length > 0) throw new IncompatibleChangeError(incompatible);
  const listed = new Set(services.map((s) => s.name));
  const removedServices = Object.keys(snapshot.endpoint?.services ?? {}).filter((name) => !listed.has(name) && snapshot.services.get(name)?.endpoint_id === id);
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
    catalogue: {
      version: snapshot.catalogue.version + 1,
      services: sortedUnique([...snapshot.catalogue.services.filter((n) => !removed.has(n)), ...listed]),
      endpoints: sortedUnique([...snapshot.catalogue.endpoints, id]),
    },
    replaced: snapshot.endpoint,
    warnings,
  };
}

export function sortedUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}

/**
 * The registry's operations, as the admin API and the local runner use them: register (discover,
 * validate, write), read, delete, make public/private. Rules live in registration.ts,
 * deployments.ts and schema.ts, DynamoDB in registry-store.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';
import { Code, InvalidArgumentError, NotFoundError, PermissionDeniedError, RestlessError } from '../errors.js';
import { createTransport, type TransportDeps } from '../endpoint/transport.js';
import type { EndpointAddress, EndpointTransport } from '../endpoint/types.js';
import { BadDescriptorError, restoreDefaults } from './descriptors.js';
import { addressWarnings, DeploymentInUseError } from './deployments.js';
import { discover, type DiscoveryOptions } from './discovery.js';
import {
  endpointAddressOf,
  endpointIdOf,
  planRegistration,
  sortedUnique,
  type EndpointSummary,
  type RegisterEndpointRequest,
  type RegistrationSnapshot,
} from './registration.js';
import { CatalogueChangedError, type RegistryStore, type StoredService } from './registry-store.js';
import { DescriptorSchema, isReservedServiceName } from './schema.js';
import type { PinnedInvocations, ServiceMetadata } from './types.js';

export interface RegistryDeps {
  store: RegistryStore;
  /** Transport used for discovery. Default: `createTransport(address, transportDeps)`. */
  transportFor?: (address: EndpointAddress) => EndpointTransport;
  transportDeps?: TransportDeps;
  /** Discovery retry settings (attempts, delays). */
  discovery?: Pick<DiscoveryOptions, 'attempts' | 'initialDelayMs' | 'maxDelayMs' | 'timeoutMs'>;
  now?: () => Date;
  /** Re-reads when another admin change commits first. Default 5 attempts. */
  conflictAttempts?: number;
}

export interface RegisterResult {
  id: string;
  /** The registered services (ServiceMetadata, in discovery order). */
  services: ServiceMetadata[];
  endpoint: EndpointSummary;
  dryRun: boolean;
  /** true when a deployment at the same address was replaced in place (force). */
  replaced: boolean;
  /** Accepted, but the operator should know (mutable Lambda code, dropped methods, …). */
  warnings: string[];
}

/** A deployment and the services whose latest revision it serves (where their new calls go). */
export interface EndpointView extends EndpointSummary {
  latest: string[];
}

export interface DeleteEndpointOptions {
  /** Delete even while invocations are pinned to the deployment. */
  force?: boolean;
  /** Counts the invocations pinned to the deployment; without it, nothing is checked. */
  pinned?: PinnedInvocations;
}

export interface DeleteEndpointResult {
  id: string;
  /** Services whose latest revision was on the deployment: gone for new calls (404). */
  unavailableServices: string[];
  /** Invocations pinned to the deployment when it was deleted (only with `pinned`). */
  pinnedInvocations?: number;
}

export class Registry {
  private readonly store: RegistryStore;
  private readonly transportFor: (address: EndpointAddress) => EndpointTransport;
  private readonly discovery: RegistryDeps['discovery'];
  private readonly now: () => Date;
  private readonly attempts: number;

  constructor(deps: RegistryDeps) {
    this.store = deps.store;
    this.transportFor = deps.transportFor ?? ((address) => createTransport(address, deps.transportDeps));
    this.discovery = deps.discovery;
    this.now = deps.now ?? (() => new Date());
    this.attempts = deps.conflictAttempts ?? 5;
  }

  /**
   * Registers an endpoint as a new deployment: discovery, descriptor repair and validation (400),
   * the deployment rules (409), then one atomic write. `force` defaults to false: replacing a
   * deployment in place and incompatible changes both need it.
   */
  async register(req: RegisterEndpointRequest, options: { signal?: AbortSignal } = {}): Promise<RegisterResult> {
    const force = optionalBoolean(req.force, 'force') ?? false;
    const dryRun = optionalBoolean(req.dry_run, 'dry_run') ?? false;
    const address = endpointAddressOf(req);
    const id = endpointIdOf(address);

    const discovered = await discover(this.transportFor(address), {
      ...this.discovery,
      signal: options.signal,
      describe: address.kind === 'http' ? address.uri : address.arn,
    });
    const names = uniqueInOrder(discovered.services);
    if (names.length === 0) throw new BadDescriptorError(`The endpoint at ${describeAddress(address)} announces no services`);
    const schema = DescriptorSchema.decode(discovered.files);
    const compiled = names.map((name) => schema.service(name));
    const descriptorSet = schema.toBinary();
    const descriptorHash = createHash('sha256').update(descriptorSet).digest('base64url').slice(0, 22);

    return this.withRetry(async () => {
      const snapshot = await this.snapshot(id, names);
      const plan = planRegistration(
        {
          id,
          address,
          protocolType: discovered.protocolMode,
          compiled,
          force,
          createdAt: this.now().toISOString(),
          generation: randomUUID(),
          descriptorHash,
        },
        snapshot,
      );
      if (!dryRun) await this.store.applyRegistration(plan, snapshot.catalogue.version, descriptorSet);
      return {
        id,
        services: plan.services,
        endpoint: plan.endpoint,
        dryRun,
        replaced: plan.replaced !== undefined,
        warnings: [...addressWarnings(address), ...plan.warnings],
      };
    });
  }

  /** Every deployment, old ones included (invocations may still be pinned to them). */
  async listEndpoints(): Promise<EndpointView[]> {
    const catalogue = await this.store.readCatalogue();
    const [endpoints, services] = await Promise.all([this.store.getEndpointSummaries(catalogue.endpoints), this.store.getServices(catalogue.services)]);
    return endpoints.map((e) => withLatest(e, services)).sort((a, b) => compare(a.id, b.id));
  }

  async getEndpoint(id: string): Promise<EndpointView> {
    const endpoint = await this.store.getEndpointSummary(id);
    if (endpoint === undefined) throw endpointNotFound(id);
    return withLatest(endpoint, await this.store.getServices(Object.keys(endpoint.services)));
  }

  /** The endpoint's repaired FileDescriptorSet, encoded. */
  async endpointDescriptors(id: string): Promise<Uint8Array> {
    const endpoint = await this.store.getEndpoint(id);
    if (endpoint === undefined) throw endpointNotFound(id);
    return forClients(fromBinary(FileDescriptorSetSchema, endpoint.descriptorSet));
  }

  /**
   * Removes a deployment, and the services whose latest revision it serves (they answer 404
   * afterwards; older deployments are not promoted). With `pinned`, refuses (409) while
   * unfinished invocations are pinned to it, unless `force`. The count is taken just before the
   * delete, so an invocation that starts on it in between is missed: that can only happen while
   * the deployment still serves the latest revision of a service (new calls pin to it).
   */
  async deleteEndpoint(id: string, options: DeleteEndpointOptions = {}): Promise<DeleteEndpointResult> {
    if ((await this.store.getEndpointSummary(id, true)) === undefined) throw endpointNotFound(id);
    const pinned = await options.pinned?.countPinned(id);
    if (pinned !== undefined && pinned > 0 && options.force !== true) throw new DeploymentInUseError(id, pinned);
    const unavailableServices = await this.withRetry(async () => {
      const [catalogue, endpoint] = await Promise.all([this.store.readCatalogue(true), this.store.getEndpointSummary(id, true)]);
      if (endpoint === undefined) throw endpointNotFound(id);
      const owned = (await this.store.getServices(Object.keys(endpoint.services), true)).filter((s) => s.meta.endpoint_id === id).map((s) => s.meta.name);
      const gone = new Set(owned);
      await this.store.deleteEndpoint(id, owned, catalogue.version, {
        version: catalogue.version + 1,
        services: catalogue.services.filter((n) => !gone.has(n)),
        endpoints: catalogue.endpoints.filter((e) => e !== id),
      });
      return owned.sort(compare);
    });
    return { id, unavailableServices, ...(pinned === undefined ? {} : { pinnedInvocations: pinned }) };
  }

  async listServices(): Promise<ServiceMetadata[]> {
    const catalogue = await this.store.readCatalogue();
    const services = await this.store.getServices(catalogue.services);
    return services.map((s) => s.meta).sort((a, b) => compare(a.name, b.name));
  }

  async getService(name: string): Promise<ServiceMetadata> {
    const stored = await this.store.getService(name);
    if (stored === undefined) throw serviceNotFound(name);
    return stored.meta;
  }

  /** Makes a service public or private. Built-in names → 403, unknown → 404. */
  async setPublic(name: string, value: boolean): Promise<ServiceMetadata> {
    if (isReservedServiceName(name)) throw new PermissionDeniedError(`Service '${name}' is built in and cannot be modified`);
    return this.withRetry(async () => {
      const [catalogue, stored] = await Promise.all([this.store.readCatalogue(true), this.store.getService(name, true)]);
      if (stored === undefined) throw serviceNotFound(name);
      if (stored.meta.public !== value) await this.store.setPublic(name, value, catalogue);
      return { ...stored.meta, public: value };
    });
  }

  /** FileDescriptorSet (encoded) of the file declaring the service and its imports. */
  async serviceDescriptors(name: string): Promise<Uint8Array> {
    const stored = await this.store.getService(name);
    if (stored === undefined) throw serviceNotFound(name);
    const endpoint = await this.store.getEndpoint(stored.meta.endpoint_id);
    if (endpoint === undefined) throw serviceNotFound(name);
    return forClients(DescriptorSchema.decode(endpoint.descriptorSet).descriptorsFor(name));
  }

  private async snapshot(id: string, names: readonly string[]): Promise<RegistrationSnapshot> {
    const [catalogue, endpoint] = await Promise.all([this.store.readCatalogue(true), this.store.getEndpointSummary(id, true)]);
    const wanted = sortedUnique([...names, ...Object.keys(endpoint?.services ?? {})]);
    const services = await this.store.getServices(wanted, true);
    return { catalogue, endpoint, services: new Map(services.map((s) => [s.meta.name, s.meta])) };
  }

  /** Runs `fn` again when another admin change committed between its read and its write. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof CatalogueChangedError)) throw err;
        if (attempt >= this.attempts) {
          throw new RestlessError(Code.Unavailable, 'The registry is busy with concurrent changes; try again', { cause: err });
        }
        await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 30));
      }
    }
  }
}

function withLatest(endpoint: EndpointSummary, services: readonly StoredService[]): EndpointView {
  const latest = services.filter((s) => s.meta.endpoint_id === endpoint.id).map((s) => s.meta.name);
  return { ...endpoint, latest: latest.sort(compare) };
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`"${name}" must be a boolean`);
  return value;
}

function uniqueInOrder(names: readonly string[]): string[] {
  return [...new Set(names)];
}

function describeAddress(address: EndpointAddress): string {
  return address.kind === 'http' ? address.uri : address.arn;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function endpointNotFound(id: string): NotFoundError {
  return new NotFoundError(`Endpoint '${id}' not found`);
}

function serviceNotFound(name: string): NotFoundError {
  return new NotFoundError(`Service '${name}' not found`);
}

/**
 * A stored set as the admin API hands it out: with the defaults the SDK's encoder dropped put
 * back, so Go clients load it (`buf curl --schema`, where reflection cannot work: API Gateway).
 */
function forClients(set: FileDescriptorSet): Uint8Array {
  set.file.forEach(restoreDefaults);
  return toBinary(FileDescriptorSetSchema, set);
}

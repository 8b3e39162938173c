/**
 * The hot-path read side: ServiceResolver over the registry store with an in-process cache.
 *
 *   resolve(name), warm:   0 DynamoDB round trips (entry younger than ttlMs)
 *   resolve(name), cold:   1 GetItem (service) + 1 GetItem (endpoint, unless the same endpoint
 *                          registration is cached) [+ 1 Query when the descriptor is chunked]
 *   resolveDeployment(id, name), warm: 0 (deployment younger than deploymentTtlMs, or loaded
 *                          by resolve() meanwhile); cold: 1 consistent GetItem [+ 1 Query]
 *
 * A name not in the cache (or expired) is looked up at once, so a service registered a moment
 * ago by another Lambda resolves on its first call. Unknown names are not cached. Compiled
 * descriptor sets are cached by content hash: they are immutable. So are deployments (only a
 * forced in-place replacement changes one), hence their longer TTL.
 */
import type { EndpointRecord, ResolvedService, ServiceMetadata, ServiceResolver } from './types.js';
import type { RegistryStore, StoredEndpoint } from './registry-store.js';
import { DescriptorSchema } from './schema.js';

export interface ResolverOptions {
  /** How long a resolved service (and the service list) is trusted. Default 5 s. */
  ttlMs?: number;
  /** How long a deployment loaded by id is trusted. Default 60 s. */
  deploymentTtlMs?: number;
  /** Compiled descriptor sets / endpoint records kept. Default 64 each. */
  maxEntries?: number;
  now?: () => number;
}

interface Timed<T> {
  value: T;
  expiresAt: number;
}

interface LoadedEndpoint {
  record: EndpointRecord;
  schema: DescriptorSchema;
  generation: string;
  /** Services as this deployment serves them (resolveDeployment), built on first use. */
  pinned: Map<string, ResolvedService>;
}

export class RegistryResolver implements ServiceResolver {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly services = new Map<string, Timed<ResolvedService>>();
  private readonly inFlight = new Map<string, Promise<ResolvedService | undefined>>();
  private listing: Timed<ServiceMetadata[]> | undefined;
  /** Keyed by `${endpointId}#${generation}`: one registration of one endpoint. */
  private readonly endpoints = new Map<string, Promise<LoadedEndpoint | undefined>>();
  /** Keyed by endpoint id: the registration seen last (resolveDeployment has no generation). */
  private readonly deployments = new Map<string, Timed<Promise<LoadedEndpoint | undefined>>>();
  private readonly deploymentTtlMs: number;
  /** Keyed by descriptor content hash. */
  private readonly schemas = new Map<string, DescriptorSchema>();

  constructor(
    private readonly store: RegistryStore,
    options: ResolverOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.deploymentTtlMs = options.deploymentTtlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 64;
    this.now = options.now ?? Date.now;
  }

  async resolve(serviceName: string): Promise<ResolvedService | undefined> {
    const hit = this.services.get(serviceName);
    if (hit !== undefined && hit.expiresAt > this.now()) return hit.value;
    let pending = this.inFlight.get(serviceName);
    if (pending === undefined) {
      pending = this.load(serviceName).finally(() => this.inFlight.delete(serviceName));
      this.inFlight.set(serviceName, pending);
    }
    return pending;
  }

  async resolveDeployment(endpointId: string, serviceName: string): Promise<ResolvedService | undefined> {
    const loaded = await this.deployment(endpointId);
    if (loaded === undefined) return undefined;
    let resolved = loaded.pinned.get(serviceName);
    if (resolved === undefined) {
      const served = loaded.record.services.find((s) => s.name === serviceName);
      if (served === undefined) return undefined;
      const compiled = loaded.schema.service(serviceName);
      resolved = {
        // public: false, so that a mistaken use to admit a new call fails closed.
        meta: {
          name: serviceName,
          methods: compiled.methods,
          instance_type: compiled.instanceType,
          endpoint_id: endpointId,
          revision: served.revision,
          public: false,
        },
        endpoint: loaded.record,
        registry: loaded.schema.registry,
        methods: compiled.resolved,
      };
      loaded.pinned.set(serviceName, resolved);
    }
    return resolved;
  }

  async list(): Promise<ServiceMetadata[]> {
    if (this.listing !== undefined && this.listing.expiresAt > this.now()) return this.listing.value;
    const catalogue = await this.store.readCatalogue();
    const services = (await this.store.getServices(catalogue.services)).map((s) => s.meta).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.listing = { value: services, expiresAt: this.now() + this.ttlMs };
    return services;
  }

  /** Forgets one service, or everything (after a local registration, in tests). */
  invalidate(serviceName?: string): void {
    if (serviceName === undefined) {
      this.services.clear();
      this.endpoints.clear();
      this.deployments.clear();
    } else {
      this.services.delete(serviceName);
    }
    this.listing = undefined;
  }

  private async load(name: string): Promise<ResolvedService | undefined> {
    const stored = await this.store.getService(name);
    if (stored === undefined) {
      this.services.delete(name);
      return undefined;
    }
    const endpoint = await this.endpoint(stored.meta.endpoint_id, stored.endpointGeneration);
    if (endpoint === undefined) {
      this.services.delete(name);
      return undefined;
    }
    const compiled = endpoint.schema.service(name);
    const resolved: ResolvedService = {
      meta: stored.meta,
      endpoint: endpoint.record,
      registry: endpoint.schema.registry,
      methods: compiled.resolved,
    };
    this.services.set(name, { value: resolved, expiresAt: this.now() + this.ttlMs });
    return resolved;
  }

  private endpoint(id: string, generation: string): Promise<LoadedEndpoint | undefined> {
    const key = `${id}#${generation}`;
    let loaded = this.endpoints.get(key);
    if (loaded === undefined) {
      const pending = this.store.getEndpoint(id).then((stored) => (stored === undefined ? undefined : this.compile(stored)));
      loaded = pending;
      // A failed or empty load must not stick; a good one also serves resolveDeployment(id).
      pending.then(
        (v) => (v === undefined ? this.endpoints.delete(key) : this.rememberDeployment(id, pending)),
        () => this.endpoints.delete(key),
      );
      remember(this.endpoints, key, loaded, this.maxEntries);
    }
    return loaded;
  }

  /**
   * One deployment by id. Read consistently: an invocation pinned to a deployment registered a
   * moment ago must find it, and a miss here fails that invocation's attempt.
   */
  private deployment(id: string): Promise<LoadedEndpoint | undefined> {
    const hit = this.deployments.get(id);
    if (hit !== undefined && hit.expiresAt > this.now()) return hit.value;
    const pending = this.store.getEndpoint(id, true).then((stored) => (stored === undefined ? undefined : this.compile(stored)));
    pending.then(
      (v) => {
        if (v === undefined) this.forgetDeployment(id, pending);
        // The same registration serves resolve() when a service item points at it.
        else if (!this.endpoints.has(`${id}#${v.generation}`)) remember(this.endpoints, `${id}#${v.generation}`, pending, this.maxEntries);
      },
      () => this.forgetDeployment(id, pending),
    );
    this.rememberDeployment(id, pending);
    return pending;
  }

  private rememberDeployment(id: string, loaded: Promise<LoadedEndpoint | undefined>): void {
    remember(this.deployments, id, { value: loaded, expiresAt: this.now() + this.deploymentTtlMs }, this.maxEntries);
  }

  private forgetDeployment(id: string, loaded: Promise<LoadedEndpoint | undefined>): void {
    if (this.deployments.get(id)?.value === loaded) this.deployments.delete(id);
  }

  private compile(stored: StoredEndpoint): LoadedEndpoint {
    let schema = this.schemas.get(stored.descriptorHash);
    if (schema === undefined) {
      schema = DescriptorSchema.decode(stored.descriptorSet);
      remember(this.schemas, stored.descriptorHash, schema, this.maxEntries);
    }
    const record: EndpointRecord = {
      id: stored.id,
      address: stored.address,
      protocolType: stored.protocolType,
      services: Object.entries(stored.services)
        .map(([name, revision]) => ({ name, revision }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
      descriptorSet: stored.descriptorSet,
      createdAt: stored.createdAt,
    };
    return { record, schema, generation: stored.generation, pinned: new Map() };
  }
}

/** Inserts, evicting the oldest entry beyond `max` (Maps iterate in insertion order). */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done === true) break;
    map.delete(oldest.value);
  }
}

export function createResolver(store: RegistryStore, options: ResolverOptions = {}): RegistryResolver {
  return new RegistryResolver(store, options);
}

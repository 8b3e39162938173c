/**
 * What the registry knows about endpoints and services, in the admin API's shapes (0.5 names,
 * docs/protocol.md §5), and what the ingress and the driver need to route a call.
 */
import type { DescField, DescMessage, FileRegistry } from '@bufbuild/protobuf';
import type { EndpointAddress } from '../endpoint/types.js';

export type InstanceType = 'Keyed' | 'Unkeyed' | 'Singleton';
export type ProtocolType = 'RequestResponse' | 'BidiStream';

/** Admin API MethodMetadata. `key_field_number` only for keyed services. */
export interface MethodMetadata {
  name: string;
  input_type: string;
  output_type: string;
  key_field_number?: number;
}

/** Admin API ServiceMetadata. */
export interface ServiceMetadata {
  name: string;
  methods: MethodMetadata[];
  instance_type: InstanceType;
  endpoint_id: string;
  revision: number;
  public: boolean;
}

/**
 * A registered endpoint (a deployment) as stored. `descriptorSet` is the *repaired*
 * FileDescriptorSet binary. `services` are the services it serves, each at the revision it
 * registered; a deployment never changes after registration (unless replaced in place by force).
 */
export interface EndpointRecord {
  id: string;
  address: EndpointAddress;
  protocolType: ProtocolType;
  services: { name: string; revision: number }[];
  descriptorSet: Uint8Array;
  createdAt: string;
}

/** One callable method, compiled for transcoding and key extraction. */
export interface ResolvedMethod {
  name: string;
  input: DescMessage;
  output: DescMessage;
  /** The KEY field of the input message (keyed services only). */
  keyField?: DescField;
}

/** Everything the ingress and the driver need to call a service. */
export interface ResolvedService {
  meta: ServiceMetadata;
  endpoint: EndpointRecord;
  /** Types of the endpoint's descriptor set (services stripped: router names may hold dots). */
  registry: FileRegistry;
  methods: Map<string, ResolvedMethod>;
}

/** Read side used on the hot path; implementations cache for a few seconds and refresh on a miss. */
export interface ServiceResolver {
  /** The latest revision of a service (what new calls use); undefined when no such service is registered. */
  resolve(serviceName: string): Promise<ResolvedService | undefined>;
  /**
   * The service as one deployment serves it: compiled from that deployment's own descriptor set,
   * called at its own address. This is what an invocation with a journal runs on (a journal
   * replays only against the code that wrote it). undefined when the deployment is gone or does
   * not serve the service. Never use it to admit a new call: `meta.public` is always false here.
   */
  resolveDeployment(endpointId: string, serviceName: string): Promise<ResolvedService | undefined>;
  /** Every registered service (for reflection / listing). */
  list(): Promise<ServiceMetadata[]>;
}

/**
 * How many unfinished invocations are pinned to a deployment (the deployment they started on).
 * Implemented by the invocation store; the admin API reports it and refuses to delete a
 * deployment that is still in use.
 */
export interface PinnedInvocations {
  countPinned(endpointId: string): Promise<number>;
}

/**
 * What the registry knows about endpoints and services, in the admin API's shapes (0.5 names,
 * research notes §5), and what the ingress and the driver need to route a call.
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

/** A registered endpoint as stored. `descriptorSet` is the *repaired* FileDescriptorSet binary. */
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
  /** undefined when no such service is registered. */
  resolve(serviceName: string): Promise<ResolvedService | undefined>;
  /** Every registered service (for reflection / listing). */
  list(): Promise<ServiceMetadata[]>;
  /**
   * The service as deployment `endpointId` serves it, whatever the service's current deployment
   * is (an invocation finishes on the code that wrote its journal). undefined when that
   * deployment is gone or does not serve the service.
   */
  resolveDeployment?(endpointId: string, serviceName: string): Promise<ResolvedService | undefined>;
}

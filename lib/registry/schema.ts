/**
 * From a discovered FileDescriptorSet to callable services: repair, registry, registration rules
 * (docs/protocol.md §2.1), and the ResolvedMethods the ingress and the driver use.
 */
import { clone, create, createFileRegistry, toBinary, ScalarType, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
  type FileDescriptorSet,
  type ServiceDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import {
  BAD_KEY_RESTATE_CODE,
  BadDescriptorError,
  FieldType,
  ServiceType,
  decodeDescriptorSet,
  readRestateOption,
  repairDescriptorSet,
} from './descriptors.js';
import type { InstanceType, MethodMetadata, ResolvedMethod } from './types.js';

/** One service as registration sees it: the parts of ServiceMetadata that come from descriptors. */
export interface CompiledService {
  name: string;
  instanceType: InstanceType;
  methods: MethodMetadata[];
  resolved: Map<string, ResolvedMethod>;
  /** The file that declares the service. */
  file: string;
}

const INSTANCE_TYPES: Record<number, InstanceType> = {
  [ServiceType.UNKEYED]: 'Unkeyed',
  [ServiceType.KEYED]: 'Keyed',
  [ServiceType.SINGLETON]: 'Singleton',
};

/** Names the runtime keeps for itself. */
export function isReservedServiceName(name: string): boolean {
  return name.startsWith('dev.restate') || name.startsWith('grpc');
}

/**
 * A repaired descriptor set with its type registry. Services live outside the registry: the SDK
 * names router services like `org.example.Greeter` inside a package-less file, which is not a
 * valid proto name, so services are keyed by `package.name` as the raw descriptor spells them
 * and the registry is built from the files with their services stripped.
 */
export class DescriptorSchema {
  readonly descriptorSet: FileDescriptorSet;
  readonly registry: FileRegistry;
  private readonly services = new Map<string, { file: FileDescriptorProto; service: ServiceDescriptorProto }>();
  private readonly compiled = new Map<string, CompiledService>();

  constructor(set: FileDescriptorSet) {
    this.descriptorSet = repairDescriptorSet(set);
    for (const file of this.descriptorSet.file) {
      for (const service of file.service) {
        const name = file.package === '' ? service.name : `${file.package}.${service.name}`;
        if (!this.services.has(name)) this.services.set(name, { file, service });
      }
    }
    // Copies: proto2 messages keep their defaults on the prototype, which a spread would lose.
    const stripped = create(FileDescriptorSetSchema, {
      file: this.descriptorSet.file.map((f) => {
        const copy = clone(FileDescriptorProtoSchema, f);
        copy.service = [];
        return copy;
      }),
    });
    try {
      this.registry = createFileRegistry(stripped);
    } catch (err) {
      throw new BadDescriptorError(`Invalid descriptors: ${(err as Error).message}`, { cause: err });
    }
  }

  static decode(bytes: Uint8Array): DescriptorSchema {
    return new DescriptorSchema(decodeDescriptorSet(bytes));
  }

  /** Every service declared in the set (registered or not). */
  get serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** The repaired set, encoded: what the registry stores. */
  toBinary(): Uint8Array {
    return toBinary(FileDescriptorSetSchema, this.descriptorSet);
  }

  /** The file declaring `serviceName` and everything it imports, imports first. */
  descriptorsFor(serviceName: string): FileDescriptorSet {
    const entry = this.services.get(serviceName);
    if (entry === undefined) throw new BadDescriptorError(`No service '${serviceName}' in the descriptors`);
    const byName = new Map(this.descriptorSet.file.map((f) => [f.name, f]));
    const needed = new Set<string>();
    const visit = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      for (const dep of byName.get(name)?.dependency ?? []) visit(dep);
    };
    visit(entry.file.name);
    return create(FileDescriptorSetSchema, { file: this.descriptorSet.file.filter((f) => needed.has(f.name)) });
  }

  /** Validates and compiles one service; throws BadDescriptorError (400) when a rule is broken. */
  service(name: string): CompiledService {
    let compiled = this.compiled.get(name);
    if (compiled === undefined) {
      compiled = this.compile(name);
      this.compiled.set(name, compiled);
    }
    return compiled;
  }

  private compile(name: string): CompiledService {
    const entry = this.services.get(name);
    if (entry === undefined) {
      throw new BadDescriptorError(`Service '${name}' is announced by the endpoint but missing from its descriptors`);
    }
    if (isReservedServiceName(name)) {
      throw new BadDescriptorError(`Service name '${name}' is reserved: names starting with 'dev.restate' or 'grpc' belong to the runtime`);
    }
    const { service } = entry;
    const serviceType = readRestateOption(service.options, 'dev.restate.ext.service_type', ServiceType);
    const instanceType = serviceType === undefined ? undefined : INSTANCE_TYPES[serviceType];
    if (instanceType === undefined) {
      throw new BadDescriptorError(
        serviceType === undefined
          ? `Service '${name}' has no (dev.restate.ext.service_type) option: mark it KEYED, UNKEYED or SINGLETON`
          : `Service '${name}' has an unknown (dev.restate.ext.service_type) value ${serviceType}`,
      );
    }
    if (instanceType === 'Keyed' && service.method.length === 0) {
      throw new BadDescriptorError(`Keyed service '${name}' has no methods`);
    }
    const methods: MethodMetadata[] = [];
    const resolved = new Map<string, ResolvedMethod>();
    for (const method of service.method) {
      if (method.clientStreaming || method.serverStreaming) {
        throw new BadDescriptorError(`Method '${name}/${method.name}' is streaming; only unary methods are supported`);
      }
      const input = this.message(method.inputType, `${name}/${method.name}`);
      const output = this.message(method.outputType, `${name}/${method.name}`);
      checkEventFields(input, `${name}/${method.name}`);
      const meta: MethodMetadata = { name: method.name, input_type: input.typeName, output_type: output.typeName };
      const r: ResolvedMethod = { name: method.name, input, output };
      if (instanceType === 'Keyed') {
        const keyField = this.keyField(input, `${name}/${method.name}`);
        meta.key_field_number = keyField.number;
        r.keyField = keyField;
      }
      methods.push(meta);
      resolved.set(method.name, r);
    }
    return { name, instanceType, methods, resolved, file: entry.file.name };
  }

  private message(typeName: string, where: string): DescMessage {
    const name = typeName.replace(/^\./, '');
    const message = this.registry.getMessage(name);
    if (message === undefined) throw new BadDescriptorError(`Method '${where}' uses message type '${name}', which is not in the descriptors`);
    return message;
  }

  private keyField(input: DescMessage, where: string): DescField {
    const keys = input.fields.filter((f) => fieldType(f) === FieldType.KEY);
    if (keys.length !== 1) {
      throw new BadDescriptorError(
        `The input '${input.typeName}' of keyed method '${where}' must have exactly one field marked (dev.restate.ext.field) = KEY; found ${keys.length}`,
        { restateCode: BAD_KEY_RESTATE_CODE },
      );
    }
    const key = keys[0]!;
    if (key.fieldKind !== 'scalar' || key.scalar !== ScalarType.STRING) {
      throw new BadDescriptorError(`The KEY field '${key.name}' of '${input.typeName}' (method '${where}') must be a string`, {
        restateCode: BAD_KEY_RESTATE_CODE,
      });
    }
    return key;
  }
}

function fieldType(field: DescField): number | undefined {
  return readRestateOption(field.proto.options, 'dev.restate.ext.field', FieldType);
}

/** EVENT_PAYLOAD must be string or bytes; EVENT_METADATA a map<string, string>. */
function checkEventFields(input: DescMessage, where: string): void {
  for (const f of input.fields) {
    const t = fieldType(f);
    if (t === FieldType.EVENT_PAYLOAD && !(f.fieldKind === 'scalar' && (f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES))) {
      throw new BadDescriptorError(`The EVENT_PAYLOAD field '${f.name}' of '${input.typeName}' (method '${where}') must be string or bytes`);
    }
    if (
      t === FieldType.EVENT_METADATA &&
      !(f.fieldKind === 'map' && f.mapKey === ScalarType.STRING && f.mapKind === 'scalar' && f.scalar === ScalarType.STRING)
    ) {
      throw new BadDescriptorError(`The EVENT_METADATA field '${f.name}' of '${input.typeName}' (method '${where}') must be map<string, string>`);
    }
  }
}

/**
 * Repairs `descriptorSetBytes`, then validates and compiles `names` (default: every service in
 * the set). Throws BadDescriptorError (400) on the first broken rule.
 */
export function compileServices(descriptorSetBytes: Uint8Array, names?: readonly string[]): Map<string, CompiledService> {
  const schema = DescriptorSchema.decode(descriptorSetBytes);
  const out = new Map<string, CompiledService>();
  for (const name of names ?? schema.serviceNames) out.set(name, schema.service(name));
  return out;
}

/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), built by hand from the registered
 * endpoints' repaired descriptor sets, so `buf curl --list-services`, `--list-methods` and calls
 * without `--schema` work against the local ingress server (a bidi stream: HTTP/2 only).
 *
 * What is described: the public services and the ingress's own (dev.restate.Ingress,
 * dev.restate.Awakeables, grpc.health.v1.Health, the reflection services). Private services are
 * removed from the files served, so they are not listed and their names answer NOT_FOUND.
 *
 * Files are rewritten where the SDK's are not valid protobuf for a client:
 * - router services with dotted names (`bindRouter("org.example.Dotted", …)`) sit in the
 *   package-less `proto/dynrpc.proto`; each moves to a synthetic file
 *   `restless/services/org.example.Dotted.proto` with `package org.example; service Dotted`,
 *   importing the original file for `RpcRequest`/`RpcResponse`. The full name stays the same, so
 *   the path `/org.example.Dotted/greet` a client derives is the one the ingress serves.
 * - names that are not proto identifiers (`my-service`) cannot be described and are left out.
 * - two endpoints shipping different files under one name (every SDK endpoint with routers has
 *   its own `proto/dynrpc.proto`): when both declare the same types, the first copy serves both
 *   and the later endpoint's services move to `<endpoint id>/<name>`, which imports it; otherwise
 *   the later endpoint's copy is served as `<endpoint id>/<name>`.
 */
import { clone, create, fromBinary, toBinary, type DescFile, type MessageInitShape } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  ServiceDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
  type ServiceDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';
import { file_dev_restate_services } from '../../gen/dev/restate/services_pb.js';
import { file_grpc_health_v1_health } from '../../gen/grpc/health/v1/health_pb.js';
import * as v1 from '../../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { Code } from '../errors.js';
import { restoreDefaults } from '../registry/descriptors.js';
import type { ResolvedService, ServiceResolver } from '../registry/types.js';

export const REFLECTION_SERVICES = [v1.ServerReflection.typeName, v1alpha.ServerReflection.typeName];

/** True for `/grpc.reflection.v1.ServerReflection/…` and the v1alpha twin. */
export function isReflectionPath(path: string): boolean {
  return REFLECTION_SERVICES.some((s) => path.startsWith(`/${s}/`));
}

const BUILTIN_FILES: DescFile[] = [
  file_dev_restate_services,
  file_grpc_health_v1_health,
  v1.file_grpc_reflection_v1_reflection,
  v1alpha.file_grpc_reflection_v1alpha_reflection,
];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Everything reflection can answer at one moment. */
export class ReflectionSnapshot {
  readonly services: string[] = [];
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly symbols = new Map<string, string>();
  /** Extendee type name → extension number → file. */
  private readonly extensions = new Map<string, Map<number, string>>();
  private readonly bytes = new Map<string, Uint8Array>();

  constructor(endpoints: { id: string; set: FileDescriptorProto[]; services: Set<string> }[]) {
    const builtins: FileDescriptorProto[] = [];
    const visit = (f: DescFile) => {
      f.dependencies.forEach(visit);
      if (!builtins.some((b) => b.name === f.proto.name)) builtins.push(f.proto);
    };
    BUILTIN_FILES.forEach(visit);
    builtins.forEach((f) => this.add(f));
    for (const endpoint of endpoints) {
      for (const f of servedFiles(endpoint.set, endpoint.services, this.files, endpoint.id)) this.add(f);
    }
    this.services.sort();
  }

  /** Adds a file unless one of that name is there already (well-known types, shared imports). */
  private add(file: FileDescriptorProto): void {
    if (this.files.has(file.name)) return;
    this.files.set(file.name, file);
    const prefix = file.package ? `${file.package}.` : '';
    const symbol = (name: string) => {
      if (!this.symbols.has(name)) this.symbols.set(name, file.name);
    };
    for (const s of file.service) {
      symbol(prefix + s.name);
      this.services.push(prefix + s.name);
      for (const m of s.method) symbol(`${prefix}${s.name}.${m.name}`);
    }
    const addEnum = (scope: string, e: EnumDescriptorProto) => {
      symbol(scope + e.name);
      // Enum values live in the enum's enclosing scope.
      for (const v of e.value) symbol(scope + v.name);
    };
    const addMessage = (scope: string, m: DescriptorProto) => {
      const name = scope + m.name;
      symbol(name);
      for (const f of m.field) symbol(`${name}.${f.name}`);
      for (const n of m.nestedType) addMessage(`${name}.`, n);
      for (const e of m.enumType) addEnum(`${name}.`, e);
      for (const x of m.extension) this.addExtension(`${name}.${x.name}`, x.extendee, x.number, file.name);
    };
    file.messageType.forEach((m) => addMessage(prefix, m));
    file.enumType.forEach((e) => addEnum(prefix, e));
    for (const x of file.extension) this.addExtension(prefix + x.name, x.extendee, x.number, file.name);
  }

  private addExtension(name: string, extendee: string, number: number, file: string): void {
    if (!this.symbols.has(name)) this.symbols.set(name, file);
    const type = extendee.replace(/^\./, '');
    let byNumber = this.extensions.get(type);
    if (!byNumber) this.extensions.set(type, (byNumber = new Map()));
    if (!byNumber.has(number)) byNumber.set(number, file);
  }

  fileByName(name: string): string | undefined {
    return this.files.has(name) ? name : undefined;
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ''));
  }

  fileOfExtension(type: string, number: number): string | undefined {
    return this.extensions.get(type.replace(/^\./, ''))?.get(number);
  }

  /** Extension numbers of a message type; undefined when the type is unknown. */
  extensionNumbers(type: string): number[] | undefined {
    const name = type.replace(/^\./, '');
    if (!this.symbols.has(name)) return undefined;
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** The file first, then its transitive imports not yet sent on this stream. */
  withDependencies(name: string, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [this.encoded(name)];
    sent.add(name);
    const visit = (dep: string) => {
      if (sent.has(dep) || !this.files.has(dep)) return;
      sent.add(dep);
      out.push(this.encoded(dep));
      this.files.get(dep)!.dependency.forEach(visit);
    };
    this.files.get(name)!.dependency.forEach(visit);
    return out;
  }

  private encoded(name: string): Uint8Array {
    let b = this.bytes.get(name);
    if (!b) this.bytes.set(name, (b = toBinary(FileDescriptorProtoSchema, this.files.get(name)!)));
    return b;
  }
}

/**
 * One endpoint's files as reflection serves them: only the given (public) services kept, dotted
 * router names moved to synthetic files, name clashes with files already served resolved, and
 * only what the kept services need (their files and imports).
 */
export function servedFiles(
  set: FileDescriptorProto[],
  publicServices: Set<string>,
  existing: ReadonlyMap<string, FileDescriptorProto>,
  endpointId: string,
): FileDescriptorProto[] {
  const files = set.map((f) => restoreDefaults(clone(FileDescriptorProtoSchema, f)));
  const synthetic: FileDescriptorProto[] = [];
  for (const file of files) {
    const kept = [];
    for (const service of file.service) {
      const full = file.package ? `${file.package}.${service.name}` : service.name;
      if (!publicServices.has(full) || !full.split('.').every((part) => IDENT.test(part))) continue;
      if (!service.name.includes('.')) {
        kept.push(service);
        continue;
      }
      const dot = full.lastIndexOf('.');
      synthetic.push(
        create(FileDescriptorProtoSchema, {
          name: `restless/services/${full}.proto`,
          package: full.slice(0, dot),
          dependency: [file.name],
          syntax: file.syntax || 'proto3',
          service: [renamedService(service, full.slice(dot + 1))],
        }),
      );
    }
    file.service = kept;
  }
  const all = [...files, ...synthetic];

  // A different file under a name already served: when it declares the same types (every SDK's
  // `proto/dynrpc.proto`, which differ in their services only; a `dev/restate/ext.proto` that
  // differs in options or comments), the served copy stands for it and its services, if any, move
  // to a file of their own that imports it. A client loading both would otherwise see every type
  // twice and refuse the files (Go's protodesc: "failed to find service"). A file declaring other
  // types is renamed (imports rewritten). The well-known types are the same everywhere after the
  // registry's repair, so the first copy stays.
  const renamed = new Map<string, string>();
  const merged = new Set<string>();
  for (const f of all) {
    const seen = existing.get(f.name);
    if (!seen || f.name.startsWith('google/protobuf/') || sameFile(seen, f)) continue;
    if (sameTypes(seen, f)) merged.add(f.name);
    else renamed.set(f.name, `${endpointId}/${f.name}`);
  }
  for (const f of all) {
    f.dependency = f.dependency.map((d) => renamed.get(d) ?? d);
    f.name = renamed.get(f.name) ?? f.name;
  }
  const own = all.flatMap((f) => {
    if (!merged.has(f.name)) return [f];
    if (f.service.length === 0) return [];
    return [
      create(FileDescriptorProtoSchema, {
        name: `${endpointId}/${f.name}`,
        package: f.package,
        dependency: [...new Set([f.name, ...f.dependency])],
        syntax: f.syntax,
        edition: f.edition,
        service: f.service,
      }),
    ];
  });

  const byName = new Map(own.map((f) => [f.name, f]));
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    byName.get(name)?.dependency.forEach(visit);
  };
  own.filter((f) => f.service.length > 0).forEach((f) => visit(f.name));
  return own.filter((f) => needed.has(f.name));
}

function renamedService(service: ServiceDescriptorProto, name: string): ServiceDescriptorProto {
  const copy = clone(ServiceDescriptorProtoSchema, service);
  copy.name = name;
  return copy;
}

function sameFile(a: FileDescriptorProto, b: FileDescriptorProto): boolean {
  return Buffer.from(toBinary(FileDescriptorProtoSchema, a)).equals(toBinary(FileDescriptorProtoSchema, b));
}

/** True when two files declare the same types (package, syntax, messages, enums, extensions), whatever their services, options and comments. */
function sameTypes(a: FileDescriptorProto, b: FileDescriptorProto): boolean {
  const types = (f: FileDescriptorProto) =>
    create(FileDescriptorProtoSchema, {
      package: f.package,
      syntax: f.syntax,
      edition: f.edition,
      messageType: f.messageType,
      enumType: f.enumType,
      extension: f.extension,
    });
  return sameFile(types(a), types(b));
}

/**
 * Builds snapshots from the resolver, reusing the last one while the public services and their
 * endpoint registrations are unchanged (resolver lookups are cached, so this is cheap per request).
 */
export class ReflectionCatalogue {
  private last: { signature: string; snapshot: ReflectionSnapshot } | undefined;

  constructor(private readonly resolver: ServiceResolver) {}

  async snapshot(): Promise<ReflectionSnapshot> {
    const listed = (await this.resolver.list()).filter((s) => s.public);
    const resolved = (await Promise.all(listed.map((s) => this.resolver.resolve(s.name)))).filter((s): s is ResolvedService => s?.meta.public === true);
    const signature = resolved.map((s) => `${s.meta.name}@${s.endpoint.id}@${s.endpoint.createdAt}`).join('|');
    if (this.last?.signature === signature) return this.last.snapshot;
    const byEndpoint = new Map<string, { id: string; bytes: Uint8Array; services: Set<string> }>();
    for (const s of resolved) {
      const key = `${s.endpoint.id}@${s.endpoint.createdAt}`;
      let e = byEndpoint.get(key);
      if (!e) byEndpoint.set(key, (e = { id: s.endpoint.id, bytes: s.endpoint.descriptorSet, services: new Set() }));
      e.services.add(s.meta.name);
    }
    const endpoints = [...byEndpoint.values()].map((e) => ({ id: e.id, services: e.services, set: fromBinary(FileDescriptorSetSchema, e.bytes).file }));
    const snapshot = new ReflectionSnapshot(endpoints);
    this.last = { signature, snapshot };
    return snapshot;
  }
}

type Request = v1.ServerReflectionRequest;
type ResponseInit = MessageInitShape<typeof v1.ServerReflectionResponseSchema>;

/** Answers one reflection request (v1 shapes). Unknown names are NOT_FOUND ErrorResponses. */
export function answer(snapshot: ReflectionSnapshot, req: Request, sent: Set<string>): ResponseInit {
  const base = { validHost: req.host, originalRequest: req };
  const files = (name: string | undefined, what: string): ResponseInit =>
    name === undefined
      ? { ...base, messageResponse: { case: 'errorResponse', value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } } }
      : { ...base, messageResponse: { case: 'fileDescriptorResponse', value: { fileDescriptorProto: snapshot.withDependencies(name, sent) } } };
  const r = req.messageRequest;
  switch (r.case) {
    case 'listServices':
      return { ...base, messageResponse: { case: 'listServicesResponse', value: { service: snapshot.services.map((name) => ({ name })) } } };
    case 'fileByFilename':
      return files(snapshot.fileByName(r.value), `file '${r.value}'`);
    case 'fileContainingSymbol':
      return files(snapshot.fileOfSymbol(r.value), `symbol '${r.value}'`);
    case 'fileContainingExtension':
      return files(
        snapshot.fileOfExtension(r.value.containingType, r.value.extensionNumber),
        `extension ${r.value.extensionNumber} of '${r.value.containingType}'`,
      );
    case 'allExtensionNumbersOfType': {
      const numbers = snapshot.extensionNumbers(r.value);
      if (numbers === undefined)
        return { ...base, messageResponse: { case: 'errorResponse', value: { errorCode: Code.NotFound, errorMessage: `type '${r.value}' not found` } } };
      return {
        ...base,
        messageResponse: { case: 'allExtensionNumbersResponse', value: { baseTypeName: r.value.replace(/^\./, ''), extensionNumber: numbers } },
      };
    }
    default:
      return {
        ...base,
        messageResponse: { case: 'errorResponse', value: { errorCode: Code.InvalidArgument, errorMessage: 'the request names no known message_request' } },
      };
  }
}

export function reflectionService(catalogue: ReflectionCatalogue): ServiceImpl<typeof v1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const req of requests) yield answer(await catalogue.snapshot(), req, sent);
    },
  };
}

/** v1alpha has the same messages under another package: the wire bytes are the same. */
export function reflectionServiceV1alpha(catalogue: ReflectionCatalogue): ServiceImpl<typeof v1alpha.ServerReflection> {
  const v1Impl = reflectionService(catalogue);
  return {
    async *serverReflectionInfo(requests, context) {
      const asV1 = (async function* () {
        for await (const req of requests) yield fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, req));
      })();
      for await (const res of v1Impl.serverReflectionInfo(asV1, context)) {
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, create(v1.ServerReflectionResponseSchema, res)));
      }
    },
  };
}

export function reflectionRoutes(resolver: ServiceResolver): (router: ConnectRouter) => void {
  const catalogue = new ReflectionCatalogue(resolver);
  return (router) => {
    router.service(v1.ServerReflection, reflectionService(catalogue));
    router.service(v1alpha.ServerReflection, reflectionServiceV1alpha(catalogue));
  };
}

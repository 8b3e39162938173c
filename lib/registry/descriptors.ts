/**
 * Repairs of the FileDescriptorSets that SDK endpoints announce (docs/protocol.md §2.2), and the
 * reading of Restate's service/field options in both of their encodings (§2.1).
 */
import { create, fromBinary, isFieldSet } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  EnumValueDescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  FileDescriptorSetSchema,
  UninterpretedOptionSchema,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
  type FileDescriptorSet,
  type UninterpretedOption,
} from '@bufbuild/protobuf/wkt';
import type { UnknownField } from '@bufbuild/protobuf';
import { InvalidArgumentError } from '../errors.js';

/** Admin API code for a bad service definition (descriptor, service type, names). */
export const BAD_SERVICE_RESTATE_CODE = 'META0001';
/** Admin API code for a bad key definition. */
export const BAD_KEY_RESTATE_CODE = 'META0002';

/** The descriptor set is unusable or a service breaks a registration rule: 400 on the admin API. */
export class BadDescriptorError extends InvalidArgumentError {
  constructor(message: string, options: { cause?: unknown; restateCode?: string } = {}) {
    super(message, { cause: options.cause, restateCode: options.restateCode ?? BAD_SERVICE_RESTATE_CODE });
  }
}

/**
 * The canonical well-known-type files. The SDK's copies are damaged (its encoder drops
 * `oneof_index = 0`, so `google.protobuf.Value` loses its oneof and transcodes to nothing).
 */
const CANONICAL_FILES: ReadonlyMap<string, FileDescriptorProto> = new Map(
  [
    file_google_protobuf_any,
    file_google_protobuf_api,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_source_context,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_type,
    file_google_protobuf_wrappers,
  ].map((f) => [f.proto.name, f.proto]),
);

export function decodeDescriptorSet(bytes: Uint8Array): FileDescriptorSet {
  try {
    return fromBinary(FileDescriptorSetSchema, bytes);
  } catch (err) {
    throw new BadDescriptorError(`Cannot decode the FileDescriptorSet: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Returns a repaired copy of `set`:
 * 1. every `google/protobuf/*.proto` we know is replaced by the canonical descriptor, and a
 *    missing one that a file imports is added;
 * 2. a file announced twice is kept once (the first copy);
 * 3. files are sorted so that every file follows its imports (the SDK sends
 *    `dev/restate/ext.proto` before `google/protobuf/descriptor.proto`).
 * Idempotent, so stored (already repaired) sets can go through it again.
 */
export function repairDescriptorSet(set: FileDescriptorSet): FileDescriptorSet {
  const byName = new Map<string, FileDescriptorProto>();
  for (const file of set.file) {
    if (!byName.has(file.name)) byName.set(file.name, CANONICAL_FILES.get(file.name) ?? file);
  }
  const sorted: FileDescriptorProto[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, importer: string | undefined) => {
    const mark = state.get(name);
    if (mark === 'done') return;
    if (mark === 'visiting') throw new BadDescriptorError(`Import cycle in the descriptors through '${name}'`);
    let file = byName.get(name);
    if (file === undefined) {
      file = CANONICAL_FILES.get(name);
      if (file === undefined) throw new BadDescriptorError(`'${importer ?? '?'}' imports '${name}', which the descriptor set does not contain`);
      byName.set(name, file);
    }
    state.set(name, 'visiting');
    for (const dep of file.dependency) visit(dep, name);
    state.set(name, 'done');
    sorted.push(file);
  };
  for (const name of [...byName.keys()]) visit(name, undefined);
  return create(FileDescriptorSetSchema, { file: sorted });
}

/** `dev.restate.ext.ServiceType`, an extension of ServiceOptions. */
export const ServiceType = { UNKEYED: 0, KEYED: 1, SINGLETON: 2 } as const;
/** `dev.restate.ext.FieldType`, an extension of FieldOptions. */
export const FieldType = { KEY: 0, EVENT_PAYLOAD: 1, EVENT_METADATA: 2 } as const;

/** Both extensions use this number, on ServiceOptions and FieldOptions respectively. */
export const RESTATE_EXTENSION_NUMBER = 51234;

interface OptionsLike {
  uninterpretedOption: UninterpretedOption[];
  $unknown?: UnknownField[];
}

/**
 * Reads a Restate enum option: either the real extension field 51234 (varint, as protoc writes
 * it) or the SDK's UninterpretedOption naming the extension with the enum value's *name*.
 * Returns the enum number, or undefined when the option is absent. The last occurrence wins.
 */
export function readRestateOption(
  options: OptionsLike | undefined,
  extensionName: 'dev.restate.ext.service_type' | 'dev.restate.ext.field',
  values: Readonly<Record<string, number>>,
): number | undefined {
  if (options === undefined) return undefined;
  let value: number | undefined;
  for (const u of options.$unknown ?? []) {
    if (u.no === RESTATE_EXTENSION_NUMBER && u.wireType === WireType.Varint) {
      value = new BinaryReader(u.data).int32();
    }
  }
  for (const opt of options.uninterpretedOption) {
    const name = opt.name
      .map((p) => p.namePart)
      .join('.')
      .replace(/^\./, '');
    if (name !== extensionName) continue;
    if (isFieldSet(opt, UninterpretedOptionSchema.field.identifierValue) && opt.identifierValue in values) {
      value = values[opt.identifierValue];
    } else if (isFieldSet(opt, UninterpretedOptionSchema.field.positiveIntValue)) {
      value = Number(opt.positiveIntValue);
    } else {
      throw new BadDescriptorError(`Unknown value '${opt.identifierValue}' of option (${extensionName})`);
    }
  }
  return value;
}

/**
 * Puts back what the SDK's descriptor encoder drops because it equals the default (docs/protocol.md
 * §2.2): Go clients (buf curl) reject an enum value without a number, and a proto3 `optional`
 * field outside its synthetic oneof `_name`. For descriptors handed to clients (reflection, the
 * admin API's `/descriptors`); mutates and returns the file.
 */
export function restoreDefaults(file: FileDescriptorProto): FileDescriptorProto {
  const enums = (list: EnumDescriptorProto[]) => {
    for (const e of list) for (const v of e.value) if (!isFieldSet(v, EnumValueDescriptorProtoSchema.field.number)) v.number = 0;
  };
  const messages = (list: DescriptorProto[]) => {
    for (const m of list) {
      for (const f of m.field) {
        if (f.proto3Optional && !isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex)) {
          const i = m.oneofDecl.findIndex((o) => o.name === `_${f.name}`);
          if (i >= 0) f.oneofIndex = i;
        }
      }
      enums(m.enumType);
      messages(m.nestedType);
    }
  };
  enums(file.enumType);
  messages(file.messageType);
  return file;
}

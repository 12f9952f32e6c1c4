// gRPC server reflection (grpc.reflection.v1 and v1alpha): what grpcurl and friends ask a server about its protos.
//
// protobufjs's own Root#toDescriptor groups types by package rather than by file, drops
// dependencies and writes relative type names, which tools that link descriptors (grpcurl,
// protobuf-go's protodesc) reject. So the FileDescriptorProtos here are built by hand: one per
// .proto file, fully-qualified type names, a dependency list naming the other files we serve,
// and map entry types named as protoc names them.
import protobuf from "protobufjs";
import type { Enum, Field, Method, Namespace, OneOf, ReflectionObject, Root, Service, Type } from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import type { Server } from "../../core/server.js";
import type { CallContext } from "../../core/context.js";
import { Code } from "../../core/codes.js";
import { reflectionRoot } from "./standard-protos.js";

/** The oneof members of ServerReflectionRequest.message_request. */
const QUESTIONS = ["file_by_filename", "file_containing_symbol", "file_containing_extension", "all_extension_numbers_of_type", "list_services"] as const;
type Question = (typeof QUESTIONS)[number];

export interface ExtensionRequest {
  containing_type: string;
  extension_number: number;
}

/** A reflection request as handlers receive it (the set oneof member named by message_request). */
export interface ServerReflectionRequest {
  host?: string;
  message_request?: string;
  file_by_filename?: string | null;
  file_containing_symbol?: string | null;
  file_containing_extension?: ExtensionRequest | null;
  all_extension_numbers_of_type?: string | null;
  list_services?: string | null;
}

export interface ServerReflectionResponse {
  valid_host: string;
  original_request: ServerReflectionRequest;
  file_descriptor_response?: { file_descriptor_proto: Uint8Array[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  list_services_response?: { service: Array<{ name: string }> };
  error_response?: { error_code: number; error_message: string };
}

/** One .proto file as reflection serves it. */
export interface DescribedFile {
  /** The name dependencies refer to it by, e.g. "grpc/health/v1/health.proto". */
  readonly name: string;
  readonly package: string;
  /** Names of the files it imports (every one of them also in the index). */
  readonly dependencies: readonly string[];
  /** The serialized google.protobuf.FileDescriptorProto. */
  readonly bytes: Uint8Array;
}

/** Every file, symbol and extension of a set of Roots, as reflection answers from them. */
export interface DescriptorIndex {
  readonly files: ReadonlyMap<string, DescribedFile>;
  /** Fully-qualified symbol (no leading dot) -> the name of the file that declares it. */
  readonly symbols: ReadonlyMap<string, string>;
  /** Every service the Roots define, fully qualified. */
  readonly services: readonly string[];
  /** Extended message type -> field number -> the file declaring that extension. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, string>>;
  /** The file named `name` and every file it depends on, directly or not; the file first. */
  closure(name: string): DescribedFile[];
}

/** The server surface reflection reads: what is registered, and the protos it came from. */
export interface ReflectionSource {
  methods(): string[];
  protoRoots(): readonly Root[];
}

/**
 * grpc.reflection's ServerReflection service over one server's registered protos. Each request
 * on the stream gets one response, in order; questions it cannot answer get an error_response
 * and the stream goes on, as grpcurl expects.
 */
export class ReflectionService {
  readonly #source: ReflectionSource;
  #roots: readonly Root[] = [];
  #index: DescriptorIndex | undefined;

  constructor(source: ReflectionSource) {
    this.#source = source;
  }

  async *ServerReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>, ctx: CallContext): AsyncGenerator<ServerReflectionResponse, void, undefined> {
    for await (const request of requests) {
      if (ctx.signal.aborted) return;
      yield this.answer(request);
    }
  }

  /** The response to one request. */
  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    const host = typeof request?.host === "string" ? request.host : "";
    const question = questionOf(request);
    if (question === undefined) {
      return { valid_host: host, original_request: { host }, error_response: { error_code: Code.INVALID_ARGUMENT, error_message: "reflection: the request asks nothing (set one of message_request's fields)" } };
    }
    const value = request[question];
    const base = { valid_host: host, original_request: { host, [question]: value } as ServerReflectionRequest };
    const index = this.index();
    const notFound = (message: string): ServerReflectionResponse => ({ ...base, error_response: { error_code: Code.NOT_FOUND, error_message: message } });
    const files = (name: string): ServerReflectionResponse => ({ ...base, file_descriptor_response: { file_descriptor_proto: index.closure(name).map((f) => f.bytes) } });
    switch (question) {
      case "list_services":
        return { ...base, list_services_response: { service: this.services(index).map((name) => ({ name })) } };
      case "file_by_filename": {
        const name = String(value);
        return index.files.has(name) ? files(name) : notFound(`reflection: no file named ${JSON.stringify(name)}`);
      }
      case "file_containing_symbol": {
        const symbol = String(value).replace(/^\./, "");
        const file = index.symbols.get(symbol);
        return file === undefined ? notFound(`reflection: symbol not found: ${symbol}`) : files(file);
      }
      case "file_containing_extension": {
        const ext = (value ?? {}) as Partial<ExtensionRequest>;
        const type = String(ext.containing_type ?? "").replace(/^\./, "");
        const file = index.extensions.get(type)?.get(Number(ext.extension_number));
        return file === undefined ? notFound(`reflection: no extension ${String(ext.extension_number)} of ${type}`) : files(file);
      }
      case "all_extension_numbers_of_type": {
        const type = String(value).replace(/^\./, "");
        if (!isMessageType(index, type)) return notFound(`reflection: no message type ${type}`);
        const numbers = [...(index.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
        return { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: numbers } };
      }
    }
  }

  /** Every proto service the server serves, sorted (reflection's own included). */
  services(index: DescriptorIndex = this.index()): string[] {
    const registered = new Set(this.#source.methods().map((m) => m.slice(0, m.lastIndexOf("."))));
    return index.services.filter((s) => registered.has(s)).sort();
  }

  /** The index of the server's protos, rebuilt only when a register() has added a Root. */
  index(): DescriptorIndex {
    const roots = this.#source.protoRoots();
    if (!this.#index || roots.length !== this.#roots.length || roots.some((r, i) => r !== this.#roots[i])) {
      this.#index = describeRoots(roots);
      this.#roots = [...roots];
    }
    return this.#index;
  }
}

/**
 * Serves grpc.reflection.v1.ServerReflection and grpc.reflection.v1alpha.ServerReflection on
 * `server`. Register it whenever you like: each request looks at what is registered by then.
 */
export function registerReflection(server: Server): void {
  const source: ReflectionSource = { methods: () => server.methods(), protoRoots: () => server.protoRoots() };
  server.register(new ReflectionService(source), { service: "grpc.reflection.v1.ServerReflection", proto: reflectionRoot("v1") });
  server.register(new ReflectionService(source), { service: "grpc.reflection.v1alpha.ServerReflection", proto: reflectionRoot("v1alpha") });
}

function questionOf(request: ServerReflectionRequest | undefined): Question | undefined {
  if (typeof request !== "object" || request === null) return undefined;
  const named = request.message_request;
  const set = (q: Question): boolean => request[q] !== undefined && request[q] !== null;
  if (typeof named === "string" && (QUESTIONS as readonly string[]).includes(named) && set(named as Question)) return named as Question;
  return QUESTIONS.find(set);
}

function isMessageType(index: DescriptorIndex, name: string): boolean {
  return (index as IndexImpl).messages.has(name);
}

// ---------------------------------------------------------------------------------------------
// Roots -> FileDescriptorProtos

/** FieldDescriptorProto.Type numbers of protobuf's scalar types. */
const SCALAR: Readonly<Record<string, number>> = {
  double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9,
  bytes: 12, uint32: 13, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18,
};
const TYPE_GROUP = 10, TYPE_MESSAGE = 11, TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1, LABEL_REQUIRED = 2, LABEL_REPEATED = 3;

type Plain = Record<string, unknown>;

interface Group {
  name: string;
  readonly rawName: string | undefined;
  readonly pkg: string;
  readonly edition: string | undefined;
  readonly items: ReflectionObject[];
}

interface IndexImpl extends DescriptorIndex {
  /** Every message type, fully qualified (for all_extension_numbers_of_type). */
  readonly messages: ReadonlySet<string>;
}

/** Which bundled google/protobuf file protobufjs took each well-known type from (it keeps no file name for them). */
let wellKnown: Map<string, string> | undefined;

function wellKnownFile(fullName: string): string | undefined {
  if (!wellKnown) {
    wellKnown = new Map();
    const common = (protobuf as unknown as { common: Record<string, unknown> }).common;
    for (const [file, json] of Object.entries(common)) {
      const types = (json as { nested?: { google?: { nested?: { protobuf?: { nested?: Plain } } } } })?.nested?.google?.nested?.protobuf?.nested;
      if (file.endsWith(".proto") && types) for (const name of Object.keys(types)) wellKnown.set(`google.protobuf.${name}`, file);
    }
  }
  return wellKnown.get(fullName);
}

const isType = (o: unknown): o is Type => o instanceof protobuf.Type;
const isEnum = (o: unknown): o is Enum => o instanceof protobuf.Enum;
const isService = (o: unknown): o is Service => o instanceof protobuf.Service;
const isField = (o: unknown): o is Field => o instanceof protobuf.Field;
const isMapField = (o: unknown): o is protobuf.MapField => o instanceof protobuf.MapField;

const bare = (fullName: string): string => fullName.replace(/^\./, "");

/** The object at file level that `obj` is declared in (itself, or its outermost enclosing message). */
function topLevel(obj: ReflectionObject): ReflectionObject {
  let top = obj;
  while (top.parent && isType(top.parent)) top = top.parent;
  return top;
}

/** protoc's json_name: underscores dropped, the letter after each one upper-cased. */
function jsonName(name: string): string {
  let out = "";
  let upper = false;
  for (const c of name) {
    if (c === "_") upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

/** protoc's name for a map field's entry message: "rpcs_by_peer" -> "RpcsByPeerEntry". */
function mapEntryName(field: string): string {
  const camel = jsonName(field);
  return camel.charAt(0).toUpperCase() + camel.slice(1) + "Entry";
}

/**
 * Builds the reflection index of `roots`: every top-level message, enum, service and extension
 * is put in the file protobufjs read it from (relative paths as given, absolute ones relative
 * to their common directory, well-known types in google/protobuf/*.proto); Roots parsed from
 * strings, which have no file names, get one file per package. A name defined by two Roots
 * (the same .proto loaded twice) is described once, from the first.
 */
export function describeRoots(roots: readonly Root[]): DescriptorIndex {
  const groups: Group[] = [];
  const byKey = new Map<string, Group>();
  const topFile = new Map<string, Group>();
  const seenRoots = new Set<Root>();

  const place = (obj: ReflectionObject, pkg: string): void => {
    const full = bare(obj.fullName);
    if (topFile.has(full)) return;
    const raw = obj.filename ?? undefined;
    const edition = (obj as unknown as { _edition?: string })._edition;
    const key = `${raw ?? wellKnownFile(full) ?? ""}\0${pkg}`;
    let group = byKey.get(key);
    if (!group) {
      group = { name: "", rawName: raw ?? wellKnownFile(full), pkg, edition, items: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.items.push(obj);
    topFile.set(full, group);
  };
  const walk = (ns: Namespace, pkg: string): void => {
    for (const child of ns.nestedArray) {
      if (isType(child) || isEnum(child) || isService(child) || isField(child)) place(child, pkg);
      else if (child instanceof protobuf.Namespace) walk(child, bare(child.fullName));
    }
  };
  for (const root of roots) {
    if (seenRoots.has(root)) continue;
    seenRoots.add(root);
    walk(root, "");
  }
  nameGroups(groups);

  const files = new Map<string, DescribedFile>();
  const symbols = new Map<string, string>();
  const messages = new Set<string>();
  const services: string[] = [];
  const extensions = new Map<string, Map<number, string>>();
  const fileOf = (obj: ReflectionObject): Group | undefined => topFile.get(bare(topLevel(obj).fullName));

  for (const group of groups) {
    const deps: string[] = [];
    const ref = (target: ReflectionObject): string => {
      const other = fileOf(target);
      if (other && other !== group && !deps.includes(other.name)) deps.push(other.name);
      return target.fullName.startsWith(".") ? target.fullName : `.${target.fullName}`;
    };
    const symbol = (name: string): void => {
      if (!symbols.has(name)) symbols.set(name, group.name);
    };
    const proto2 = group.edition === "proto2";
    const file: Plain = { name: group.name, messageType: [], enumType: [], service: [], extension: [] };
    if (group.pkg) file.package = group.pkg;
    for (const item of group.items) {
      if (isType(item)) (file.messageType as Plain[]).push(describeMessage(item, ref, symbol, messages, extensions, group.name, proto2));
      else if (isEnum(item)) (file.enumType as Plain[]).push(describeEnum(item, symbol));
      else if (isService(item)) {
        (file.service as Plain[]).push(describeService(item, ref, symbol));
        services.push(bare(item.fullName));
      } else if (isField(item)) (file.extension as Plain[]).push(describeExtension(item, ref, symbol, extensions, group.name, proto2));
    }
    file.dependency = deps;
    if (group.edition === undefined || group.edition === "proto3" || group.edition === "proto2") file.syntax = group.edition ?? "proto3";
    else {
      file.syntax = "editions";
      file.edition = EDITIONS[group.edition] ?? 0;
    }
    const message = descriptor.FileDescriptorProto.fromObject(file);
    const bytes = descriptor.FileDescriptorProto.encode(message).finish();
    files.set(group.name, { name: group.name, package: group.pkg, dependencies: deps, bytes });
  }

  const index: IndexImpl = {
    files,
    symbols,
    services,
    extensions,
    messages,
    closure(name) {
      const out: DescribedFile[] = [];
      const seen = new Set<string>();
      const queue = [name];
      while (queue.length > 0) {
        const next = files.get(queue.shift()!);
        if (!next || seen.has(next.name)) continue;
        seen.add(next.name);
        out.push(next);
        queue.push(...next.dependencies);
      }
      return out;
    },
  };
  return index;
}

/** google.protobuf.Edition numbers for the editions protobufjs parses. */
const EDITIONS: Readonly<Record<string, number>> = { "2023": 1000, "2024": 1001 };

/**
 * Final file names: google/protobuf/* as protoc names them, relative paths as given, absolute
 * ones relative to the directory all absolute paths share (so no machine path leaks into a
 * descriptor), and "<package>.proto" for types parsed from strings. Names stay unique.
 */
function nameGroups(groups: Group[]): void {
  const normal = (p: string): string => p.replace(/\\/g, "/");
  const absolute = groups.map((g) => g.rawName).filter((n): n is string => n !== undefined && isAbsolute(normal(n))).map(normal);
  let prefix = "";
  if (absolute.length > 0) {
    const dirs = absolute.map((p) => p.slice(0, p.lastIndexOf("/") + 1));
    prefix = dirs.reduce((a, b) => {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return a.slice(0, a.lastIndexOf("/", i - 1) + 1);
    });
  }
  const taken = new Set<string>();
  for (const group of groups) {
    let name: string;
    const raw = group.rawName === undefined ? undefined : normal(group.rawName);
    const google = raw?.lastIndexOf("google/protobuf/") ?? -1;
    if (raw === undefined) name = `${group.pkg || "default"}.proto`;
    else if (google >= 0) name = raw.slice(google);
    else if (isAbsolute(raw)) name = raw.slice(prefix.length);
    else name = raw.replace(/^(\.\/)+/, "");
    let unique = name;
    for (let n = 2; taken.has(unique); n++) unique = name.replace(/\.proto$/, "") + `_${n}.proto`;
    taken.add(unique);
    group.name = unique;
  }
}

function isAbsolute(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:\//.test(p);
}

type Ref = (target: ReflectionObject) => string;
type Symbol = (name: string) => void;

function describeMessage(
  type: Type, ref: Ref, symbol: Symbol, messages: Set<string>,
  extensions: Map<string, Map<number, string>>, file: string, proto2: boolean,
): Plain {
  const full = bare(type.fullName);
  symbol(full);
  messages.add(full);
  // Real oneofs first: descriptors must list proto3 `optional`'s synthetic oneofs after them.
  const synthetic = (o: OneOf): boolean => o.fieldsArray.length === 1 && o.fieldsArray[0]!.options?.proto3_optional === true;
  const oneofs = [...type.oneofsArray.filter((o) => !synthetic(o)), ...type.oneofsArray.filter(synthetic)];
  const out: Plain = {
    name: type.name,
    field: [],
    nestedType: [],
    enumType: [],
    extension: [],
    oneofDecl: oneofs.map((o) => {
      symbol(`${full}.${o.name}`);
      return { name: o.name };
    }),
  };
  for (const field of type.fieldsArray) {
    // A field another file's `extend` added here is described with that extension, not here.
    if ((field as Field & { declaringField?: Field | null }).declaringField) continue;
    symbol(`${full}.${field.name}`);
    if (isMapField(field)) {
      const entry = mapEntryName(field.name);
      field.resolve();
      const value: Plain = { name: "value", number: 2, label: LABEL_OPTIONAL, jsonName: "value", ...fieldType(field, ref) };
      (out.nestedType as Plain[]).push({
        name: entry,
        field: [{ name: "key", number: 1, label: LABEL_OPTIONAL, jsonName: "key", type: SCALAR[field.keyType] }, value],
        options: { mapEntry: true },
      });
      (out.field as Plain[]).push({
        name: field.name, number: field.id, label: LABEL_REPEATED, type: TYPE_MESSAGE,
        typeName: `${type.fullName}.${entry}`, jsonName: jsonName(field.name), ...fieldOptions(field),
      });
      continue;
    }
    const d = describeField(field, ref, proto2);
    if (field.partOf) d.oneofIndex = oneofs.indexOf(field.partOf);
    (out.field as Plain[]).push(d);
  }
  for (const nested of type.nestedArray) {
    if (isType(nested)) (out.nestedType as Plain[]).push(describeMessage(nested, ref, symbol, messages, extensions, file, proto2));
    else if (isEnum(nested)) (out.enumType as Plain[]).push(describeEnum(nested, symbol));
    else if (isField(nested)) (out.extension as Plain[]).push(describeExtension(nested, ref, symbol, extensions, file, proto2));
  }
  if (type.extensions) out.extensionRange = type.extensions.map(([start, end]) => ({ start, end: end + 1 }));
  if (type.reserved) {
    out.reservedRange = type.reserved.filter((r): r is number[] => Array.isArray(r)).map(([start, end]) => ({ start, end: end! + 1 }));
    out.reservedName = type.reserved.filter((r): r is string => typeof r === "string");
  }
  if (type.options?.deprecated === true) out.options = { deprecated: true };
  return out;
}

/** type and typeName of a field (or a map field's value). */
function fieldType(field: Field, ref: Ref): Plain {
  const resolved = field.resolve().resolvedType;
  if (isEnum(resolved)) return { type: TYPE_ENUM, typeName: ref(resolved) };
  if (resolved) return { type: field.delimited ? TYPE_GROUP : TYPE_MESSAGE, typeName: ref(resolved) };
  const scalar = SCALAR[field.type];
  if (scalar === undefined) throw new TypeError(`reflection: field ${field.fullName} has unknown type ${field.type}`);
  return { type: scalar };
}

function fieldOptions(field: Field): Plain {
  const options: Plain = {};
  if (typeof field.options?.packed === "boolean") options.packed = field.options.packed;
  if (field.options?.deprecated === true) options.deprecated = true;
  return Object.keys(options).length > 0 ? { options } : {};
}

function describeField(field: Field, ref: Ref, proto2: boolean): Plain {
  const out: Plain = {
    name: field.name,
    number: field.id,
    label: field.repeated ? LABEL_REPEATED : proto2 && field.required ? LABEL_REQUIRED : LABEL_OPTIONAL,
    ...fieldType(field, ref),
    jsonName: typeof field.options?.json_name === "string" ? field.options.json_name : jsonName(field.name),
    ...fieldOptions(field),
  };
  if (field.options?.proto3_optional === true) out.proto3Optional = true;
  const fallback = field.options?.default;
  if (proto2 && fallback !== undefined && fallback !== null && typeof fallback !== "object") out.defaultValue = String(fallback);
  return out;
}

function describeExtension(
  field: Field, ref: Ref, symbol: Symbol, extensions: Map<string, Map<number, string>>, file: string, proto2: boolean,
): Plain {
  const full = bare(field.fullName);
  symbol(full);
  const out = describeField(field, ref, proto2);
  const target = (field as Field & { extensionField?: Field | null }).extensionField?.parent;
  const extendee = target ? ref(target) : field.extend ?? "";
  out.extendee = extendee;
  const base = bare(extendee);
  let numbers = extensions.get(base);
  if (!numbers) extensions.set(base, (numbers = new Map()));
  if (!numbers.has(field.id)) numbers.set(field.id, file);
  return out;
}

function describeEnum(e: Enum, symbol: Symbol): Plain {
  const full = bare(e.fullName);
  symbol(full);
  // Enum values are scoped like siblings of their enum: pkg.VALUE, not pkg.Enum.VALUE.
  const scope = e.parent ? bare(e.parent.fullName) : "";
  const out: Plain = {
    name: e.name,
    value: Object.entries(e.values).map(([name, number]) => {
      symbol(scope ? `${scope}.${name}` : name);
      const value: Plain = { name, number };
      if (e.valuesOptions?.[name]?.deprecated === true) value.options = { deprecated: true };
      return value;
    }),
  };
  const options: Plain = {};
  if (e.options?.allow_alias === true) options.allowAlias = true;
  if (e.options?.deprecated === true) options.deprecated = true;
  if (Object.keys(options).length > 0) out.options = options;
  return out;
}

function describeService(service: Service, ref: Ref, symbol: Symbol): Plain {
  const full = bare(service.fullName);
  symbol(full);
  return {
    name: service.name,
    method: service.methodsArray.map((m: Method) => {
      symbol(`${full}.${m.name}`);
      m.resolve();
      const out: Plain = { name: m.name, inputType: ref(m.resolvedRequestType!), outputType: ref(m.resolvedResponseType!) };
      if (m.requestStream) out.clientStreaming = true;
      if (m.responseStream) out.serverStreaming = true;
      if (m.options?.deprecated === true) out.options = { deprecated: true };
      return out;
    }),
    ...(service.options?.deprecated === true ? { options: { deprecated: true } } : {}),
  };
}

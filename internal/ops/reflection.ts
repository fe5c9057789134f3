import {
  create,
  createRegistry,
  toBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The request oneof, common to v1 and v1alpha (the two protos differ only in their package). */
export type ReflectionRequest =
  | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: undefined; value?: undefined };

/** The response oneof, as an init shape both versions' schemas accept. */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Routes for gRPC server reflection (grpc.reflection.v1 and v1alpha; buf curl tries v1 first, older
 * grpcurl and grpc-js tooling ask v1alpha). Answers come from the descriptors in `registry`: every
 * service in it is listed, and every file is served with its transitive imports. The reflection files
 * themselves are always added, since clients describe the reflection service too.
 */
export function createReflectionRoutes(registry: Registry): (router: ConnectRouter) => void {
  const index = createReflectionIndex(registry);
  return (router) => {
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: index.answer(req.messageRequest),
          });
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1alpha.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: index.answer(req.messageRequest),
          });
        }
      },
    });
  };
}

export interface ReflectionIndex {
  /** Fully qualified names of every service, sorted. */
  services: string[];
  answer(req: ReflectionRequest): ReflectionAnswer;
}

/** Precomputes the lookup tables; exported so the answers can be tested without a server. */
export function createReflectionIndex(input: Registry): ReflectionIndex {
  const registry = createRegistry(
    input,
    v1.file_grpc_reflection_v1_reflection,
    v1alpha.file_grpc_reflection_v1alpha_reflection,
  );
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const services: string[] = [];
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    indexSymbols(file, symbols);
    file.dependencies.forEach(addFile);
  };
  for (const desc of registry) {
    addFile(desc.file);
    if (desc.kind === "service") services.push(desc.typeName);
  }
  services.sort();

  const encoded = new Map<string, Uint8Array>();
  const encode = (file: DescFile) => {
    let bytes = encoded.get(file.proto.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      encoded.set(file.proto.name, bytes);
    }
    return bytes;
  };
  // The asked-for file first, then everything it imports, so a client can build it in one round trip.
  const withDependencies = (file: DescFile): ReflectionAnswer => {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out.map(encode) } };
  };
  const error = (code: Code, message: string): ReflectionAnswer => ({
    case: "errorResponse",
    value: { errorCode: code, errorMessage: message },
  });
  const extensionsOf = (message: DescMessage) =>
    [...registry].filter((d): d is DescExtension => d.kind === "extension" && d.extendee.typeName === message.typeName);

  return {
    services,
    answer(req) {
      switch (req.case) {
        case "listServices":
          return { case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } };
        case "fileByFilename": {
          const file = files.get(req.value);
          return file ? withDependencies(file) : error(Code.NotFound, `file not found: ${req.value}`);
        }
        case "fileContainingSymbol": {
          const file = symbols.get(stripDot(req.value));
          return file ? withDependencies(file) : error(Code.NotFound, `symbol not found: ${req.value}`);
        }
        case "fileContainingExtension": {
          const { containingType, extensionNumber } = req.value;
          const message = registry.getMessage(stripDot(containingType));
          const ext = message && registry.getExtensionFor(message, extensionNumber);
          return ext
            ? withDependencies(ext.file)
            : error(Code.NotFound, `extension ${extensionNumber} of ${containingType} not found`);
        }
        case "allExtensionNumbersOfType": {
          const message = registry.getMessage(stripDot(req.value));
          if (!message) return error(Code.NotFound, `type not found: ${req.value}`);
          const numbers = extensionsOf(message).map((e) => e.number).sort((a, b) => a - b);
          return { case: "allExtensionNumbersResponse", value: { baseTypeName: message.typeName, extensionNumber: numbers } };
        }
        default:
          return error(Code.InvalidArgument, "empty or unknown reflection request");
      }
    },
  };
}

function stripDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

/** Every name a client may ask for: types, nested types, fields, oneofs, enum values, services, methods. */
function indexSymbols(file: DescFile, symbols: Map<string, DescFile>): void {
  const add = (name: string) => {
    if (!symbols.has(name)) symbols.set(name, file);
  };
  const addEnum = (e: DescEnum) => {
    add(e.typeName);
    // Enum values live in the scope that encloses their enum, as in C++.
    const scope = e.typeName.includes(".") ? e.typeName.slice(0, e.typeName.lastIndexOf(".") + 1) : "";
    for (const v of e.values) add(scope + v.name);
  };
  const addMessage = (m: DescMessage) => {
    add(m.typeName);
    for (const f of m.fields) add(`${m.typeName}.${f.name}`);
    for (const o of m.oneofs) add(`${m.typeName}.${o.name}`);
    m.nestedMessages.forEach(addMessage);
    m.nestedEnums.forEach(addEnum);
    for (const x of m.nestedExtensions) add(x.typeName);
  };
  file.messages.forEach(addMessage);
  file.enums.forEach(addEnum);
  for (const x of file.extensions) add(x.typeName);
  for (const s of file.services) {
    add(s.typeName);
    for (const m of s.methods) add(`${s.typeName}.${m.name}`);
  }
}

import type * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";

/**
 * A grpc-js method definition for a protobuf-es method: the path, the streaming kind and protobuf
 * binary (de)serialisers. The client stubs and the server adapter both build their services from it.
 */
export function grpcMethodDefinition(service: DescService, m: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${m.name}`,
    requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
    responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
    requestSerialize: (msg: unknown) => Buffer.from(toBinary(m.input, msg as never)),
    requestDeserialize: (buf: Buffer) => fromBinary(m.input, buf),
    responseSerialize: (msg: unknown) => Buffer.from(toBinary(m.output, msg as never)),
    responseDeserialize: (buf: Buffer) => fromBinary(m.output, buf),
    originalName: m.localName,
  };
}

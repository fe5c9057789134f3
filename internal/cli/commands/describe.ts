import { toJsonString } from "@bufbuild/protobuf";
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  MethodDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { enumText, messageText, methodText, serviceText } from "../proto-text.js";
import { resolveSymbol } from "../resolve.js";

const USAGE = "notifyctl describe <Service|Service/Method|Message|Enum>";

export const describeCommand: Command = {
  name: "describe",
  usage: "<Service|Service/Method|Message|Enum>",
  summary: "show the definition of a service, method, message or enum (gRPC reflection)",
  async run(ctx, positionals) {
    if (positionals.length !== 1) throw new UsageError("describe needs exactly one symbol", USAGE);
    const { desc } = await resolveSymbol(ctx.reflection(), positionals[0]);
    if (ctx.json) {
      // The raw descriptor, for scripts that want field numbers and types.
      const json =
        desc.kind === "service"
          ? toJsonString(ServiceDescriptorProtoSchema, desc.proto)
          : desc.kind === "rpc"
            ? toJsonString(MethodDescriptorProtoSchema, desc.proto)
            : desc.kind === "message"
              ? toJsonString(DescriptorProtoSchema, desc.proto)
              : desc.kind === "enum"
                ? toJsonString(EnumDescriptorProtoSchema, desc.proto)
                : toJsonString(FieldDescriptorProtoSchema, desc.proto);
      ctx.write(`${json}\n`);
      return;
    }
    switch (desc.kind) {
      case "service":
        return void ctx.write(serviceText(desc));
      case "rpc":
        return void ctx.write(methodText(desc));
      case "message":
        return void ctx.write(messageText(desc));
      case "enum":
        return void ctx.write(enumText(desc));
      default:
        return void ctx.write(`// extension ${desc.typeName} of ${desc.extendee.typeName} = ${desc.number}\n`);
    }
  },
};

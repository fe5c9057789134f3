import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

// Renders descriptors back into .proto-like text for `notifyctl describe`. Reflection descriptors carry
// no comments (generated code strips source info), so this shows structure, not documentation.

export function serviceText(s: DescService): string {
  const lines = [`service ${s.name} {`, ...s.methods.flatMap((m) => methodLines(m).map((l) => `  ${l}`)), "}"];
  return `// ${s.typeName} (${s.file.proto.name})\n${lines.join("\n")}\n`;
}

export function methodText(m: DescMethod): string {
  return [
    `// ${m.parent.typeName}/${m.name} (${m.parent.file.proto.name})`,
    ...methodLines(m),
    "",
    messageText(m.input).trimEnd(),
    ...(m.output === m.input ? [] : ["", messageText(m.output).trimEnd()]),
    "",
  ].join("\n");
}

export function messageText(msg: DescMessage): string {
  return `// ${msg.typeName} (${msg.file.proto.name})\n${messageLines(msg).join("\n")}\n`;
}

export function enumText(e: DescEnum): string {
  return `// ${e.typeName} (${e.file.proto.name})\n${enumLines(e).join("\n")}\n`;
}

function methodLines(m: DescMethod): string[] {
  const streamIn = m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming" ? "stream " : "";
  const streamOut = m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming" ? "stream " : "";
  const head = `rpc ${m.name}(${streamIn}${m.input.typeName}) returns (${streamOut}${m.output.typeName})`;
  const options: string[] = [];
  if (m.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN) {
    options.push(`option idempotency_level = ${MethodOptions_IdempotencyLevel[m.idempotency]};`);
  }
  if (m.deprecated) options.push("option deprecated = true;");
  return options.length ? [`${head} {`, ...options.map((o) => `  ${o}`), "}"] : [`${head};`];
}

function messageLines(msg: DescMessage): string[] {
  const body: string[] = [];
  for (const member of msg.members) {
    if (member.kind === "oneof") {
      body.push(`oneof ${member.name} {`, ...member.fields.map((f) => `  ${fieldLine(f)}`), "}");
    } else {
      body.push(fieldLine(member));
    }
  }
  for (const e of msg.nestedEnums) body.push("", ...enumLines(e));
  for (const m of msg.nestedMessages) body.push("", ...messageLines(m));
  return [`message ${msg.name} {`, ...body.map((l) => (l ? `  ${l}` : l)), "}"];
}

function enumLines(e: DescEnum): string[] {
  return [`enum ${e.name} {`, ...e.values.map((v) => `  ${v.name} = ${v.number};`), "}"];
}

function fieldLine(f: DescField): string {
  const deprecated = f.deprecated ? " [deprecated = true]" : "";
  return `${fieldType(f)} ${f.name} = ${f.number}${deprecated};`;
}

function fieldType(f: DescField): string {
  switch (f.fieldKind) {
    case "scalar":
      return (f.proto.proto3Optional ? "optional " : "") + scalarName(f.scalar);
    case "enum":
      return (f.proto.proto3Optional ? "optional " : "") + f.enum.typeName;
    case "message":
      return f.message.typeName;
    case "list": {
      const item = f.listKind === "scalar" ? scalarName(f.scalar) : f.listKind === "enum" ? f.enum.typeName : f.message.typeName;
      return `repeated ${item}`;
    }
    case "map": {
      const value = f.mapKind === "scalar" ? scalarName(f.scalar) : f.mapKind === "enum" ? f.enum.typeName : f.message.typeName;
      return `map<${scalarName(f.mapKey)}, ${value}>`;
    }
  }
}

function scalarName(t: ScalarType): string {
  return ScalarType[t].toLowerCase();
}

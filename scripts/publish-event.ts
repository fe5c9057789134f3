// Publishes one event from the site, as another service would (see docs/events.md).
//   npx tsx scripts/publish-event.ts user_registered '{"eventId":"reg-42","userId":"u42"}'
//   npx tsx scripts/publish-event.ts --binary user_registered '{"eventId":"reg-43","userId":"u43"}'
//   options: --nats nats://127.0.0.1:4222  --prefix notify
// The JSON is the proto3 JSON form of the event's message (notify.v1 events.proto); eventId becomes
// the Nats-Msg-Id. With --binary the event travels as protobuf instead of JSON.
import { parseArgs } from "node:util";
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { connect, headers } from "nats";
import { schemaFor } from "../internal/events/decode.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nats: { type: "string", default: "nats://127.0.0.1:4222" },
    prefix: { type: "string", default: "notify" },
    binary: { type: "boolean", default: false },
  },
});
const [type, body] = positionals;
if (!type || !body) {
  process.stderr.write("usage: publish-event.ts [--nats URL] [--prefix notify] [--binary] <type> '<json>'\n");
  process.exit(2);
}
const json = JSON.parse(body) as { eventId?: string; event_id?: string };
const eventId = json.eventId ?? json.event_id;
if (!eventId) {
  process.stderr.write("the event needs an eventId\n");
  process.exit(2);
}
const nc = await connect({ servers: values.nats });
try {
  const h = headers();
  h.set("Nats-Msg-Id", eventId);
  let data: Uint8Array;
  if (values.binary) {
    const schema = schemaFor(type);
    data = toBinary(schema, fromJson(schema, json as JsonValue));
  } else {
    h.set("content-type", "application/json");
    data = new TextEncoder().encode(body);
  }
  const ack = await nc.jetstream().publish(`${values.prefix}.events.${type}`, data, { headers: h });
  process.stdout.write(`published ${values.prefix}.events.${type} seq=${ack.seq}${ack.duplicate ? " (duplicate: already stored)" : ""}\n`);
} finally {
  await nc.close();
}

// The floor under bench:instant's ingest: NotificationService.Send served by the same stack as notifyd
// (connect-node on an h2c listener, same read limit) with a handler that does nothing but answer. What a
// call costs here is the RPC layer's own price, which no Send can go below; the bench runs the same
// client and concurrency against it in the same run.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { NotificationService, SendResponseSchema } from "../../gen/notify/v1/notification_service_pb.js";
import { listenH2c } from "../../internal/server/listen.js";

let n = 0;
const handler = connectNodeAdapter({
  routes: (router) =>
    router.rpc(NotificationService.method.send, async () =>
      create(SendResponseSchema, { notificationId: `floor-${++n}`, duplicate: false, acceptedAt: timestampNow() }),
    ),
  readMaxBytes: 4 * 1024 * 1024,
  requireConnectProtocolHeader: false,
});
const l = await listenH2c(`127.0.0.1:${Number(process.env.RPC_FLOOR_PORT ?? 0)}`, handler);
process.stdout.write(`${JSON.stringify({ msg: "rpc floor listening", port: l.port })}\n`);
process.on("SIGTERM", () => void l.close().then(() => process.exit(0)));

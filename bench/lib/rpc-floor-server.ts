// The floor under bench:instant's ingest: NotificationService.Send served by the same stack as notifyd
// (RPC_FLOOR_SERVER: grpc-js, notifyd's default gRPC listener, or connect-node on h2c; same read limit
// and adapter options) with a handler that does nothing but answer. What a call costs here is the RPC
// layer's own price, which no Send can go below; the bench runs the same client and concurrency
// against it in the same run.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { NotificationService, SendResponseSchema } from "../../gen/notify/v1/notification_service_pb.js";
import { listenGrpc, recordRoutes } from "../../internal/rpc/grpc-server.js";
import { listenH2c } from "../../internal/server/listen.js";

const READ_MAX_BYTES = 4 * 1024 * 1024;
let n = 0;
const routes = recordRoutes((router) =>
  router.rpc(NotificationService.method.send, async () =>
    create(SendResponseSchema, { notificationId: `floor-${++n}`, duplicate: false, acceptedAt: timestampNow() }),
  ),
);
const addr = `127.0.0.1:${Number(process.env.RPC_FLOOR_PORT ?? 0)}`;
const l =
  process.env.RPC_FLOOR_SERVER === "connect"
    ? await listenH2c(addr, connectNodeAdapter({ routes: routes.replay, readMaxBytes: READ_MAX_BYTES, requireConnectProtocolHeader: false }))
    : await listenGrpc(addr, routes, { readMaxBytes: READ_MAX_BYTES });
process.stdout.write(`${JSON.stringify({ msg: "rpc floor listening", port: l.port })}\n`);
process.on("SIGTERM", () => void l.close().then(() => process.exit(0)));

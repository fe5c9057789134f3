// The raw baseline for bench:ws: a bare `ws` server (no auth, no NATS, no database) holding the same
// number of connections, pushing the same frames. Clients connect to /?u=<user id>; one control
// connection on /control sends `<user id>\n<frame>` and the server pushes <frame> to that user.
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.RAW_WS_PORT ?? 0);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false, maxPayload: 64 * 1024, clientTracking: false });
const byUser = new Map<string, WebSocket>();

wss.on("connection", (ws, req) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/control") {
    ws.on("message", (data) => {
      const s = data.toString();
      const i = s.indexOf("\n");
      byUser.get(s.slice(0, i))?.send(s.slice(i + 1));
    });
    return;
  }
  const u = url.searchParams.get("u") ?? "";
  byUser.set(u, ws);
  ws.on("close", () => byUser.delete(u));
});
wss.on("listening", () => {
  const a = wss.address();
  process.stdout.write(`${JSON.stringify({ msg: "raw ws listening", port: typeof a === "object" && a ? a.port : port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));

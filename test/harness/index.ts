// One import for black-box and chaos tests: import { startNats, spawnNode, ... } from "../harness/index.js"
export { findBinary, hasBinary } from "./binaries.js";
export { freePort, freePorts } from "./ports.js";
export { startMariaDb, type MariaDbOptions, type PrivateMariaDb } from "./private-mariadb.js";
export { startNats, startNatsCluster, type NatsCluster, type NatsOptions, type PrivateNats } from "./private-nats.js";
export {
  ARTIFACTS_DIR,
  REPO_ROOT,
  spawnNode,
  spawnProcess,
  stopAllProcesses,
  type ExitInfo,
  type LineMatcher,
  type ManagedProcess,
  type OutputLine,
  type SpawnOptions,
} from "./processes.js";
export { startSmtpSink, type SinkMessage, type SinkMode, type SinkStage, type SinkStats, type SmtpSink } from "./smtp-sink.js";

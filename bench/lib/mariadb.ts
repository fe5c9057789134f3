import { existsSync } from "node:fs";

/** The MariaDB server the benches use; each run creates and drops its own databases on it. */
export const MARIADB = process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306";

const LOCAL_SOCKET = "/run/mysqld/mysqld.sock";
const isLocal = /@(127\.0\.0\.1|localhost)(:\d+)?$/.test(MARIADB);

/**
 * A MariaDB on this host is reached through its Unix socket, as a co-located deployment would
 * (NOTIFY_DB_URL ...?socketPath=): a loopback TCP round trip costs both sides the TCP stack, about a
 * quarter more CPU per statement here. BENCH_MARIADB_SOCKET="" forces TCP; the raw baselines that use
 * MariaDB get the same transport as the platform.
 */
const socket = process.env.BENCH_MARIADB_SOCKET ?? (isLocal && existsSync(LOCAL_SOCKET) ? LOCAL_SOCKET : "");

/** The URL of database `name`, over the socket when there is one. */
export const dbUrlFor = (name: string) => `${MARIADB}/${name}${socket ? `?socketPath=${socket}` : ""}`;

/** How the benches reach MariaDB, for the report. */
export const mariadbTransport = socket ? `unix socket ${socket}` : "TCP";

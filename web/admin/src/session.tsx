import { createContext, useContext } from "react";
import type { AdminUser } from "../../../gen/notify/v1/admin_service_pb.js";

export type Scope = "read" | "send" | "manage" | "admin";

export interface SessionInfo {
  user: AdminUser;
  scopes: string[];
}

export const SessionContext = createContext<SessionInfo | undefined>(undefined);

/**
 * What the signed-in person may do. The server enforces the same rules on every call; the panel only
 * disables what would be refused.
 */
export function useCan(): (scope: Scope) => boolean {
  const s = useContext(SessionContext);
  return (scope) => !!s && (s.scopes.includes(scope) || s.scopes.includes("admin"));
}

export function useSession(): SessionInfo | undefined {
  return useContext(SessionContext);
}

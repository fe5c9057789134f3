import { AdminRole } from "../../gen/notify/v1/admin_service_pb.js";
import type { Scope } from "../auth/api-keys.js";

export const ROLES = ["viewer", "manager", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * What each role may do, in API-key scopes, so one check in the auth interceptor covers keys and
 * sessions alike: viewers read; managers also send and manage (templates, campaigns, trigger rules);
 * admins also hold `admin` (admin users, API keys, settings).
 */
export const ROLE_SCOPES: Record<Role, Scope[]> = {
  viewer: ["read"],
  manager: ["read", "send", "manage"],
  admin: ["read", "send", "manage", "admin"],
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export function roleToPb(r: Role): AdminRole {
  return { viewer: AdminRole.VIEWER, manager: AdminRole.MANAGER, admin: AdminRole.ADMIN }[r];
}

export function roleFromPb(r: AdminRole): Role | undefined {
  switch (r) {
    case AdminRole.VIEWER:
      return "viewer";
    case AdminRole.MANAGER:
      return "manager";
    case AdminRole.ADMIN:
      return "admin";
    default:
      return undefined;
  }
}

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { UserSchema, type User } from "../../gen/cinema/users/v1/user_directory_pb.js";

/**
 * A user's profile as a campaign's fan-out read it from the directory, carried in the delivery message
 * so the worker need not ask the user service for the same record again seconds later. `at` is when
 * it was read (ms since the epoch); the record is the directory's own protobuf, base64.
 */
export interface CarriedProfile {
  at: number;
  user: string;
}

/**
 * How old a carried profile may be and still stand in for a lookup: a delivery that waited longer (a
 * later retry, quiet hours) asks the user service, as any other delivery does.
 */
export const PROFILE_MAX_AGE_MS = 60_000;

export function carryProfile(user: User, at: number): CarriedProfile {
  return { at, user: Buffer.from(toBinary(UserSchema, user)).toString("base64") };
}

/** The carried user when it is fresh enough and readable; undefined sends the worker to the user service. */
export function carriedUser(p: CarriedProfile | undefined, now: number, maxAgeMs = PROFILE_MAX_AGE_MS): User | undefined {
  if (!p || typeof p.at !== "number" || typeof p.user !== "string") return undefined;
  // Read on another host, it may look a little younger than now: clocks differ by that much.
  if (Math.abs(now - p.at) > maxAgeMs) return undefined;
  try {
    return fromBinary(UserSchema, Buffer.from(p.user, "base64"));
  } catch {
    return undefined;
  }
}

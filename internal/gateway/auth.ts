import type http from "node:http";
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from "jose";

export interface UserClaims {
  userId: string;
  /** Token expiry, ms since the epoch. */
  expiresAt: number;
}

/** Why a token was refused; status is the HTTP answer (401 bad token, 503 keys unreachable). */
export class UserAuthError extends Error {
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
    this.name = "UserAuthError";
  }
}

export interface UserVerifier {
  /** False when neither a secret nor a JWKS URL is configured: every user call is refused. */
  readonly configured: boolean;
  verify(token: string): Promise<UserClaims>;
}

export interface VerifierOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS of the cinema's identity provider (RS/PS/ES/EdDSA keys). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const CLOCK_TOLERANCE_S = 30;

/**
 * Verifies the cinema's user JWTs: `sub` is the user id, `exp` is required. An HS256 token is checked
 * against the shared secret and anything else against the JWKS, so "alg": "none" or an HS256 token
 * signed with a public key (the classic confusion attack) never passes.
 */
export function createUserVerifier(o: VerifierOptions): UserVerifier {
  const secret = o.secret ? new TextEncoder().encode(o.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = o.jwksUrl
    ? createRemoteJWKSet(new URL(o.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : undefined;
  const common = { issuer: o.issuer, audience: o.audience, requiredClaims: ["exp", "sub"], clockTolerance: CLOCK_TOLERANCE_S };

  return {
    configured: Boolean(secret || jwks),
    async verify(token) {
      if (!secret && !jwks) throw new UserAuthError("user authentication is not configured");
      if (!token || token.length > 8192) throw new UserAuthError("missing token");
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new UserAuthError("malformed token");
      }
      try {
        const { payload } =
          alg === "HS256" && secret
            ? await jwtVerify(token, secret, { ...common, algorithms: ["HS256"] })
            : jwks
              ? await jwtVerify(token, jwks, { ...common, algorithms: ASYMMETRIC })
              : await Promise.reject(new UserAuthError(`algorithm ${alg ?? "?"} not accepted`));
        const sub = payload.sub ?? "";
        if (!USER_ID.test(sub)) throw new UserAuthError("sub is not a valid user id");
        return { userId: sub, expiresAt: (payload.exp ?? 0) * 1000 };
      } catch (err) {
        if (err instanceof UserAuthError) throw err;
        if (err instanceof errors.JWTExpired) throw new UserAuthError("token expired");
        if (err instanceof errors.JWKSTimeout || err instanceof TypeError) {
          throw new UserAuthError("signing keys unavailable", 503);
        }
        if (err instanceof errors.JOSEError) throw new UserAuthError(`invalid token: ${err.code}`);
        throw new UserAuthError("invalid token");
      }
    },
  };
}

/** The JWT of an upgrade or RPC: `Authorization: Bearer <jwt>`. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  return m?.[1];
}

/** Browsers cannot set headers on a WebSocket; they offer the token as a subprotocol `bearer.<jwt>`. */
export const TOKEN_PROTOCOL_PREFIX = "bearer.";
/** The subprotocol the gateway speaks and selects; browsers require one to be selected. */
export const PROTOCOL = "notify.v1";

export function upgradeToken(req: http.IncomingMessage): string | undefined {
  const fromHeader = bearerToken(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const offered = String(req.headers["sec-websocket-protocol"] ?? "");
  for (const p of offered.split(",")) {
    const v = p.trim();
    if (v.startsWith(TOKEN_PROTOCOL_PREFIX)) return v.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

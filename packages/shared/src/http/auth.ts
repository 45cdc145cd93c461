import { createVerifier } from "fast-jwt";
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { HttpProblem } from "./problem.ts";

export const ROLES = ["customer", "admin", "courier"] as const;
export type Role = (typeof ROLES)[number];

export interface AuthUser {
  id: string;
  role: Role;
  email: string | null;
}

/** Context variables set by `auth()`. */
export type AuthVariables = { user: AuthUser };

export type TokenVerifier = (token: string) => Promise<AuthUser>;

/** Seconds of clock skew forgiven on `exp` and `nbf`, between the issuer's clock and ours. */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** Verified tokens kept per process: a storefront's customer sends many requests with one token. */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * HS256 with a shared secret, or RS256/ES256 against a JWKS (cached and refreshed by jose,
 * not fetched per request). The accepted algorithms are listed explicitly, so `alg: none`, an
 * HS256 token against the key set (the public key used as an HMAC secret) and an RS256 token
 * against the secret are all refused.
 *
 * The secret's tokens go through fast-jwt: node:crypto's HMAC in the calling thread (7.5 µs of
 * CPU a token here) where jose's WebCrypto runs a thread-pool job per token (51 µs one at a
 * time, 91 µs under concurrency), and it keeps the verified tokens (until their `exp`, at most
 * 10 minutes), so a token seen again costs a hash. jose stays for the key set: fast-jwt takes
 * only PEM keys from a callback.
 */
export function createTokenVerifier({
  secret,
  jwksUrl,
}: {
  secret?: string;
  jwksUrl?: string;
}): TokenVerifier {
  if (jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(jwksUrl));
    return async (token) =>
      toUser(
        (
          await jwtVerify(token, jwks, {
            algorithms: ["RS256", "ES256"],
            clockTolerance: CLOCK_TOLERANCE_SECONDS,
          })
        ).payload,
      );
  }
  if (!secret) throw new Error("createTokenVerifier needs a secret or a JWKS URL");
  const verify = createVerifier({
    key: secret,
    algorithms: ["HS256"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS * 1000,
    cache: VERIFIED_TOKEN_CACHE_SIZE,
  });
  return async (token) => toUser(verify(token) as JWTPayload);
}

function toUser(payload: JWTPayload): AuthUser {
  const role = (payload.role ?? "customer") as Role;
  if (!payload.sub || !ROLES.includes(role))
    throw new Error("token lacks a subject or has an unknown role");
  return { id: payload.sub, role, email: typeof payload.email === "string" ? payload.email : null };
}

/**
 * Requires a valid bearer token (401 otherwise) whose role is one of `roles` (403 otherwise).
 * Example: `app.use("/v1/admin/*", auth({ verify, roles: ["admin"] }))`.
 */
export function auth({
  verify,
  roles = ROLES,
}: {
  verify: TokenVerifier;
  roles?: readonly Role[];
}): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async function authenticate(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new HttpProblem(
        401,
        "unauthorized",
        "Authentication required",
        "send a Bearer token",
        undefined,
        {
          "www-authenticate": "Bearer",
        },
      );
    }
    let user: AuthUser;
    try {
      user = await verify(match[1]);
    } catch {
      throw new HttpProblem(
        401,
        "unauthorized",
        "Invalid token",
        "the token is invalid or expired",
        undefined,
        {
          "www-authenticate": 'Bearer error="invalid_token"',
        },
      );
    }
    if (!roles.includes(user.role)) {
      throw new HttpProblem(
        403,
        "forbidden",
        "Forbidden",
        `this route needs one of the roles: ${roles.join(", ")}`,
      );
    }
    c.set("user", user);
    await next();
  };
}

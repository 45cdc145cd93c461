import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import {
  base64url,
  exportJWK,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import { afterAll, describe, expect, it, vi } from "vitest";
import { auth, CLOCK_TOLERANCE_SECONDS, createTokenVerifier } from "./auth.ts";
import { HttpProblem, problemResponse } from "./problem.ts";

const secret = "a-test-secret-of-enough-length";
const hmacKey = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

function appWith(verify: ReturnType<typeof createTokenVerifier>) {
  const app = new Hono();
  app.onError((err, c) =>
    err instanceof HttpProblem ? problemResponse(c, err) : c.text("boom", 500),
  );
  app.get("/me", auth({ verify }), (c) => c.json(c.get("user")));
  app.get("/admin", auth({ verify, roles: ["admin"] }), (c) => c.json({ ok: true }));
  return app;
}

const call = (app: Hono, path: string, token?: string) =>
  app.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

/** Builds a token from claims; `sub: undefined` leaves the subject out. */
type Mint = (claims: JWTPayload) => Promise<string>;

const hs256: Mint = (claims) =>
  new SignJWT({ sub: "user-1", ...claims }).setProtectedHeader({ alg: "HS256" }).sign(hmacKey);

/** Flips one bit of the signature's first byte: same header and claims, signature no longer fits. */
const tamperSignature = (token: string) => {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const bytes = base64url.decode(signature);
  bytes[0] = (bytes[0] as number) ^ 1;
  return `${header}.${payload}.${base64url.encode(bytes)}`;
};

/**
 * Tokens every verifier must refuse with 401, given a way to mint correctly signed ones
 * (`mint`) and one signed with a key of the other kind (`foreign`).
 */
const hostileTokens = (mint: Mint, foreign: Mint): Array<[string, () => Promise<string>]> => [
  ["alg none", async () => new UnsecuredJWT({ role: "admin" }).setSubject("user-1").encode()],
  ["a wrong signature", async () => tamperSignature(await mint({ role: "admin" }))],
  ["an algorithm this verifier does not accept", () => foreign({ role: "admin" })],
  ["an expired token", () => mint({ exp: now() - 60 })],
  ["a not-yet-valid token", () => mint({ nbf: now() + 600 })],
  ["a token without a subject", () => mint({ sub: undefined })],
  ["an unknown role", () => mint({ role: "root" })],
  ["a role that is not a string", () => mint({ role: ["admin"] })],
  ["garbage", async () => "not.a.jwt"],
];

/** The whole body, so a refusal cannot leak why (key ids, library messages, stack traces). */
const INVALID_TOKEN_PROBLEM = {
  type: "https://codflow.dev/problems/unauthorized",
  title: "Invalid token",
  status: 401,
  detail: "the token is invalid or expired",
};

async function expectRefused(app: Hono, token: string) {
  const res = await call(app, "/admin", token);
  expect(res.status).toBe(401);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  expect(await res.json()).toEqual(INVALID_TOKEN_PROBLEM);
}

const { publicKey, privateKey } = await generateKeyPair("RS256");
const rs256: Mint = (claims) =>
  new SignJWT({ sub: "ops", ...claims })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .sign(privateKey);

describe("auth with HS256", () => {
  const app = appWith(createTokenVerifier({ secret }));

  it("accepts a valid token and defaults the role to customer", async () => {
    const res = await call(app, "/me", await hs256({ email: "a@b.c", exp: now() + 300 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "user-1", role: "customer", email: "a@b.c" });
  });

  it("forgives a few seconds of clock skew, no more", async () => {
    const skew = CLOCK_TOLERANCE_SECONDS - 2;
    expect((await call(app, "/me", await hs256({ exp: now() - skew }))).status).toBe(200);
    expect((await call(app, "/me", await hs256({ nbf: now() + skew }))).status).toBe(200);
  });

  it.each(hostileTokens(hs256, rs256))("refuses %s with 401 problem+json", async (_, token) => {
    await expectRefused(app, await token());
  });

  it.each([
    ["no Authorization header", {}],
    ["a Basic credential", { authorization: "Basic dXNlcjpwYXNz" }],
    ["a Bearer header without a token", { authorization: "Bearer " }],
  ])("refuses %s with 401 problem+json", async (_, headers) => {
    const res = await app.request("/me", { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as { type: string }).type).toMatch(/\/unauthorized$/);
  });

  it("keeps a verified token no longer than it is valid, and never for a tampered copy", async () => {
    const token = await hs256({ role: "admin", exp: now() + 2 });
    expect((await call(app, "/admin", token)).status).toBe(200);
    await expectRefused(app, tamperSignature(token));
    vi.useFakeTimers({ now: Date.now() + (2 + CLOCK_TOLERANCE_SECONDS + 1) * 1000 });
    try {
      await expectRefused(app, token);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a customer on an admin route with 403", async () => {
    const res = await call(app, "/admin", await hs256({ role: "customer" }));
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("auth with a JWKS", async () => {
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" };
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const app = appWith(createTokenVerifier({ jwksUrl: url }));

  it("verifies RS256 tokens against the key set and does not fetch it per request", async () => {
    const token = await rs256({ role: "admin", exp: now() + 300 });
    for (let i = 0; i < 5; i++) expect((await call(app, "/admin", token)).status).toBe(200);
    expect(fetches).toBe(1);
  });

  it.each(hostileTokens(rs256, hs256))("refuses %s with 401 problem+json", async (_, token) => {
    await expectRefused(app, await token());
  });

  it("refuses an HS256 token whose HMAC secret is the key set's public key", async () => {
    const pem = new TextEncoder().encode(JSON.stringify(jwk));
    const forged = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setSubject("ops")
      .sign(pem);
    await expectRefused(app, forged);
  });

  it("refuses a token signed by a key outside the set", async () => {
    const stranger = await generateKeyPair("RS256");
    const token = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject("ops")
      .sign(stranger.privateKey);
    await expectRefused(app, token);
  });
});

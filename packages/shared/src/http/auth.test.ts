import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { auth, createTokenVerifier } from "./auth.ts";
import { HttpProblem, problemResponse } from "./problem.ts";

const secret = "a-test-secret-of-enough-length";
const key = new TextEncoder().encode(secret);
const hs256 = (claims: Record<string, unknown>, build = (j: SignJWT) => j) =>
  build(new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("user-1")).sign(key);

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

describe("auth with HS256", () => {
  const app = appWith(createTokenVerifier({ secret }));

  it("accepts a valid token and defaults the role to customer", async () => {
    const res = await call(
      app,
      "/me",
      await hs256({ email: "a@b.c" }, (j) => j.setExpirationTime("5m")),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "user-1", role: "customer", email: "a@b.c" });
  });

  it.each([
    ["no token", async () => undefined],
    ["alg none", async () => new UnsecuredJWT({ role: "admin" }).setSubject("user-1").encode()],
    [
      "a wrong signature",
      async () => (await hs256({})).replace(/.$/, (ch) => (ch === "A" ? "B" : "A")),
    ],
    [
      "an expired token",
      async () => hs256({}, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 60)),
    ],
    [
      "a not-yet-valid token",
      async () => hs256({}, (j) => j.setNotBefore(Math.floor(Date.now() / 1000) + 600)),
    ],
    ["an unknown role", async () => hs256({ role: "root" })],
  ])("refuses %s with 401 problem+json", async (_, token) => {
    const res = await call(app, "/me", await token());
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as { type: string }).type).toMatch(/\/unauthorized$/);
  });

  it("refuses a customer on an admin route with 403", async () => {
    const res = await call(app, "/admin", await hs256({ role: "customer" }));
    expect(res.status).toBe(403);
  });
});

describe("auth with a JWKS", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
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
  const rs256 = () =>
    new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject("ops")
      .setExpirationTime("5m")
      .sign(privateKey);

  it("verifies RS256 tokens against the key set and does not fetch it per request", async () => {
    for (let i = 0; i < 5; i++) expect((await call(app, "/admin", await rs256())).status).toBe(200);
    expect(fetches).toBe(1);
  });

  it("refuses an HS256 token when only a key set is configured", async () => {
    expect((await call(app, "/admin", await hs256({ role: "admin" }))).status).toBe(401);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { startTestGateway } from "./helpers.ts";

describe("GET /docs", () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({});
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it("serves Swagger UI for /openapi.json with every asset from the gateway itself", async () => {
    const res = await fetch(`${gateway.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("url: '/openapi.json'");
    expect(html).not.toMatch(/https?:\/\//);

    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/docs\/assets\//);
      const file = await fetch(gateway.url + asset);
      expect(file.status, asset).toBe(200);
      expect(file.headers.get("content-type"), asset).toMatch(/^(text\/css|text\/javascript)/);
      expect((await file.arrayBuffer()).byteLength, asset).toBeGreaterThan(1000);
    }
  });

  it("does not serve files outside swagger-ui-dist", async () => {
    const res = await fetch(`${gateway.url}/docs/assets/swagger-ui-dist/..%2f..%2fpackage.json`);
    expect(res.status).toBe(404);
  });
});

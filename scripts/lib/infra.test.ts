import { testServerSocket } from "@codflow/shared/testing";
import { describe, expect, it } from "vitest";
import { ensurePostgres, postgresEndpoints, reachable, where } from "./infra.ts";
import { scriptLogger } from "./output.ts";

const socketUrl = (service: string, directory: string, port = 5432) =>
  `postgres://codflow_${service}@localhost:${port}/codflow_${service}?host=${encodeURIComponent(directory)}`;

describe("the PostgreSQL endpoints of the services' database URLs", () => {
  it("names the socket file of a URL with a socket directory, and host:port otherwise", () => {
    const endpoints = postgresEndpoints({
      CHECKOUT_DATABASE_URL: socketUrl("checkout", "/var/run/postgresql"),
      INVENTORY_DATABASE_URL: socketUrl("inventory", "/var/run/postgresql"),
      ORDERS_DATABASE_URL: socketUrl("orders", "/tmp", 5433),
    });
    expect(endpoints.map(where)).toEqual([
      "/var/run/postgresql/.s.PGSQL.5432",
      "/tmp/.s.PGSQL.5433",
      "127.0.0.1:5432",
    ]);
    expect(endpoints.map((e) => e.source)).toEqual([
      "CHECKOUT_DATABASE_URL",
      "ORDERS_DATABASE_URL",
      "NOTIFIER_DATABASE_URL",
    ]);
  });

  it("reaches the test server over its socket, and not a socket that does not exist", async () => {
    const { directory, port } = await testServerSocket();
    const env = Object.fromEntries(
      ["CHECKOUT", "INVENTORY", "ORDERS", "NOTIFIER"].map((s) => [
        `${s}_DATABASE_URL`,
        socketUrl(s.toLowerCase(), directory, port),
      ]),
    );
    const [endpoint] = postgresEndpoints(env);
    expect(endpoint && (await reachable(endpoint))).toBe(true);
    await expect(ensurePostgres(env, scriptLogger("test"))).resolves.toBeUndefined();

    const [missing] = postgresEndpoints({
      CHECKOUT_DATABASE_URL: socketUrl("checkout", "/nonexistent-codflow", 6543),
    });
    expect(missing && (await reachable(missing))).toBe(false);
    await expect(
      ensurePostgres(
        { CHECKOUT_DATABASE_URL: socketUrl("checkout", "/nonexistent-codflow", 6543) },
        scriptLogger("test"),
      ),
    ).rejects.toThrow(
      "PostgreSQL at /nonexistent-codflow/.s.PGSQL.6543 (from CHECKOUT_DATABASE_URL) does not accept connections",
    );
  });
});

import type postgres from "postgres";
import { describe, expect, it } from "vitest";
import { connectPostgres, createDatabase, socketDirectoryOf } from "../src/db.ts";
import { TEST_PG_URL, testServerSocket } from "../src/testing/index.ts";

const viaSocket = (directory: string, port: number, extra = "") => {
  const url = new URL(TEST_PG_URL);
  url.hostname = "localhost";
  url.port = String(port);
  url.search = `?host=${encodeURIComponent(directory)}${extra}`;
  return url.toString();
};

/**
 * What the connection turned out to be. A cluster whose Unix socket is guarded by `peer` auth (a
 * fresh Debian cluster run as another OS user) refuses the login, and only a Unix-socket
 * connection can be refused for peer authentication, so that too shows the socket was used.
 */
async function connectionOf(sql: postgres.Sql) {
  try {
    const [row] = await sql<{ tcp: boolean; application: string }[]>`
      select inet_client_addr() is not null as tcp,
             current_setting('application_name') as application`;
    return row;
  } catch (error) {
    expect((error as Error).message).toMatch(/peer authentication failed/i);
    return { tcp: false, application: "(peer auth refused the login)" };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

describe("a database URL that names a Unix-domain socket (?host=/dir, as libpq reads it)", () => {
  it("finds the socket directory only in a host parameter that is a path", () => {
    expect(socketDirectoryOf("postgres://u@127.0.0.1:5432/db")).toBeUndefined();
    expect(socketDirectoryOf("postgres://u@localhost/db?host=%2Fvar%2Frun%2Fpostgresql")).toBe(
      "/var/run/postgresql",
    );
    expect(socketDirectoryOf("postgres://u@localhost/db?host=/tmp&sslmode=disable")).toBe("/tmp");
    expect(socketDirectoryOf("postgres://u@localhost/db?host=db.internal")).toBeUndefined();
  });

  it("connects over the socket, keeping the URL's other parameters", async () => {
    const { directory, port } = await testServerSocket();
    const connection = await connectionOf(
      connectPostgres(viaSocket(directory, port, "&application_name=codflow-socket-test"), {
        max: 1,
        onnotice: () => {},
      }),
    );
    expect(connection?.tcp).toBe(false);
    if (!connection?.application.startsWith("(")) {
      expect(connection?.application).toBe("codflow-socket-test");
    }
  });

  it("is how every service's pool connects (createDatabase)", async () => {
    const { directory, port } = await testServerSocket();
    const database = createDatabase(viaSocket(directory, port), { max: 1 });
    expect((await connectionOf(database.sql))?.tcp).toBe(false);
  });

  it("still connects over TCP without one", async () => {
    const connection = await connectionOf(
      connectPostgres(TEST_PG_URL, { max: 1, onnotice: () => {} }),
    );
    expect(connection?.tcp).toBe(true);
  });
});

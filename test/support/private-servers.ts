import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "@codflow/shared/testing";
import { canConnect } from "../../scripts/lib/infra.ts";

/**
 * A nats-server with JetStream of the test's own (free port, temporary store), so a test can
 * stop and restart the broker without touching anyone else's. `restart()` keeps the store,
 * like a real server restart; `stop({ kill: true })` is a crash; `restart({ wipe: true })`
 * brings the broker back empty (no streams, no consumers, no messages), as if rebuilt.
 */
export async function startPrivateNats() {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "codflow-nats-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], {
      stdio: "ignore",
    });
    await waitFor(() => canConnect("127.0.0.1", port, 200), {
      timeoutMs: 15_000,
      what: "private nats-server",
    });
  };
  const stop = async ({ kill = false } = {}) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill(kill ? "SIGKILL" : "SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    start,
    stop,
    restart: async ({ kill = false, wipe = false }: { kill?: boolean; wipe?: boolean } = {}) => {
      await stop({ kill });
      if (wipe) {
        for (const entry of readdirSync(storeDir))
          rmSync(join(storeDir, entry), { recursive: true, force: true });
      }
      await start();
    },
    close: async () => {
      await stop({ kill: true });
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

const pgBin = (name: string) => {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const path = join("/usr/lib/postgresql", v, "bin", name);
    if (existsSync(path)) return path;
  }
  throw new Error(`PostgreSQL's ${name} is not installed (apt-get install -y postgresql)`);
};

/**
 * A throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, trust auth on loopback), so
 * a test can stop or crash the database under the services. PostgreSQL refuses to run as root,
 * so as root the cluster belongs to the `postgres` OS user.
 */
export async function startPrivatePostgres() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "codflow-pg-"));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    chmodSync(dir, 0o700);
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(dir, uid, gid);
  }
  const run = (bin: string, args: string[]) =>
    execFileSync(
      asRoot ? "runuser" : pgBin(bin),
      asRoot ? ["-u", "postgres", "--", pgBin(bin), ...args] : args,
      {
        cwd: tmpdir(),
        stdio: "pipe",
      },
    );
  run("initdb", ["-D", join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=200`;
  const start = async () => {
    run("pg_ctl", [
      "-D",
      join(dir, "data"),
      "-o",
      options,
      "-l",
      join(dir, "postgres.log"),
      "-w",
      "start",
    ]);
    await waitFor(() => canConnect("127.0.0.1", port, 200), {
      timeoutMs: 15_000,
      what: "private postgres",
    });
  };
  /** `immediate` is a crash: no checkpoint, every connection cut. */
  const stop = async ({ mode = "fast" }: { mode?: "fast" | "immediate" } = {}) => {
    run("pg_ctl", ["-D", join(dir, "data"), "-m", mode, "-w", "stop"]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    restart: async (opts?: { mode?: "fast" | "immediate" }) => {
      await stop(opts);
      await start();
    },
    close: async () => {
      await stop({ mode: "immediate" }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

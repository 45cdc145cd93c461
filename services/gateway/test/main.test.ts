import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { waitFor } from "@codflow/shared/testing";
import { afterEach, describe, expect, it } from "vitest";

const serviceDir = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: serviceDir,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  return { child, output: () => output };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("gateway main", () => {
  it("listens on GATEWAY_PORT, logs JSON, and exits 0 on SIGTERM", async () => {
    const { child, output } = startMain({ GATEWAY_PORT: "0" });
    const url = await waitFor(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output())?.[1], {
      what: "the gateway to log its URL",
      timeoutMs: 20_000,
    });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const firstLine = JSON.parse(output().split("\n")[0] as string);
    expect(firstLine).toMatchObject({ service: "gateway", level: "info" });

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
  });

  it("refuses a bad upstream URL with a clear message and exit code 1", async () => {
    const { child, output } = startMain({ CHECKOUT_URL: "http://127.0.0.1:1,not a url" });
    const [code] = await once(child, "exit");
    expect(code).toBe(1);
    expect(output()).toMatch(/invalid configuration for gateway:\n\s+CHECKOUT_URL/);
  });
});

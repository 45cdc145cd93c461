/**
 * The image-start check (issue 8 item 6): what the Dockerfile builds starts with what the prod
 * overlay gives its containers, and nothing from the workspace. No container engine runs here,
 * so scripts/image/check.ts performs the Dockerfile's build and `pnpm deploy` steps in a
 * temporary folder and each container runs as plain `node` from its runtime folder.
 *
 * The environment of each container is `kubectl kustomize k8s/overlays/prod`'s, resolved as the
 * kubelet does, on top of the image's ENV. Secrets hold test values (a database and role of
 * this test's own, provisioned as CloudNativePG would, a test JWT secret, local SMTP and SMS
 * sinks). Changed, and only these, because a cluster is not this machine:
 * - hosts that exist only in the cluster: `nats` → the local nats-server, `otel-collector` → an
 *   OTLP receiver of this test's own;
 * - HOST 0.0.0.0 → 127.0.0.1 (loopback only here) and PORT → a free port (the pods each have
 *   their own address; here the services share one);
 * - NATS_NAMESPACE → one of this test's own (isolation from other runs), and
 *   NATS_STREAM_REPLICAS 3 → 1 (one local nats-server, not the 3-node cluster).
 * The prod overlay has no gateway container (Gateway API routes replace it in a cluster), so the
 * gateway image is started with its upstreams pointed at the services started here.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deleteNamespaceStreamsAt } from "@codflow/shared";
import {
  freePort,
  TEST_NATS_URL,
  TEST_PG_URL,
  uniqueNamespace,
  waitFor,
} from "@codflow/shared/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BuiltImages,
  buildImages,
  hasFile,
  missingNpmImports,
  type RunningContainer,
  startContainer,
  unpatchedDependencies,
  workspaceLeaks,
} from "../../scripts/image/check.ts";
import {
  containerArgv,
  containersOfImage,
  containerUser,
  type KubeObject,
  renderKustomization,
  replaceClusterHosts,
  resolveContainerEnv,
  type WorkloadContainer,
} from "../../scripts/image/container-env.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { provisionServiceDatabases } from "../../scripts/lib/provision.ts";
import { REPO_ROOT } from "../../scripts/lib/services.ts";
import { type SmsSink, startSmsSink } from "../../scripts/lib/sms-sink.ts";
import { startOtlpReceiver } from "../observability/otlp-receiver.ts";

const BACKENDS = ["checkout", "inventory", "orders", "notifier"] as const;
type Backend = (typeof BACKENDS)[number];

const suffix = randomBytes(4).toString("hex");
const roleOf = (service: Backend) => `codflow_image_${service}_${suffix}`;
/** The service's own role and database, as CloudNativePG's `<cluster>-app` secret names them. */
const databaseUrl = (service: Backend) => {
  const url = new URL(TEST_PG_URL);
  url.username = roleOf(service);
  url.pathname = `/${roleOf(service)}`;
  return url.toString();
};
/** TEST ONLY: the value of the codflow-auth secret's jwt-secret key in this test. */
const TEST_JWT_SECRET = "image-check-test-only-jwt-secret";
const namespace = uniqueNamespace("image");

let images: BuiltImages;
let manifests: KubeObject[];
let mail: MailSink;
let sms: SmsSink;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
const ports = new Map<string, number>();
const running = new Map<string, RunningContainer>();

beforeAll(async () => {
  manifests = renderKustomization(join(REPO_ROOT, "k8s/overlays/prod"));
  mail = await startMailSink({ smtpPort: 0, httpPort: 0 });
  sms = await startSmsSink();
  otlp = await startOtlpReceiver();
  await provisionServiceDatabases({
    adminUrl: TEST_PG_URL,
    databases: BACKENDS.map((service) => ({ service, url: databaseUrl(service) })),
  });
  images = await buildImages();
}, 300_000);

afterAll(async () => {
  await Promise.all([...running.values()].map((container) => container.stop()));
  const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
  try {
    for (const service of BACKENDS) {
      await admin.unsafe(`drop database if exists "${roleOf(service)}" with (force)`);
      await admin.unsafe(`drop role if exists "${roleOf(service)}"`);
    }
  } finally {
    await admin.end();
  }
  await deleteNamespaceStreamsAt(TEST_NATS_URL, namespace);
  await Promise.all([mail?.close(), sms?.close(), otlp?.close()]);
  images?.remove();
});

/** Secret values by the variable they feed; a secret the overlay adds needs one here. */
const secretValue =
  (service: Backend) =>
  ({ envName }: { envName: string }) =>
    ({
      DATABASE_URL: databaseUrl(service),
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
      SMS_GATEWAY_URL: sms.gatewayUrl,
    })[envName];

/** The image's ENV, then the container's environment from the overlay, then the changes above. */
function runOf(service: Backend, workload: WorkloadContainer, label: string, port: number) {
  const fromOverlay = resolveContainerEnv(manifests, workload, {
    secretValue: secretValue(service),
    fieldValue: () => undefined,
  });
  const { env } = replaceClusterHosts(fromOverlay, {
    nats: new URL(TEST_NATS_URL).host,
    "otel-collector": new URL(otlp.endpoint).host,
  });
  for (const name of ["HOST", "PORT", "NATS_NAMESPACE", "NATS_STREAM_REPLICAS"]) {
    expect(env, `${workload.workload} sets ${name}`).toHaveProperty(name);
  }
  Object.assign(env, {
    HOST: "127.0.0.1",
    PORT: String(port),
    NATS_NAMESPACE: namespace,
    NATS_STREAM_REPLICAS: "1",
  });
  const fullEnv = { ...images.recipe.runtime.env, ...env };
  return {
    label,
    argv: containerArgv(workload.container, images.recipe.runtime, fullEnv),
    workingDir: workload.container.workingDir,
    env: fullEnv,
    user: containerUser(workload, images.recipe.runtime),
  };
}

/** The real user id a process runs as (/proc/<pid>/status). */
function uidOf(container: RunningContainer): number {
  const status = readFileSync(`/proc/${container.child.pid}/status`, "utf8");
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

async function readiness(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks?: Record<string, string> } };
}

/** Waits until the container answers /readyz with `status`, or fails with its last log lines. */
function answeredWith(container: RunningContainer, port: number, status: number, what: string) {
  return waitFor(
    async () => {
      if (container.child.exitCode !== null) {
        throw new Error(`exited ${container.child.exitCode}:\n${container.tail()}`);
      }
      const answer = await readiness(port).catch(() => undefined);
      return answer?.status === status ? answer : undefined;
    },
    { timeoutMs: 45_000, intervalMs: 100, what },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ${container.logFile}\n${container.tail()}`);
  });
}

describe("each image's runtime folder", () => {
  it("holds the bundle and its production dependencies alone, at the versions the bundle was built with, patches applied", () => {
    for (const service of [...BACKENDS, "gateway" as const]) {
      const app = images.appDir(service);
      expect(hasFile(app, "package.json"), `${service}: package.json`).toBe(true);
      expect(hasFile(app, "dist/main.js"), `${service}: dist/main.js`).toBe(true);
      expect(hasFile(app, "src/main.ts"), `${service}: no sources`).toBe(false);
      expect(workspaceLeaks(app), service).toEqual([]);
      expect(missingNpmImports(app), service).toEqual([]);
      expect(unpatchedDependencies(app), service).toEqual([]);
    }
    for (const service of BACKENDS) {
      const app = images.appDir(service);
      expect(hasFile(app, "dist/migrate.js"), `${service}: dist/migrate.js`).toBe(true);
      expect(hasFile(app, "dist/db/migrations/meta/_journal.json"), service).toBe(true);
    }
  });
});

describe.concurrent("each service's image with the prod overlay's environment", () => {
  it.each(BACKENDS)(
    "%s: not ready while its schema is behind, ready once its migration Job has run",
    async (service) => {
      const workloads = containersOfImage(manifests, `codflow-${service}`);
      const deployment = workloads.find((w) => w.kind === "Deployment");
      const job = workloads.find((w) => w.kind === "Job");
      expect(deployment, `a Deployment runs codflow-${service}`).toBeDefined();
      expect(job, `a Job runs codflow-${service}`).toBeDefined();
      const port = await freePort();

      const podRun = runOf(service, deployment as WorkloadContainer, service, port);
      expect(podRun.user.uid, "a non-root user").not.toBe(0);
      const pod = startContainer(images, service, podRun);
      running.set(service, pod);
      // as root, the check switches to the container's user, like the kubelet
      if (process.getuid?.() === 0) expect(uidOf(pod), service).toBe(podRun.user.uid);
      const behind = await answeredWith(pod, port, 503, `${service} answering /readyz`);
      expect(behind.body.checks).toMatchObject({
        postgres: "ok",
        nats: "ok",
        schema: expect.stringMatching(/^behind: no migration applied, code needs /),
      });

      const migration = startContainer(
        images,
        service,
        runOf(service, job as WorkloadContainer, `${service}-migrate`, await freePort()),
      );
      const code = await migration.exited;
      expect(code, `${service}-migrate exit code\n${migration.tail()}`).toBe(0);

      const ready = await answeredWith(pod, port, 200, `${service} ready after its migration`);
      expect(ready.body.checks).toEqual({ postgres: "ok", nats: "ok", schema: "ok" });
      ports.set(service, port);
    },
    120_000,
  );
});

describe("the gateway image in front of them", () => {
  it("serves the merged API document and its docs assets, and proxies a request that inventory answers and traces", async () => {
    for (const service of ["checkout", "inventory", "orders"] as const) {
      expect(ports.get(service), `${service} is up for the gateway`).toBeDefined();
    }
    const port = await freePort();
    const upstream = (service: Backend) => `http://127.0.0.1:${ports.get(service)}`;
    const gateway = startContainer(images, "gateway", {
      label: "gateway",
      argv: [...images.recipe.runtime.entrypoint, ...images.recipe.runtime.cmd],
      env: {
        ...images.recipe.runtime.env,
        HOST: "127.0.0.1",
        PORT: String(port),
        CHECKOUT_URL: upstream("checkout"),
        INVENTORY_URL: upstream("inventory"),
        ORDERS_URL: upstream("orders"),
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      },
      user: { uid: images.recipe.runtime.uid, gid: images.recipe.runtime.gid },
    });
    running.set("gateway", gateway);
    await answeredWith(gateway, port, 200, "gateway ready");
    const base = `http://127.0.0.1:${port}`;

    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const prefix of ["/v1/checkouts", "/v1/products", "/v1/orders"]) {
      expect(
        Object.keys(doc.paths).some((path) => path.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    const css = await fetch(`${base}/docs/assets/swagger-ui-dist/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(await css.text()).toContain(".swagger-ui");

    // a product that does not exist: inventory looks it up in its database and says so
    const product = await fetch(`${base}/v1/products/image-check`);
    expect(product.status).toBe(404);
    expect(await product.json()).toMatchObject({ detail: "no product image-check" });
    // one trace from the gateway's span to inventory's: traceparent crossed the proxy
    await waitFor(
      () => {
        const served = otlp.spans.find(
          (s) => s.service === "inventory" && s.name === "GET /v1/products/:idOrSlug",
        );
        return (
          served && otlp.spans.some((s) => s.service === "gateway" && s.traceId === served.traceId)
        );
      },
      { timeoutMs: 20_000, what: "the gateway's and inventory's spans of one trace" },
    ).catch((err: Error) => {
      const received = otlp.spans.map((s) => `${s.service} ${s.name}`);
      throw new Error(`${err.message}; received ${JSON.stringify(received)}`);
    });
  });
});

describe("every container on SIGTERM", () => {
  it("drains and exits 0", async () => {
    const codes = await Promise.all(
      [...running].map(async ([label, container]) => [label, await container.stop()] as const),
    );
    expect(Object.fromEntries(codes)).toEqual({
      checkout: 0,
      inventory: 0,
      orders: 0,
      notifier: 0,
      gateway: 0,
    });
  }, 60_000);
});

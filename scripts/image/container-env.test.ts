import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  containerArgv,
  containersOfImage,
  containerUser,
  expandReferences,
  imageName,
  renderKustomization,
  replaceClusterHosts,
  resolveContainerEnv,
  type SecretValue,
} from "./container-env.ts";

const objects = renderKustomization(fileURLToPath(new URL("./fixtures/overlay", import.meta.url)));
const [deployment, job] = containersOfImage(objects, "codflow-demo");
const image = { entrypoint: [], cmd: ["node", "dist/main.js"], uid: 10001, gid: 10001 };
const secrets: SecretValue = ({ envName }) =>
  envName === "DATABASE_URL" ? "postgres://demo@127.0.0.1:5432/demo" : undefined;
const fieldValue = (path: string) => (path === "metadata.name" ? "demo-0" : undefined);

describe("a container of the rendered overlay", () => {
  it("is found by the image it runs, whatever the registry and tag", () => {
    expect(imageName("registry.example:5000/acme/codflow-demo:1.2.3@sha256:abc")).toBe(
      "codflow-demo",
    );
    expect(containersOfImage(objects, "codflow-demo").map((c) => c.workload)).toEqual([
      "Deployment/demo",
      "Job/demo-migrate",
    ]);
  });

  it("gets envFrom in order (prefix applied), then env entries, secrets from the test values", () => {
    const env = resolveContainerEnv(objects, deployment as NonNullable<typeof deployment>, {
      secretValue: secrets,
      fieldValue,
    });
    expect(env).toEqual({
      HOST: "0.0.0.0",
      PORT: "8080",
      NATS_URL: "nats://nats.demo.svc.cluster.local:4222",
      LOG_LEVEL: "warn",
      DEMO_PORT: "8089",
      DEMO_MAIL_FROM: "demo <no-reply@example.com>",
      DATABASE_URL: "postgres://demo@127.0.0.1:5432/demo",
      POD_NAME: "demo-0",
      GREETING: "demo-0 on nats://nats.demo.svc.cluster.local:4222, $(NOT_EXPANDED), $(UNKNOWN)",
      MAIL: "demo <no-reply@example.com>",
    });
  });

  it("refuses a required secret the test gives no value for, naming it", () => {
    expect(() =>
      resolveContainerEnv(objects, deployment as NonNullable<typeof deployment>, {
        secretValue: () => undefined,
        fieldValue,
      }),
    ).toThrow(
      "Deployment/demo container demo: no test value for DATABASE_URL (Secret pg-demo-app, key uri)",
    );
  });

  it("runs its command, or the image's ENTRYPOINT with its args, as its user", () => {
    const { container: main } = deployment as NonNullable<typeof deployment>;
    const { container: migrate } = job as NonNullable<typeof job>;
    expect(containerArgv(main, image, {})).toEqual(["node", "dist/main.js"]);
    expect(containerArgv(migrate, { entrypoint: ["node"], cmd: ["dist/main.js"] }, {})).toEqual([
      "node",
      "dist/migrate.js",
    ]);
    expect(containerUser(deployment as NonNullable<typeof deployment>, image)).toEqual({
      uid: 20002,
      gid: 20002,
    });
    expect(containerUser(job as NonNullable<typeof job>, image)).toEqual({
      uid: 30003,
      gid: 10001,
    });
  });

  it("expands $(VAR) as the kubelet does", () => {
    expect(expandReferences("$(A)-$$(A)-$(B)-$", { A: "a" })).toBe("a-$(A)-$(B)-$");
  });
});

describe("replaceClusterHosts", () => {
  const standIns = { nats: "127.0.0.1:4222", "otel-collector": "127.0.0.1:4318" };

  it("points cluster Service names at their local stand-ins, lists included", () => {
    const { env, replaced } = replaceClusterHosts(
      {
        NATS_URL: "nats://nats.codflow.svc.cluster.local:4222",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318",
        UPSTREAMS: "http://nats:8222/a/,http://127.0.0.1:9/b",
        DATABASE_URL: "postgres://me@127.0.0.1:5432/db",
        MAIL_FROM: "codflow <no-reply@example.com>",
        LOG_LEVEL: "info",
        PORT: "8080",
      },
      standIns,
    );
    expect(env).toEqual({
      NATS_URL: "nats://127.0.0.1:4222",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      UPSTREAMS: "http://127.0.0.1:4222/a/,http://127.0.0.1:9/b",
      DATABASE_URL: "postgres://me@127.0.0.1:5432/db",
      MAIL_FROM: "codflow <no-reply@example.com>",
      LOG_LEVEL: "info",
      PORT: "8080",
    });
    expect(replaced.map((r) => `${r.name}: ${r.from} → ${r.to}`)).toEqual([
      "NATS_URL: nats.codflow.svc.cluster.local:4222 → 127.0.0.1:4222",
      "OTEL_EXPORTER_OTLP_ENDPOINT: otel-collector:4318 → 127.0.0.1:4318",
      "UPSTREAMS: nats:8222 → 127.0.0.1:4222",
    ]);
  });

  it("refuses a URL at a host that has no stand-in, so nothing leaves this machine", () => {
    expect(() =>
      replaceClusterHosts({ SMTP_URL: "smtp://smtp.example.com:587" }, standIns),
    ).toThrow("SMTP_URL points at smtp.example.com:587, which has no local stand-in");
  });
});

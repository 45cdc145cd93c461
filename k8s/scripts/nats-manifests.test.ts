import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/** k8s/base/nats/nats.generated.yaml: what the NATS chart renders, one `# Source:` per document. */
const RENDERED = fileURLToPath(new URL("../base/nats/nats.generated.yaml", import.meta.url));

interface Rendered {
  source: string;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest, read by path below
  doc: any;
}

function renderedDocuments(): Rendered[] {
  return readFileSync(RENDERED, "utf8")
    .split(/^---\n/m)
    .slice(1)
    .map((chunk) => {
      const [header, ...rest] = chunk.split("\n");
      const source = /^# Source: (.+)$/.exec(header ?? "")?.[1];
      if (!source) throw new Error(`a document without its # Source: line: ${header}`);
      const text = `${rest.join("\n")}`;
      return { source, text, doc: parse(text) };
    });
}

const bySource = (source: string) => {
  const found = renderedDocuments().find((d) => d.source === `nats/templates/${source}`);
  if (!found) throw new Error(`no ${source} in ${RENDERED}`);
  return found;
};

describe("NATS as the chart renders it (k8s/base/nats)", () => {
  it("rolls the servers when nats.conf changes: the pod template carries the ConfigMap's checksum", () => {
    const configMap = bySource("config-map.yaml");
    const statefulSet = bySource("stateful-set.yaml").doc;
    expect(statefulSet.spec.template.metadata.annotations["checksum/config"]).toBe(
      createHash("sha256").update(configMap.text).digest("hex"),
    );
  });

  it("fsyncs every JetStream write and routes to every server of the StatefulSet", () => {
    const conf: string = bySource("config-map.yaml").doc.data["nats.conf"];
    const statefulSet = bySource("stateful-set.yaml").doc;
    expect(conf).toMatch(/"sync_interval": "always"/);
    expect(conf).toMatch(/"store_dir": "\/data"/);
    expect(statefulSet.spec.replicas).toBe(3);
    const routes = [...conf.matchAll(/"nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):6222"/g)];
    expect(routes.map((r) => r[1])).toEqual(["nats-0", "nats-1", "nats-2"]);
    expect(new Set(routes.map((r) => r[2]))).toEqual(new Set([statefulSet.spec.serviceName]));
  });

  it("keeps one server of three down at most during voluntary disruptions", () => {
    expect(bySource("pod-disruption-budget.yaml").doc.spec.maxUnavailable).toBe(1);
  });
});

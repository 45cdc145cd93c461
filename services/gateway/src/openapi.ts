import { isDeepStrictEqual } from "node:util";
import type { Logger } from "@codflow/shared";
import { describeError } from "./errors.ts";
import { type UpstreamName, type UpstreamPools, upstreamForPath } from "./routes.ts";

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: Array<{ url: string; description?: string }>;
  paths?: Record<string, PathItem>;
  components?: Record<string, Record<string, unknown>>;
  security?: unknown[];
  tags?: Array<{ name: string; description?: string }>;
  [extension: string]: unknown;
}

type PathItem = Record<string, unknown>;
type Operation = { tags?: string[]; security?: unknown[]; [key: string]: unknown };

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * One OpenAPI 3.1 document for everything the gateway routes: each service's paths under the
 * prefixes it owns (its /healthz, /metrics… are left out), its components, its tags. A component
 * name two services define differently is renamed `<service>_<Name>` in the second one, refs
 * included; a security scheme keeps the first definition, since operations name schemes by key.
 */
export function mergeOpenApiDocuments(
  sources: ReadonlyArray<{ service: UpstreamName; doc: OpenApiDocument }>,
): OpenApiDocument {
  const merged: OpenApiDocument = {
    openapi: "3.1.0",
    info: { title: "codflow API", version: "v1" },
    servers: [{ url: "/", description: "this gateway" }],
    paths: {},
    components: {},
    tags: [],
  };
  for (const { service, doc: original } of sources) {
    const doc = renameConflictingComponents(service, structuredClone(original), merged);
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (upstreamForPath(path) !== service) continue;
      (merged.paths as Record<string, PathItem>)[path] = withServiceDefaults(service, doc, item);
    }
    for (const [kind, entries] of Object.entries(doc.components ?? {})) {
      const target = (merged.components as Record<string, Record<string, unknown>>)[kind] ?? {};
      for (const [name, value] of Object.entries(entries)) target[name] ??= value;
      (merged.components as Record<string, Record<string, unknown>>)[kind] = target;
    }
    const tags = merged.tags as Array<{ name: string; description?: string }>;
    for (const tag of [{ name: service, description: `${service} service` }, ...(doc.tags ?? [])]) {
      if (!tags.some((t) => t.name === tag.name)) tags.push(tag);
    }
  }
  return merged;
}

/** Untagged operations get the service's tag; a document-wide `security` moves onto them. */
function withServiceDefaults(
  service: UpstreamName,
  doc: OpenApiDocument,
  item: PathItem,
): PathItem {
  for (const method of HTTP_METHODS) {
    const operation = item[method] as Operation | undefined;
    if (!operation) continue;
    if (!operation.tags?.length) operation.tags = [service];
    if (operation.security === undefined && doc.security !== undefined) {
      operation.security = doc.security;
    }
  }
  return item;
}

function renameConflictingComponents(
  service: UpstreamName,
  doc: OpenApiDocument,
  merged: OpenApiDocument,
): OpenApiDocument {
  const renames = new Map<string, string>();
  for (const [kind, entries] of Object.entries(doc.components ?? {})) {
    if (kind === "securitySchemes") continue;
    const existing = merged.components?.[kind] ?? {};
    for (const [name, value] of Object.entries(entries)) {
      if (name in existing && !isDeepStrictEqual(existing[name], value)) {
        renames.set(`#/components/${kind}/${name}`, `#/components/${kind}/${service}_${name}`);
        entries[`${service}_${name}`] = value;
        delete entries[name];
      }
    }
  }
  return renames.size === 0 ? doc : (rewriteRefs(doc, renames) as OpenApiDocument);
}

function rewriteRefs(node: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(node)) return node.map((child) => rewriteRefs(child, renames));
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === "$ref" && typeof value === "string"
        ? (renames.get(value) ?? value)
        : rewriteRefs(value, renames);
  }
  return out;
}

export interface OpenApiAggregator {
  /** The merged document, or undefined when no service has ever answered. */
  document(): Promise<OpenApiDocument | undefined>;
}

/**
 * Fetches each service's /openapi.json on every call and merges them; a service that does not
 * answer is represented by the last copy it served (and named in the description if it never
 * served one), so the docs survive a service restart.
 */
export function createOpenApiAggregator({
  pools,
  logger,
  fetchTimeoutMs = 5_000,
}: {
  pools: UpstreamPools;
  logger: Logger;
  fetchTimeoutMs?: number;
}): OpenApiAggregator {
  const lastGood = new Map<UpstreamName, OpenApiDocument>();

  async function fetchDocument(service: UpstreamName): Promise<OpenApiDocument | undefined> {
    for (const base of pools[service].rotation()) {
      try {
        const res = await fetch(`${base}/openapi.json`, {
          signal: AbortSignal.timeout(fetchTimeoutMs),
        });
        if (!res.ok) throw new Error(`status ${res.status}`);
        const doc = (await res.json()) as OpenApiDocument;
        if (typeof doc.openapi !== "string") throw new Error("not an OpenAPI document");
        lastGood.set(service, doc);
        return doc;
      } catch (error) {
        logger.warn(
          { upstream: service, base, err: describeError(error) },
          "openapi document unavailable",
        );
      }
    }
    return lastGood.get(service);
  }

  return {
    async document() {
      const services = Object.keys(pools) as UpstreamName[];
      const docs = await Promise.all(services.map(fetchDocument));
      const sources = services.flatMap((service, i) => {
        const doc = docs[i];
        return doc ? [{ service, doc }] : [];
      });
      if (sources.length === 0) return undefined;
      const merged = mergeOpenApiDocuments(sources);
      const missing = services.filter((_, i) => !docs[i]);
      if (missing.length > 0) {
        merged.info.description = `Not included (never reachable so far): ${missing.join(", ")}.`;
      }
      return merged;
    },
  };
}

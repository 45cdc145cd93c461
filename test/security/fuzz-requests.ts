import { randomUUID } from "node:crypto";
import fc from "fast-check";

/** The parts of an OpenAPI 3.1 document the fuzzer reads. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  schema?: JsonSchema;
}

export interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  bodySchema?: JsonSchema;
}

export interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: unknown }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Every operation of the document, with its parameters and its JSON body schema ($refs resolved). */
export function operationsOf(doc: OpenApi): Operation[] {
  const resolve = (schema: JsonSchema | undefined, depth = 0): JsonSchema | undefined => {
    if (!schema || depth > 8) return schema;
    if (schema.$ref) {
      const name = schema.$ref.replace("#/components/schemas/", "");
      return resolve(doc.components?.schemas?.[name], depth + 1);
    }
    const out: JsonSchema = { ...schema };
    if (schema.properties) {
      out.properties = Object.fromEntries(
        Object.entries(schema.properties).map(([k, v]) => [k, resolve(v, depth + 1) ?? {}]),
      );
    }
    if (schema.items) out.items = resolve(schema.items, depth + 1);
    for (const key of ["anyOf", "oneOf", "allOf"] as const) {
      if (schema[key]) out[key] = schema[key]?.map((s) => resolve(s, depth + 1) ?? {});
    }
    return out;
  };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => {
      const op = item[method] as {
        parameters?: Parameter[];
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
      };
      return {
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        bodySchema: resolve(op.requestBody?.content?.["application/json"]?.schema),
      };
    }),
  );
}

/** Values a JSON parser, a validator or a database might choke on. */
const hostileScalar = fc.constantFrom<unknown>(
  null,
  true,
  0,
  -0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  1e308,
  2 ** 31,
  2 ** 63,
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "💥🧨‮RTL",
  "' or 1=1 --",
  "'); drop table orders; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, meant literally
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "../../../../etc/passwd",
  "00000000-0000-0000-0000-000000000000",
  "NaN",
  "Infinity",
  "1e999",
  "x".repeat(100_000),
  [],
  {},
  [null],
  { __proto__: null, admin: true },
);

/** Keys that pollute prototypes when merged naively. */
const pollutingObject = fc.constantFrom(
  JSON.parse('{"__proto__": {"role": "admin", "polluted": true}}'),
  JSON.parse('{"constructor": {"prototype": {"polluted": true}}}'),
  JSON.parse('{"__proto__": null, "toString": 1, "valueOf": "x", "hasOwnProperty": []}'),
);

const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: hostileScalar },
  { weight: 1, arbitrary: pollutingObject },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
);

/**
 * A value of the schema's shape: with `wrong`, each part is now and then the wrong type or a
 * hostile value; without, every part has its declared type (so handlers, not validators, run).
 */
function shaped(schema: JsonSchema | undefined, wrong: boolean, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return anyValue;
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants?.length) return fc.oneof(...variants.map((s) => shaped(s, wrong, depth + 1)));
  if (schema.allOf?.length) return shaped(schema.allOf[0], wrong, depth + 1);
  const right = rightTyped(schema, wrong, depth);
  return wrong
    ? fc.oneof({ weight: 6, arbitrary: right }, { weight: 1, arbitrary: anyValue })
    : right;
}

function rightTyped(schema: JsonSchema, wrong: boolean, depth: number): fc.Arbitrary<unknown> {
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      if (schema.format === "uuid") return fc.oneof(fc.uuid(), fc.constant(randomUUID()));
      if (schema.format === "email") return fc.emailAddress();
      return fc.oneof(
        fc.string({
          minLength: schema.minLength ?? 0,
          maxLength: Math.min(schema.maxLength ?? 30, 300),
        }),
        fc.constant("+15555550123"),
      );
    case "integer":
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? -10, max: Math.min(schema.maximum ?? 1000, 1e9) }),
        fc.integer(),
      );
    case "number":
      return fc.double();
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(shaped(schema.items, wrong, depth + 1), { maxLength: 4 });
    case "object": {
      const entries = Object.entries(schema.properties ?? {});
      const record = Object.fromEntries(entries.map(([k, s]) => [k, shaped(s, wrong, depth + 1)]));
      return fc.record(record, { requiredKeys: schema.required ?? [] });
    }
    default:
      return anyValue;
  }
}

function deeplyNested(depth: number, open: string, close: string) {
  return open.repeat(depth) + close.repeat(depth);
}

export interface FuzzBody {
  text: string;
  label: string;
}

/** A request body: JSON of the schema's shape, random JSON, hostile JSON or no JSON at all. */
export function bodyFor(op: Operation): fc.Arbitrary<FuzzBody | undefined> {
  const json = (label: string) => (value: unknown) => ({ text: JSON.stringify(value), label });
  return fc.oneof(
    { weight: 4, arbitrary: shaped(op.bodySchema, false).map(json("typed")) },
    { weight: 4, arbitrary: shaped(op.bodySchema, true).map(json("shaped")) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(json("random json")) },
    { weight: 1, arbitrary: pollutingObject.map(json("prototype keys")) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<FuzzBody>(
        { text: deeplyNested(20_000, "[", "]"), label: "deep array" },
        { text: `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`, label: "deep object" },
        {
          text: '{"qty": 1e999, "priceMinor": 123456789012345678901234567890}',
          label: "huge numbers",
        },
        { text: '{"a": 1,', label: "truncated json" },
        { text: "not json at all", label: "text" },
        { text: "", label: "empty" },
        { text: "null", label: "null" },
        { text: '"just a string"', label: "string" },
        { text: "\u0000\u0001\u0002", label: "control bytes" },
        { text: '{"a":"\\ud800"}', label: "lone surrogate" },
        { text: `{"s":"${"x".repeat(900_000)}"}`, label: "long string under the limit" },
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Path parameter values: mostly uuids (so handlers run), else hostile. */
export const pathValue = fc.oneof(
  { weight: 3, arbitrary: fc.uuid().map(encodeURIComponent) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }).map(encodeURIComponent) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "..%2f..%2fetc%2fpasswd",
      "%2e%2e%2f",
      "%00",
      "%ff",
      "%",
      "%E0%A4%A",
      "a".repeat(3000),
      "-1",
      "0",
      "null",
      "{id}",
      "00000000-0000-0000-0000-000000000000",
      "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      "not-a-product-slug",
    ),
  },
);

/** A query string: the operation's own parameters and others, repeated, arrays, unicode. */
export function queryFor(op: Operation): fc.Arbitrary<string> {
  const declared = op.parameters.filter((p) => p.in === "query").map((p) => p.name);
  const key = fc.oneof(
    ...(declared.length ? [fc.constantFrom(...declared)] : []),
    fc.constantFrom("limit", "cursor", "status", "status[]", "__proto__", "a[b][c]", "x"),
  );
  const value = fc.oneof(
    fc.constantFrom("10", "0", "-1", "1e9", "99999999999999999999", "abc", "", "[]", "null"),
    fc.constantFrom("confirmed", "shipped", "nonsense", "%00"),
    fc.string({ unit: "grapheme", maxLength: 30 }),
    fc.base64String({ maxLength: 60 }),
  );
  return fc
    .array(fc.tuple(key, value), { maxLength: 6 })
    .map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : ""));
}

export const contentType = fc.constantFrom(
  ...Array<string>(12).fill("application/json"),
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "garbage/",
  undefined,
);

export const preferHeader = fc.constantFrom(
  undefined,
  "wait=1",
  "wait=0",
  "wait=-5",
  "wait=abc",
  "wait=99999999999999999999",
  "wait",
  "respond-async, wait=1e3",
  ";;;",
);

export const idempotencyKey = fc.oneof(
  fc.uuid(),
  fc.constantFrom(undefined, "", " ", "k".repeat(256), "k".repeat(4000), "äöü"),
  fc.string({ maxLength: 40 }),
);

/**
 * The kubernetes-models validators (ajv code compiled from the OpenAPI schemas) let a field the
 * schema does not define pass: `replica: 2` or `imagePullPolcy` validate, and do nothing in a
 * cluster. This finds them without a second copy of the schemas: the object is validated through
 * a proxy that records which keys the validator reads. An ajv validator reads every property its
 * schema defines (and every key of a map it checks), so in an object the validator looked into,
 * a key it never read is one the schema does not define. An object it never looked into is
 * free-form in the schema (`x-kubernetes-preserve-unknown-fields`, a bare `type: object`), and
 * anything goes there.
 */

type Tracked = object;

export interface FieldTrace {
  /** The proxy to hand to the validator in place of the object. */
  proxy: unknown;
  /** After validation: every key of the object the validator never read, as dotted paths. */
  unknownFields(): string[];
}

export function traceFieldReads(root: object): FieldTrace {
  const readKeys = new WeakMap<Tracked, Set<string>>();
  const proxies = new WeakMap<Tracked, Tracked>();

  const track = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    const existing = proxies.get(value);
    if (existing) return existing;
    const reads = new Set<string>();
    readKeys.set(value, reads);
    const record = (key: string | symbol) => {
      if (typeof key === "string") reads.add(key);
    };
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        record(key);
        return track(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        record(key);
        return Reflect.has(target, key);
      },
      getOwnPropertyDescriptor(target, key) {
        record(key);
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };

  const unknownBelow = (value: unknown, path: string): string[] => {
    if (value === null || typeof value !== "object") return [];
    const reads = readKeys.get(value);
    if (!reads || reads.size === 0) return [];
    if (Array.isArray(value)) {
      return value.flatMap((item, i) => unknownBelow(item, `${path}[${i}]`));
    }
    return Object.entries(value).flatMap(([key, child]) => {
      const childPath = path ? `${path}.${key}` : key;
      return reads.has(key) ? unknownBelow(child, childPath) : [childPath];
    });
  };

  return { proxy: track(root), unknownFields: () => unknownBelow(root, "") };
}

/**
 * Makes a vendored CRD small: `node --import tsx test/k8s/crds/strip-descriptions.ts <upstream
 * CRD YAML> <output> "<header comment>"` drops every schema's description and the printer
 * columns, which validation never reads, and keeps everything else as the operator ships it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";

type Schema = {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  allOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
};

/** Descriptions of schemas only: a property that happens to be called `description` stays. */
function stripDescriptions(schema: Schema): void {
  delete schema.description;
  for (const child of Object.values(schema.properties ?? {})) stripDescriptions(child);
  if (schema.items) stripDescriptions(schema.items);
  if (typeof schema.additionalProperties === "object") {
    stripDescriptions(schema.additionalProperties);
  }
  for (const branch of [
    ...(schema.anyOf ?? []),
    ...(schema.allOf ?? []),
    ...(schema.oneOf ?? []),
  ]) {
    stripDescriptions(branch);
  }
  if (schema.not) stripDescriptions(schema.not);
}

const [source, target, header] = process.argv.slice(2);
if (!source || !target || !header) {
  console.error("usage: strip-descriptions.ts <upstream CRD YAML> <output> <header comment>");
  process.exit(2);
}
const crd = parse(readFileSync(source, "utf8")) as {
  spec: { versions: { schema: { openAPIV3Schema: Schema }; additionalPrinterColumns?: unknown }[] };
};
for (const version of crd.spec.versions) {
  stripDescriptions(version.schema.openAPIV3Schema);
  delete version.additionalPrinterColumns;
}
const comment = header
  .split("\n")
  .map((line) => `# ${line}`)
  .join("\n");
writeFileSync(target, `${comment}\n${stringify(crd, { lineWidth: 0 })}`);

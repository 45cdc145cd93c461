/**
 * The production build: `pnpm build` turns each service's TypeScript into JS that plain `node`
 * runs (`node dist/main.js`, `node dist/migrate.js`), as the container image does.
 *
 * Why an esbuild bundle per service rather than `tsc` emit: `@codflow/shared` is a workspace
 * package whose exports point at its `.ts` sources and every import names a `.ts` file, so
 * emitting JS would need a second output and export conditions for shared, rewritten import
 * extensions and a dev/prod split in every package.json. A bundle inlines shared and the
 * service's own code into one file per entry point and leaves every npm package external: they
 * load from the runtime folder's node_modules as in development (pino and its worker threads,
 * postgres.js with its patch, nats.js, OpenTelemetry, swagger-ui-dist's files), and the TS
 * sources stay what `pnpm start`, the tests and typecheck use.
 *
 * Besides code, the one thing a service reads beside itself at run time is its migrations folder
 * (`new URL("./db/migrations", import.meta.url)`), copied to `dist/db/migrations`; the gateway
 * finds swagger-ui-dist's files through node_modules.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";
import { REPO_ROOT, serviceDir } from "../lib/services.ts";

/** Every process an image can run: the four services and the gateway. */
export const BUILT_SERVICES = ["checkout", "inventory", "orders", "notifier", "gateway"] as const;
export type BuiltService = (typeof BUILT_SERVICES)[number];

/** Written beside the bundle: the npm packages it imports at run time, at their versions. */
export const NPM_IMPORTS_FILE = "npm-imports.json";

const WORKSPACE_SCOPE = "@codflow/";

/** npm packages stay imports (resolved from node_modules at run time); workspace code is inlined. */
const externalNpmPackages: Plugin = {
  name: "external-npm-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith(WORKSPACE_SCOPE) ? undefined : { path: args.path, external: true },
    );
  },
};

/** The package a bare import names: `hono/body-limit` → `hono`, `@hono/otel/x` → `@hono/otel`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
}

/** The version of `name` Node loads from `dir`: the first node_modules/<name> up the tree. */
export function installedVersion(name: string, dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, "node_modules", name, "package.json");
    if (existsSync(manifest)) {
      return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
    }
    if (dirname(at) === at) return undefined;
  }
}

/**
 * The npm packages the bundle imports (Node built-ins left out), each at the version its
 * importing source resolves in the workspace. In the runtime folder all of them load from
 * `dist/`, so one version each: two sources wanting two versions stop the build.
 */
function npmImports(metafile: Metafile): Record<string, string> {
  const wanted = new Map<string, Map<string, string>>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    for (const { path, external } of imports) {
      if (!external || path.startsWith("node:")) continue;
      const name = packageName(path);
      const version = installedVersion(name, dirname(join(REPO_ROOT, input)));
      if (!version) throw new Error(`${input} imports ${name}, which is not installed`);
      const versions = wanted.get(name) ?? new Map<string, string>();
      versions.set(version, input);
      wanted.set(name, versions);
    }
  }
  const resolved: Record<string, string> = {};
  for (const [name, versions] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
    if (versions.size > 1) {
      const who = [...versions].map(([version, input]) => `${input} wants ${version}`);
      throw new Error(`the bundle can load one version of ${name} only: ${who.join(", ")}`);
    }
    resolved[name] = [...versions.keys()][0] as string;
  }
  return resolved;
}

export async function buildService(service: BuiltService) {
  const dir = serviceDir(service);
  const outdir = join(dir, "dist");
  rmSync(outdir, { recursive: true, force: true });
  const entryPoints: Record<string, string> = { main: join(dir, "src/main.ts") };
  if (existsSync(join(dir, "src/migrate.ts"))) entryPoints.migrate = join(dir, "src/migrate.ts");
  const result = await build({
    entryPoints,
    outdir,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    plugins: [externalNpmPackages],
  });
  if (entryPoints.migrate) {
    const migrations = join(dir, "src/db/migrations");
    if (!existsSync(join(migrations, "meta", "_journal.json"))) {
      throw new Error(`${relative(REPO_ROOT, migrations)}/meta/_journal.json is missing`);
    }
    // the SQL and the journal: what the migrator and the schema readiness check read
    cpSync(migrations, join(outdir, "db/migrations"), {
      recursive: true,
      filter: (source) => !source.endsWith("_snapshot.json"),
    });
  }
  const packages = npmImports(result.metafile);
  writeFileSync(join(outdir, NPM_IMPORTS_FILE), `${JSON.stringify(packages, null, 2)}\n`);
  return { service, outdir, packages };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = Date.now();
  for (const service of BUILT_SERVICES) {
    const { outdir, packages } = await buildService(service);
    const count = Object.keys(packages).length;
    console.log(`${service}: ${relative(REPO_ROOT, outdir)} (imports ${count} npm packages)`);
  }
  console.log(`built ${BUILT_SERVICES.length} services in ${Date.now() - started} ms`);
}

import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../lib/services.ts";
import { missingNpmImports, unpatchedDependencies, workspaceLeaks } from "./check.ts";

const scratch = mkdtempSync(join(tmpdir(), "codflow-runtime-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A runtime folder holding `files` (path → content). */
function runtimeFolder(name: string, files: Record<string, string>) {
  const app = join(scratch, name, "app");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(app, path)), { recursive: true });
    writeFileSync(join(app, path), content);
  }
  return app;
}

const manifest = (version: string) => JSON.stringify({ version });

describe("a runtime folder's problems are named", () => {
  it("an npm package the bundle imports that is missing or at another version", () => {
    const app = runtimeFolder("versions", {
      "dist/npm-imports.json": JSON.stringify({ pino: "10.4.0", zod: "4.6.7", hono: "4.13.19" }),
      "node_modules/pino/package.json": manifest("9.0.0"),
      "node_modules/zod/package.json": manifest("4.6.7"),
    });
    expect(missingNpmImports(app)).toEqual([
      "pino@10.4.0 (found 9.0.0)",
      "hono@4.13.19 (found nothing)",
    ]);
  });

  it("a patched dependency installed without its patch, and not once it has it", () => {
    const unpatched = runtimeFolder("unpatched", {
      "dist/npm-imports.json": "{}",
      "node_modules/postgres/package.json": manifest("3.4.9"),
      "node_modules/postgres/cjs/src/connection.js": "// as published\n",
      "node_modules/postgres/cjs/src/index.js": "// as published\n",
      "node_modules/postgres/src/connection.js": "// as published\n",
      "node_modules/postgres/src/index.js": "// as published\n",
    });
    expect(unpatchedDependencies(unpatched)).toEqual([
      expect.stringMatching(/^postgres@3\.4\.9: cjs\/src\/connection\.js lacks /),
      expect.stringMatching(/^postgres@3\.4\.9: cjs\/src\/index\.js lacks /),
      expect.stringMatching(/^postgres@3\.4\.9: src\/connection\.js lacks /),
      expect.stringMatching(/^postgres@3\.4\.9: src\/index\.js lacks /),
    ]);

    const patched = runtimeFolder("patched", { "dist/npm-imports.json": "{}" });
    // the workspace's own install has the patch applied
    const installed = realpathSync(join(REPO_ROOT, "node_modules/postgres"));
    cpSync(installed, join(patched, "node_modules/postgres"), { recursive: true });
    expect(unpatchedDependencies(patched)).toEqual([]);
  });

  it("a node_modules above the folder, or a link out of it", () => {
    const app = runtimeFolder("leaky", { "dist/main.js": "" });
    mkdirSync(join(scratch, "leaky", "node_modules"));
    symlinkSync(scratch, join(app, "outside"));
    symlinkSync("dist/main.js", join(app, "inside"));
    expect(workspaceLeaks(app)).toEqual([
      `${join(scratch, "leaky", "node_modules")} is reachable`,
      `outside links to ${scratch}`,
    ]);
  });
});

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, expect, it } from "vitest";
import { copyBuildContext } from "./build-context.ts";

const scratch = mkdtempSync(join(tmpdir(), "codflow-context-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(root: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

const listed = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();

it("copies what docker build would send: .dockerignore's rules, exceptions included", () => {
  const from = join(scratch, "repo");
  write(from, {
    ".dockerignore": "**/node_modules\n**/dist\n.git\ntest\n*.md\n!KEEP.md\n",
    "package.json": "{}",
    "README.md": "",
    "KEEP.md": "",
    ".git/HEAD": "",
    "node_modules/x/index.js": "",
    "services/a/node_modules/y/index.js": "",
    "services/a/dist/main.js": "",
    "services/a/src/main.ts": "",
    "services/a/README.md": "",
    "test/e2e.test.ts": "",
  });
  const to = join(scratch, "context");
  expect(copyBuildContext(from, to)).toBe(5);
  expect(listed(to)).toEqual([
    ".dockerignore",
    "KEEP.md",
    "package.json",
    "services/a/README.md",
    "services/a/src/main.ts",
  ]);
});

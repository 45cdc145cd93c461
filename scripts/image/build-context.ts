import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// CommonJS (`module.exports = factory`) typed as an ES default export: loaded as CommonJS, so the
// runtime value and the type agree
const ignore = createRequire(import.meta.url)(
  "@balena/dockerignore",
) as typeof import("@balena/dockerignore").default;

/**
 * Copies what `docker build` would send as its context: every file under `from` that
 * `.dockerignore` lets through (Docker's own matching rules). An ignored folder is skipped whole
 * unless a `!` rule could bring something inside it back. Returns the number of files copied.
 */
export function copyBuildContext(from: string, to: string): number {
  const rulesFile = join(from, ".dockerignore");
  const rules = existsSync(rulesFile) ? readFileSync(rulesFile, "utf8") : "";
  const ignored = ignore().add(rules.split("\n"));
  const hasExceptions = rules.split("\n").some((line) => line.trim().startsWith("!"));
  let copied = 0;
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(from, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!ignored.ignores(path) || hasExceptions) walk(path);
      } else if (entry.isFile() && !ignored.ignores(path)) {
        mkdirSync(join(to, relative), { recursive: true });
        copyFileSync(join(from, path), join(to, path));
        copied++;
      } else if (!entry.isFile() && !ignored.ignores(path)) {
        throw new Error(`${path} in the build context is neither a file nor a folder`);
      }
    }
  };
  walk("");
  return copied;
}

/**
 * The Node.js an image runs, on this machine: this process's own when the versions are equal,
 * else the official build of that exact version from the npm registry (the `node-<os>-<arch>`
 * packages carry Node's release binaries), unpacked once into a folder of the system's temporary
 * directory that every user may read, so the image's non-root user can run it too.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `24.22.3` from `node:24.22.3-bookworm-slim`, or undefined when the tag names no exact version. */
export function nodeVersionOfImage(baseImage: string): string | undefined {
  return /^(?:docker\.io\/library\/)?node:(\d+\.\d+\.\d+)(?:-|$)/.exec(baseImage)?.[1];
}

/** The path of a `node` binary of exactly `version`, fetched and unpacked if this one is another. */
export function nodeBinary(version: string): string {
  if (process.versions.node === version) return process.execPath;
  const home = join(tmpdir(), "codflow-node");
  const folder = join(home, `v${version}-${process.platform}-${process.arch}`);
  const binary = join(folder, "bin", "node");
  if (existsSync(binary)) return binary;
  mkdirSync(home, { recursive: true, mode: 0o755 });
  const scratch = mkdtempSync(join(home, "fetch-"));
  try {
    const spec = `node-${process.platform}-${process.arch}@${version}`;
    let tarball: string;
    try {
      tarball = execFileSync("npm", ["pack", spec, "--silent", "--pack-destination", scratch], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 300_000,
      }).trim();
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
      throw new Error(
        `the image runs Node ${version} and this machine has ${process.versions.node}; fetching ${spec} from the npm registry failed: ${detail}`,
      );
    }
    execFileSync("tar", ["-xzf", join(scratch, tarball), "-C", scratch]);
    const unpacked = join(scratch, "package");
    if (!existsSync(join(unpacked, "bin", "node"))) {
      throw new Error(`${spec} holds no bin/node`);
    }
    chmodSync(unpacked, 0o755);
    // another check may have unpacked it meanwhile: the first rename wins, both binaries are equal
    try {
      renameSync(unpacked, folder);
    } catch (err) {
      if (!existsSync(binary)) throw err;
    }
    return binary;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

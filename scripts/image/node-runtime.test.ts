import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { readImageRecipe } from "./dockerfile.ts";
import { nodeBinary, nodeVersionOfImage } from "./node-runtime.ts";

describe("the Node.js an image runs", () => {
  it("is read from the base image's exact version tag, and only from one", () => {
    expect(nodeVersionOfImage("node:24.22.3-bookworm-slim")).toBe("24.22.3");
    expect(nodeVersionOfImage("docker.io/library/node:20.20.2-bookworm-slim")).toBe("20.20.2");
    expect(nodeVersionOfImage("node:24.22.3")).toBe("24.22.3");
    expect(nodeVersionOfImage("node:24-bookworm-slim")).toBeUndefined();
    expect(nodeVersionOfImage("node:lts-slim")).toBeUndefined();
    expect(nodeVersionOfImage("debian:bookworm-slim")).toBeUndefined();
  });

  it("is this process's own when the versions are equal", () => {
    expect(nodeBinary(process.versions.node)).toBe(process.execPath);
  });

  it("is a binary of exactly the Dockerfile's version, fetched when this machine has another", () => {
    const version = nodeVersionOfImage(readImageRecipe().runtime.baseImage);
    expect(version).toBeDefined();
    const binary = nodeBinary(version as string);
    expect(execFileSync(binary, ["--version"], { encoding: "utf8" }).trim()).toBe(`v${version}`);
  }, 300_000);
});

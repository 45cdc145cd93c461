import { afterEach, describe, expect, it } from "vitest";
import { parseManifests, requireKubectl } from "./lib/render.ts";

describe("rendering", () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it("finds kubectl with kustomize 5 or newer on this machine", async () => {
    expect((await requireKubectl()).kustomize).toMatch(/^v([5-9]|\d{2,})\./);
  });

  it("fails, saying how to install kubectl, where there is none, rather than skip", async () => {
    process.env.PATH = "/nonexistent";
    await expect(requireKubectl()).rejects.toThrow(
      /kubectl is not usable here .*: install kubectl 1\.27 or newer .*\.ci\/run installs it/,
    );
  });

  it("names the document that is not YAML", () => {
    expect(() => parseManifests("kind: A\n---\nkind: [B\n", "x.yaml")).toThrow(
      /x\.yaml: document 2 is not valid YAML/,
    );
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../lib/services.ts";
import { readImageRecipe } from "./dockerfile.ts";

const scratch = mkdtempSync(join(tmpdir(), "codflow-dockerfile-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ours = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");

/** The repo's Dockerfile with `from` replaced by `to`, read as the check reads it. */
function readVariant(from: string | RegExp, to: string) {
  const variant = ours.replace(from, to);
  expect(variant).not.toBe(ours);
  const path = join(scratch, "Dockerfile");
  writeFileSync(path, variant);
  return () => readImageRecipe(path);
}

describe("the repo's Dockerfile", () => {
  const recipe = readImageRecipe();

  it("runs `node dist/main.js` in /app as the numeric non-root user 10001, on a pinned Node 24 base with Node 20's young generation", () => {
    expect(recipe.runtime).toMatchObject({
      workdir: "/app",
      uid: 10001,
      gid: 10001,
      entrypoint: [],
      cmd: ["node", "dist/main.js"],
      env: { NODE_ENV: "production", NODE_OPTIONS: "--max-semi-space-size=16" },
    });
    expect(recipe.runtime.baseImage).toMatch(/^node:24\.\d+\.\d+-\w+-slim$/);
  });

  it("builds the workspace once, then deploys the chosen service's production dependencies alone", () => {
    expect(recipe.buildSteps.map((s) => s.args)).toEqual([[], [], ["SERVICE"]]);
    expect(recipe.buildSteps[0]?.command).toBe("pnpm install --offline --frozen-lockfile");
    expect(recipe.buildSteps[1]?.command).toBe("pnpm build");
    expect(recipe.buildSteps[2]?.command).toMatch(
      /pnpm deploy --filter "@codflow\/\$SERVICE" --prod /,
    );
    expect(recipe.runtimeSource).toBe("/build/runtime");
  });
});

describe("a Dockerfile the check cannot reproduce faithfully is refused", () => {
  it.each([
    [
      "a base image without a version",
      /^FROM node:[^\s]+$/m,
      "FROM node:latest",
      /must be pinned by a version tag/,
    ],
    ["a user by name", "USER 10001:10001", "USER node", /numeric non-root USER/],
    ["root", "USER 10001:10001", "USER 0:0", /numeric non-root USER/],
    ["a shell-form CMD", 'CMD ["node", "dist/main.js"]', "CMD node dist/main.js", /JSON form/],
    [
      "a COPY after the workspace",
      "RUN pnpm build",
      "RUN pnpm build\nCOPY extra extra",
      /COPY after `COPY \. \.`/,
    ],
    ["no `COPY . .`", "COPY . .", "COPY services services", /no `COPY \. \.`/],
  ])("%s", (_what, from, to, refusal) => {
    expect(readVariant(from, to)).toThrow(refusal);
  });
});

/**
 * Reads the repo's multi-stage Dockerfile into what the image-start check performs without a
 * container engine: the build stage's steps after the workspace is copied in, where its runtime
 * folder ends up, and how the final image runs it (base, user, working directory, ENV, CMD).
 * Anything this reading cannot reproduce faithfully is refused by name instead of guessed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Cmd,
  type Copy,
  DockerfileParser,
  type Entrypoint,
  type Env,
  type Instruction,
} from "dockerfile-ast";
import { REPO_ROOT } from "../lib/services.ts";

export interface BuildStep {
  /** The RUN's shell command, as `/bin/sh -c` gets it. */
  command: string;
  /** Build args in scope (declared in the stage before the step): they reach it as env. */
  args: string[];
}

export interface ImageRecipe {
  /** The build stage's WORKDIR when the workspace is copied in (`COPY . .`). */
  buildWorkdir: string;
  /** The build stage's RUN steps after `COPY . .`, in order. */
  buildSteps: BuildStep[];
  /** The build-stage path the final stage copies into its WORKDIR. */
  runtimeSource: string;
  runtime: {
    /** `node:24.22.3-bookworm-slim` */
    baseImage: string;
    workdir: string;
    uid: number;
    gid: number;
    env: Record<string, string>;
    entrypoint: string[];
    cmd: string[];
  };
}

export class UnsupportedDockerfile extends Error {
  override name = "UnsupportedDockerfile";
}

const jsonForm = (instruction: Cmd | Entrypoint, what: string) => {
  const strings = instruction.getJSONStrings();
  if (strings.length === 0) {
    throw new UnsupportedDockerfile(`${what} must use the JSON form (["node", "dist/main.js"])`);
  }
  return strings.map((s) => s.getJSONValue());
};

/** The stages in order, each the instructions from its FROM to the next. */
function stages(instructions: Instruction[]): Instruction[][] {
  const found: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.getKeyword() === "FROM") found.push([instruction]);
    else found[found.length - 1]?.push(instruction);
  }
  return found;
}

function lastArgument(instruction: Instruction): string {
  const args = instruction.getArguments();
  return args[args.length - 1]?.getValue() ?? "";
}

function readBuildStage(stage: Instruction[]) {
  const copyAll = stage.findIndex(
    (i) =>
      i.getKeyword() === "COPY" &&
      i
        .getArguments()
        .map((a) => a.getValue())
        .join(" ") === ". .",
  );
  if (copyAll < 0) throw new UnsupportedDockerfile("the build stage has no `COPY . .`");
  const workdirs = stage.slice(0, copyAll).filter((i) => i.getKeyword() === "WORKDIR");
  const buildWorkdir =
    workdirs.length > 0 ? lastArgument(workdirs[workdirs.length - 1] as Instruction) : "";
  if (!buildWorkdir.startsWith("/")) {
    throw new UnsupportedDockerfile("the build stage needs an absolute WORKDIR before `COPY . .`");
  }
  const args: string[] = [];
  const buildSteps: BuildStep[] = [];
  stage.forEach((instruction, index) => {
    const keyword = instruction.getKeyword();
    if (keyword === "ARG")
      args.push(...instruction.getArguments().map((a) => a.getValue().split("=")[0] as string));
    if (index <= copyAll) return;
    if (keyword === "RUN") {
      buildSteps.push({ command: instruction.getArgumentsContent() ?? "", args: [...args] });
    } else if (keyword !== "ARG") {
      throw new UnsupportedDockerfile(
        `${keyword} after \`COPY . .\` in the build stage: the check reproduces RUN and ARG only`,
      );
    }
  });
  return { buildWorkdir, buildSteps };
}

function readRuntimeStage(stage: Instruction[], buildStageName: string) {
  const from = stage[0] as Instruction;
  const baseImage = from.getArguments()[0]?.getValue() ?? "";
  const tag = baseImage.split("@")[0]?.split(":")[1];
  if (!tag || tag === "latest") {
    throw new UnsupportedDockerfile(
      `the final stage's base ${baseImage} must be pinned by a version tag`,
    );
  }
  let workdir = "/";
  let user: string | undefined;
  let runtimeSource: string | undefined;
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const instruction of stage.slice(1)) {
    switch (instruction.getKeyword()) {
      case "WORKDIR":
        workdir = lastArgument(instruction);
        break;
      case "USER":
        user = lastArgument(instruction);
        break;
      case "ENV":
        for (const property of (instruction as Env).getProperties()) {
          env[property.getName()] = property.getUnescapedValue() ?? "";
        }
        break;
      case "COPY": {
        const copy = instruction as Copy;
        const source = copy.getFromFlag()?.getValue();
        const paths = copy.getArguments().map((a) => a.getValue());
        if (source !== buildStageName || paths.length !== 2 || paths[1] !== workdir) {
          throw new UnsupportedDockerfile(
            `the final stage may only COPY --from=${buildStageName} <folder> ${workdir}, not \`${copy.getArgumentsContent()}\``,
          );
        }
        runtimeSource = paths[0];
        break;
      }
      case "ENTRYPOINT":
        entrypoint = jsonForm(instruction as Entrypoint, "ENTRYPOINT");
        break;
      case "CMD":
        cmd = jsonForm(instruction as Cmd, "CMD");
        break;
      case "ARG":
      case "LABEL":
      case "EXPOSE":
      case "STOPSIGNAL":
        break;
      default:
        throw new UnsupportedDockerfile(
          `${instruction.getKeyword()} in the final stage: the check reproduces WORKDIR, USER, ENV, COPY, ENTRYPOINT and CMD`,
        );
    }
  }
  const ids = /^(\d+):(\d+)$/.exec(user ?? "");
  if (!ids || Number(ids[1]) === 0) {
    throw new UnsupportedDockerfile(
      `the final stage must run as a numeric non-root USER uid:gid, not ${user ?? "root"}`,
    );
  }
  if (!runtimeSource)
    throw new UnsupportedDockerfile("the final stage copies nothing from the build stage");
  return {
    runtimeSource,
    runtime: { baseImage, workdir, uid: Number(ids[1]), gid: Number(ids[2]), env, entrypoint, cmd },
  };
}

export function readImageRecipe(path = join(REPO_ROOT, "Dockerfile")): ImageRecipe {
  const parsed = stages(DockerfileParser.parse(readFileSync(path, "utf8")).getInstructions());
  if (parsed.length !== 2) {
    throw new UnsupportedDockerfile(`expected two stages (build, runtime), found ${parsed.length}`);
  }
  const [build, runtime] = parsed as [Instruction[], Instruction[]];
  const buildStageName = lastArgument(build[0] as Instruction);
  if (build[0]?.getArguments().length !== 3) {
    throw new UnsupportedDockerfile("the build stage must be named: FROM <image> AS <name>");
  }
  return { ...readBuildStage(build), ...readRuntimeStage(runtime, buildStageName) };
}

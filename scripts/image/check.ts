/**
 * The image-start check without a container engine: build the images' contents as the
 * Dockerfile does, in a temporary folder outside the repository, and run a service from its
 * runtime folder with plain `node`, as the container would (test/image/image-start.test.ts).
 *
 * - The build context is what `docker build` would send (`.dockerignore` applied), copied to the
 *   path the build stage's WORKDIR stands for; the Dockerfile's RUN steps after `COPY . .` run
 *   there with `/bin/sh -c`, the steps before the first one using SERVICE once, the rest once per
 *   service (Docker's layer cache shares the first ones between the images the same way).
 * - Each service's runtime folder lands where its image has it (`<image root>/app`); nothing
 *   above it holds a node_modules, and nothing in it links outside it.
 * - The build steps and the containers run the Node version the image's base names, exactly:
 *   this machine's when it is that one, else that release fetched from the npm registry
 *   (node-runtime.ts). A container runs as the image's user, in its working directory, with
 *   exactly the environment it is given.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../lib/services.ts";
import { BUILT_SERVICES, type BuiltService, installedVersion, NPM_IMPORTS_FILE } from "./build.ts";
import { copyBuildContext } from "./build-context.ts";
import { type ImageRecipe, readImageRecipe } from "./dockerfile.ts";
import { nodeBinary, nodeVersionOfImage } from "./node-runtime.ts";

/** The folder the check builds in; `imageRoot(service)` stands for that image's `/`. */
export interface BuiltImages {
  recipe: ImageRecipe;
  /** The `node` binary of the version the image's base names (see node-runtime.ts). */
  node: string;
  root: string;
  imageRoot(service: BuiltService): string;
  /** The runtime folder: the image's WORKDIR. */
  appDir(service: BuiltService): string;
  /** Where each step's and container's output is kept, for the message when one fails. */
  logDir: string;
  remove(): void;
}

const isInside = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

/** Set by whatever started the check, not by the build stage: a step must not see them. */
const NOT_IN_BUILD_STAGE = new Set(["NODE_PATH", "NODE_OPTIONS", "NODE_ENV"]);

/**
 * The environment of a build step: this machine's (pnpm and its store come from it) without
 * what the build stage would not have — NODE_PATH, NODE_OPTIONS, NODE_ENV (vitest sets "test")
 * and the `npm_*` variables of the `pnpm` run that started the check, which name the
 * repository's package.json — with the image's `node` first on the PATH (pnpm runs on it).
 */
function buildEnv(node: string, args: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (NOT_IN_BUILD_STAGE.has(key) || key.toLowerCase().startsWith("npm_")) continue;
    env[key] = value;
  }
  env.PATH = [dirname(node), env.PATH].filter(Boolean).join(delimiter);
  return { ...env, ...args };
}

async function runStep(command: string, cwd: string, env: NodeJS.ProcessEnv, logFile: string) {
  const out = openSync(logFile, "a");
  try {
    const child = spawn("/bin/sh", ["-c", command], { cwd, env, stdio: ["ignore", out, out] });
    const code = await new Promise<number | null>((done, fail) => {
      child.once("error", fail);
      child.once("exit", done);
    });
    if (code !== 0) {
      const tail = readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
      throw new Error(`\`${command}\` exited ${code} in ${cwd}:\n${tail}`);
    }
  } finally {
    closeSync(out);
  }
}

/**
 * The check builds with this machine's pnpm (its major version must be the image's) and runs the
 * exact Node version the image's base names: returns that `node`.
 */
function imageToolchain(recipe: ImageRecipe): string {
  const version = nodeVersionOfImage(recipe.runtime.baseImage);
  if (!version) {
    throw new Error(
      `the image runs ${recipe.runtime.baseImage}: the check needs a node:<major.minor.patch> base`,
    );
  }
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
  const imagePnpm = /pnpm@(\d+)/.exec(dockerfile)?.[1];
  const localPnpm = execFileSync("pnpm", ["--version"], { encoding: "utf8" }).trim();
  if (imagePnpm !== localPnpm.split(".")[0]) {
    throw new Error(
      `the image builds with pnpm ${imagePnpm ?? "?"}, this machine has pnpm ${localPnpm}`,
    );
  }
  return nodeBinary(version);
}

/**
 * Builds every service's runtime folder as the Dockerfile does, in a fresh temporary folder;
 * each step's output goes to `logDir`, and its last lines into the error when it fails.
 */
export async function buildImages(): Promise<BuiltImages> {
  const recipe = readImageRecipe();
  const node = imageToolchain(recipe);
  const root = realpathSync(mkdtempSync(join(tmpdir(), "codflow-image-")));
  if (isInside(REPO_ROOT, root)) throw new Error(`${root} is inside the repository`);
  // the image's user (not root) must be able to reach its runtime folder
  chmodSync(root, 0o755);
  const logDir = join(root, "logs");
  mkdirSync(logDir);
  const stageRoot = join(root, "build-stage");
  const inStage = (path: string) => join(stageRoot, path);
  const imageRoot = (service: BuiltService) => join(root, "images", service);
  const images: BuiltImages = {
    recipe,
    node,
    root,
    logDir,
    imageRoot,
    appDir: (service) => join(imageRoot(service), recipe.runtime.workdir),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  try {
    const workspace = inStage(recipe.buildWorkdir);
    copyBuildContext(REPO_ROOT, workspace);
    const firstPerService = recipe.buildSteps.findIndex((step) => step.args.includes("SERVICE"));
    const shared =
      firstPerService < 0 ? recipe.buildSteps : recipe.buildSteps.slice(0, firstPerService);
    const perService = firstPerService < 0 ? [] : recipe.buildSteps.slice(firstPerService);
    const unknownArgs = recipe.buildSteps.flatMap((s) => s.args).filter((a) => a !== "SERVICE");
    if (unknownArgs.length > 0)
      throw new Error(`build args the check cannot set: ${unknownArgs.join(", ")}`);
    for (const step of shared) {
      await runStep(step.command, workspace, buildEnv(node, {}), join(logDir, "build.log"));
    }
    const runtimeFolder = inStage(recipe.runtimeSource);
    for (const service of BUILT_SERVICES) {
      for (const step of perService) {
        await runStep(
          step.command,
          workspace,
          buildEnv(node, { SERVICE: service }),
          join(logDir, `build-${service}.log`),
        );
      }
      if (!existsSync(runtimeFolder)) {
        throw new Error(`the build stage left no ${recipe.runtimeSource} for ${service}`);
      }
      mkdirSync(dirname(images.appDir(service)), { recursive: true });
      renameSync(runtimeFolder, images.appDir(service));
    }
    return images;
  } catch (err) {
    images.remove();
    throw err;
  }
}

/**
 * What would let a runtime folder use something it does not hold: a node_modules in a folder
 * above it (Node's resolution climbs to `/`), or a symbolic link that leads out of it.
 */
export function workspaceLeaks(appDir: string): string[] {
  const leaks: string[] = [];
  if (isInside(REPO_ROOT, appDir)) leaks.push(`${appDir} is inside the repository`);
  for (let dir = dirname(appDir); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules")))
      leaks.push(`${join(dir, "node_modules")} is reachable`);
    if (dirname(dir) === dir) break;
  }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const target = resolve(dir, readlinkSync(path));
        if (!isInside(appDir, target)) leaks.push(`${relative(appDir, path)} links to ${target}`);
      } else if (entry.isDirectory()) {
        walk(path);
      }
    }
  };
  walk(appDir);
  return leaks;
}

/** npm packages the bundle imports that the runtime folder lacks, or holds at another version. */
export function missingNpmImports(appDir: string): string[] {
  const dist = join(appDir, "dist");
  const wanted = JSON.parse(readFileSync(join(dist, NPM_IMPORTS_FILE), "utf8")) as Record<
    string,
    string
  >;
  return Object.entries(wanted).flatMap(([name, version]) => {
    const found = installedVersion(name, dist);
    return found === version ? [] : [`${name}@${version} (found ${found ?? "nothing"})`];
  });
}

/**
 * Patched dependencies (pnpm-workspace.yaml `patchedDependencies`) present in the runtime folder
 * without their patch: every line a patch adds must be in the file it patches.
 */
export function unpatchedDependencies(appDir: string): string[] {
  const workspace = readFileSync(join(REPO_ROOT, "pnpm-workspace.yaml"), "utf8");
  const patches = (parseYaml(workspace) as { patchedDependencies?: Record<string, string> })
    .patchedDependencies;
  const problems: string[] = [];
  for (const [spec, patchFile] of Object.entries(patches ?? {})) {
    const at = spec.lastIndexOf("@");
    const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
    const packageDir = join(appDir, "node_modules", name);
    if (installedVersion(name, join(appDir, "dist")) !== version) continue;
    let file: string | undefined;
    for (const line of readFileSync(join(REPO_ROOT, patchFile), "utf8").split("\n")) {
      if (line.startsWith("+++ ")) file = line.slice(4).replace(/^b\//, "");
      else if (line.startsWith("+") && file) {
        const patched = join(packageDir, file);
        if (!existsSync(patched) || !readFileSync(patched, "utf8").includes(line.slice(1))) {
          problems.push(`${spec}: ${file} lacks \`${line.slice(1).trim()}\` from ${patchFile}`);
          file = undefined; // one problem per file is enough
        }
      }
    }
  }
  return problems;
}

export interface ContainerRun {
  /** `checkout`, `checkout-migrate` */
  label: string;
  argv: string[];
  /** The container's workingDir, else the image's WORKDIR. */
  workingDir?: string;
  env: Record<string, string>;
  user: { uid: number; gid: number };
}

export interface RunningContainer {
  child: ChildProcess;
  exited: Promise<number | null>;
  logFile: string;
  /** The last lines the process wrote, for a failure message. */
  tail(lines?: number): string;
  stop(): Promise<number | null>;
}

/**
 * Runs a container's command from `service`'s runtime folder: `node` is the image's, an
 * absolute path is taken inside the image, the environment is exactly `env` (no NODE_PATH
 * allowed), and the user is the container's when this process may switch to it (root).
 */
export function startContainer(
  images: BuiltImages,
  service: BuiltService,
  { label, argv, workingDir, env, user }: ContainerRun,
): RunningContainer {
  const [program, ...args] = argv;
  if (program !== "node") throw new Error(`${label} runs ${program}; the check runs node only`);
  if ("NODE_PATH" in env) throw new Error(`${label} would get NODE_PATH=${env.NODE_PATH}`);
  const inImage = (path: string) => join(images.imageRoot(service), path);
  const cwd = inImage(workingDir ?? images.recipe.runtime.workdir);
  const logFile = join(images.logDir, `${label}.log`);
  const out = openSync(logFile, "a");
  const asUser = process.getuid?.() === 0 ? { uid: user.uid, gid: user.gid } : {};
  const child = spawn(
    images.node,
    args.map((arg) => (isAbsolute(arg) ? inImage(arg) : arg)),
    { cwd, env, ...asUser, stdio: ["ignore", out, out] },
  );
  closeSync(out);
  const exited = new Promise<number | null>((done) => {
    child.once("exit", (code, signal) => done(code ?? (signal ? -1 : null)));
    child.once("error", () => done(-1));
  });
  return {
    child,
    exited,
    logFile,
    tail: (lines = 20) => readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Whether `file` exists in the runtime folder as a regular file (not a link). */
export const hasFile = (appDir: string, file: string) =>
  existsSync(join(appDir, file)) && lstatSync(join(appDir, file)).isFile();

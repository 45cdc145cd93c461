import { type ChildProcess, spawn } from "node:child_process";
import { linePrefix, pipeLines } from "./output.ts";

export interface ProcessSpec {
  label: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Set for a task that is meant to end (the demo); a service's exit is never expected. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface SupervisorOptions {
  /** Width of the `label |` column. */
  labelWidth: number;
  onUnexpectedExit: (label: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

interface Managed {
  label: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Runs node processes (`node <args>`) with their output prefixed by their label, and stops them
 * all on request: SIGTERM, then SIGKILL after the deadline. Each child leads its own process
 * group, so a Ctrl-C at the terminal reaches only this process, which then stops the children
 * in order instead of every process receiving SIGINT at once.
 */
export function createSupervisor({ labelWidth, onUnexpectedExit }: SupervisorOptions) {
  const running = new Map<number, Managed>();
  let stopping = false;
  let started = 0;

  function signalGroup(pid: number, signal: NodeJS.Signals) {
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }

  // Last resort if this process dies without stopping them: no orphaned services.
  process.on("exit", () => {
    for (const pid of running.keys()) signalGroup(pid, "SIGKILL");
  });

  return {
    get stopping() {
      return stopping;
    },

    start(spec: ProcessSpec): ChildProcess {
      const child = spawn(process.execPath, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const prefix = linePrefix(spec.label, started++, labelWidth);
      if (child.stdout) pipeLines(child.stdout, prefix, process.stdout);
      if (child.stderr) pipeLines(child.stderr, prefix, process.stderr);
      const exited = new Promise<void>((resolve) => {
        child.once("close", (code, signal) => {
          if (child.pid !== undefined) running.delete(child.pid);
          resolve();
          if (spec.onExit) spec.onExit(code, signal);
          else if (!stopping) onUnexpectedExit(spec.label, code, signal);
        });
      });
      child.once("error", (error) => {
        if (!stopping) onUnexpectedExit(`${spec.label} (${error.message})`, null, null);
      });
      if (child.pid !== undefined) running.set(child.pid, { label: spec.label, child, exited });
      return child;
    },

    /** SIGTERM to every child; SIGKILL to those still running after `deadlineMs`. */
    async stopAll(deadlineMs: number): Promise<string[]> {
      stopping = true;
      const all = [...running.entries()];
      for (const [pid] of all) signalGroup(pid, "SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"deadline">((resolve) => {
        timer = setTimeout(() => resolve("deadline"), deadlineMs);
      });
      await Promise.race([Promise.all(all.map(([, m]) => m.exited)), deadline]);
      clearTimeout(timer);
      const killed = [...running.entries()];
      for (const [pid] of killed) signalGroup(pid, "SIGKILL");
      await Promise.all(killed.map(([, m]) => m.exited));
      return killed.map(([, m]) => m.label);
    },
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;

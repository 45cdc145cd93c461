import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

const useColour = process.stdout.isTTY && !process.env.NO_COLOR;
const PALETTE = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94];

export function colour(code: number, text: string): string {
  return useColour ? `\x1b[${code}m${text}\x1b[0m` : text;
}

export const bold = (text: string) => colour(1, text);
export const red = (text: string) => colour(31, text);
export const green = (text: string) => colour(32, text);

/** `checkout   |`, padded to `width`, coloured per `index` on a terminal. */
export function linePrefix(label: string, index: number, width: number): string {
  return `${colour(PALETTE[index % PALETTE.length] as number, label.padEnd(width))} |`;
}

/** Copies `source` to `target` line by line, each line behind `prefix`. */
export function pipeLines(source: Readable, prefix: string, target: Writable): void {
  createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    target.write(`${prefix} ${line}\n`);
  });
}

/** What the scripts themselves say, behind their own name. */
export function scriptLogger(name: string) {
  const prefix = colour(1, `[${name}]`);
  return {
    info: (message: string) => console.log(`${prefix} ${message}`),
    warn: (message: string) => console.warn(`${prefix} ${colour(33, message)}`),
    error: (message: string) => console.error(`${prefix} ${red(message)}`),
  };
}

export type ScriptLogger = ReturnType<typeof scriptLogger>;

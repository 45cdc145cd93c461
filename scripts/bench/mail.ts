import { fork } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The benchmark's SMTP sink (mail-counter.ts), counting mails per recipient in a child process. */

export type MailKind = "confirmed" | "failed" | "other";
export type MailCounts = Record<MailKind, Record<string, number>>;

/** Which of notifier's templates a subject comes from (templates.ts). */
export const mailKind = (subject: string): MailKind =>
  /^Your order .* is confirmed$/.test(subject)
    ? "confirmed"
    : subject === "We could not place your order"
      ? "failed"
      : "other";

export interface MailCounter {
  pid: number;
  smtpUrl: string;
  counts(): Promise<MailCounts>;
  close(): Promise<void>;
}

export async function startMailCounter(): Promise<MailCounter> {
  const child = fork(fileURLToPath(new URL("./mail-counter.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  const [first] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(() => {
      throw new Error("the bench mail sink exited before listening");
    }),
  ])) as [string];
  const { smtpPort } = JSON.parse(first) as { smtpPort: number };
  return {
    pid: child.pid as number,
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    async counts() {
      const answer = once(child, "message") as Promise<[MailCounts]>;
      child.send("counts");
      return (await answer)[0];
    },
    async close() {
      const exited = once(child, "exit");
      child.disconnect();
      await exited;
    },
  };
}

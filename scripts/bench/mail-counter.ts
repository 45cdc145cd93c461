/**
 * DEV ONLY, the benchmark's SMTP sink, run as a child process (see mail.ts) so that parsing mail
 * is not counted as the load generator's CPU. It keeps no message, only how many mails each
 * recipient got of each kind; prints `{"smtpPort": n}` once listening and answers an IPC
 * `"counts"` message with the counts. It ends when its parent disconnects.
 */
import { startMailSink } from "../lib/mail-sink.ts";
import { type MailCounts, mailKind } from "./mail.ts";

const counts: MailCounts = { confirmed: {}, failed: {}, other: {} };
const sink = await startMailSink({
  smtpPort: 0,
  httpPort: 0,
  maxMessages: 1,
  subjectsOnly: true,
  onMessage: (m) => {
    const kind = counts[mailKind(m.subject)];
    for (const to of m.to) kind[to.toLowerCase()] = (kind[to.toLowerCase()] ?? 0) + 1;
  },
});
process.on("message", (message) => {
  if (message === "counts") process.send?.(counts);
});
process.on("disconnect", () => void sink.close().then(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ smtpPort: sink.smtpPort })}\n`);

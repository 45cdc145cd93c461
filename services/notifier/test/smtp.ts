import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/**
 * A real SMTP server on loopback that keeps every message it accepts, parsed. While
 * `rejecting` is true it answers MAIL FROM with `451` (try again later), like a busy relay;
 * recipients in `busyMailboxes` get a `451` at RCPT TO.
 */
export async function startSmtpServer(port = 0) {
  const received: ParsedMail[] = [];
  const attempts: { at: number; rejected: boolean }[] = [];
  const state = { rejecting: false, busyMailboxes: new Set<string>() };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onMailFrom(_address, _session, callback) {
      attempts.push({ at: Date.now(), rejected: state.rejecting });
      if (!state.rejecting) return callback();
      callback(Object.assign(new Error("mailbox busy, try again later"), { responseCode: 451 }));
    },
    onRcptTo(address, _session, callback) {
      if (!state.busyMailboxes.has(address.address)) return callback();
      callback(Object.assign(new Error("mailbox busy, try again later"), { responseCode: 451 }));
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          received.push(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.server.address() as { port: number }).port,
    received,
    attempts,
    state,
    /** The messages sent to `address`. */
    to: (address: string) =>
      received.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === address),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * DEV ONLY mail catcher: `node --import tsx scripts/dev-mail-sink.ts`.
 * SMTP on 127.0.0.1:${DEV_SMTP_PORT:-1025} (no auth, no TLS); the messages it received on
 * http://127.0.0.1:${DEV_MAIL_HTTP_PORT:-1080}/messages (GET lists, DELETE empties).
 */
import { startMailSink } from "./lib/mail-sink.ts";
import { scriptLogger } from "./lib/output.ts";

const log = scriptLogger("mail-sink");

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw ? Number(raw) : fallback;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    log.error(`${name}=${raw} is not a port number`);
    process.exit(1);
  }
  return port;
}

try {
  const sink = await startMailSink({
    smtpPort: portFrom("DEV_SMTP_PORT", 1025),
    httpPort: portFrom("DEV_MAIL_HTTP_PORT", 1080),
    onMessage: (m) => log.info(`mail to ${m.to.join(", ")}: ${m.subject}`),
  });
  log.info(`DEV ONLY: accepting any mail on smtp://127.0.0.1:${sink.smtpPort} (no auth, no TLS)`);
  log.info(`messages: http://127.0.0.1:${sink.httpPort}/messages`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, async () => {
      await sink.close();
      process.exit(0);
    });
  }
} catch (error) {
  log.error((error as Error).message);
  process.exit(1);
}

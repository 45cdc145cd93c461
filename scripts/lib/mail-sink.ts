import { randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Server } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/** DEV ONLY: a mail catcher. It accepts every message from anyone, without auth or TLS. */

export interface ReceivedMessage {
  id: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO), Bcc included. */
  to: string[];
  subject: string;
  text: string;
  receivedAt: string;
}

export interface MailSinkOptions {
  /** 0 picks a free port. */
  smtpPort?: number;
  httpPort?: number;
  host?: string;
  /** The oldest messages are dropped past this many, so a long benchmark cannot exhaust memory. */
  maxMessages?: number;
  onMessage?: (message: ReceivedMessage) => void;
  /**
   * Reads only each message's Subject (its text stays empty): what the bench's counter needs, at
   * a tenth of a full parse's CPU (0.015 against 0.16 ms a confirmation email, measured), which
   * the bench would otherwise take from the stack under test. An encoded subject (RFC 2047)
   * still gets the full parse, to be decoded.
   */
  subjectsOnly?: boolean;
}

export interface MailSink {
  smtpPort: number;
  httpPort: number;
  /** Kept in arrival order, oldest first. */
  messages: ReceivedMessage[];
  /** Messages received since the start, including those dropped or cleared. */
  received(): number;
  close(): Promise<void>;
}

/**
 * Starts the dev mail sink in this process: SMTP on `smtpPort`, and on `httpPort`
 * `GET /messages[?to=address]` (JSON list) and `DELETE /messages`.
 *
 * @example const sink = await startMailSink({ smtpPort: 0, httpPort: 0 }); … await sink.close();
 */
export async function startMailSink({
  smtpPort = 1025,
  httpPort = 1080,
  host = "127.0.0.1",
  maxMessages = 10_000,
  onMessage,
  subjectsOnly = false,
}: MailSinkOptions = {}): Promise<MailSink> {
  const messages: ReceivedMessage[] = [];
  let received = 0;

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    closeTimeout: 1_000,
    onData(stream, session, callback) {
      (subjectsOnly ? subjectOf(stream) : simpleParser(stream))
        .then((parsed) => {
          const message: ReceivedMessage = {
            id: randomUUID(),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
            receivedAt: new Date().toISOString(),
          };
          messages.push(message);
          received++;
          if (messages.length > maxMessages) messages.splice(0, messages.length - maxMessages);
          onMessage?.(message);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });

  const http = createServer((req, res) => answerHttp(req, res, messages));

  // smtp-server re-emits its socket's errors on itself, so that is where a busy port shows.
  const smtpBound = await listenOn(smtp, smtp.server, () => smtp.listen(smtpPort, host)).catch(
    (error: Error) => {
      throw new Error(
        `dev mail sink: cannot listen for SMTP on ${host}:${smtpPort}: ${error.message}`,
      );
    },
  );
  // Once listening, a client's broken connection is reported here; it must not stop the sink.
  smtp.on("error", (error: Error) => console.warn(`dev mail sink: SMTP: ${error.message}`));
  const httpBound = await listenOn(http, http, () => http.listen(httpPort, host)).catch(
    async (error: Error) => {
      await closeSmtp();
      throw new Error(
        `dev mail sink: cannot listen for HTTP on ${host}:${httpPort}: ${error.message}`,
      );
    },
  );

  function closeSmtp() {
    return new Promise<void>((resolve) => smtp.close(() => resolve()));
  }

  return {
    smtpPort: smtpBound.port,
    httpPort: httpBound.port,
    messages,
    received: () => received,
    async close() {
      await Promise.all([
        closeSmtp(),
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        }),
      ]);
    },
  };
}

function listenOn(errors: EventEmitter, server: Server, start: () => void): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    errors.once("error", reject);
    server.once("listening", () => {
      errors.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
    start();
  });
}

function answerHttp(req: IncomingMessage, res: ServerResponse, messages: ReceivedMessage[]) {
  const url = new URL(req.url ?? "/", "http://sink");
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === "/healthz" && req.method === "GET") return json(200, { status: "ok" });
  if (url.pathname !== "/messages") return json(404, { error: "not found" });
  if (req.method === "GET") {
    const to = url.searchParams.get("to")?.toLowerCase();
    return json(
      200,
      to ? messages.filter((m) => m.to.some((address) => address.toLowerCase() === to)) : messages,
    );
  }
  if (req.method === "DELETE") {
    messages.splice(0);
    res.writeHead(204).end();
    return;
  }
  res.setHeader("allow", "GET, DELETE");
  return json(405, { error: "method not allowed" });
}

/** The Subject of a message read whole; the full parse when the subject is encoded. */
async function subjectOf(
  stream: AsyncIterable<Buffer>,
): Promise<{ subject?: string; text?: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const message = Buffer.concat(chunks);
  const headerEnd = message.indexOf("\r\n\r\n");
  const header = message
    .subarray(0, headerEnd < 0 ? message.length : headerEnd)
    .toString("latin1")
    .replace(/\r\n[ \t]+/g, " "); // unfolded
  const subject = /^subject:[ \t]*(.*)$/im.exec(header)?.[1];
  if (subject?.includes("=?")) return simpleParser(message);
  return { subject, text: "" };
}

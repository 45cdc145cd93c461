import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * DEV and TEST ONLY: an SMS gateway stand-in. It accepts `POST /sms` `{to, body}` from anyone,
 * keeps the messages in memory and never prints them (they hold one-time codes).
 */

export interface ReceivedSms {
  id: string;
  to: string;
  body: string;
  receivedAt: string;
}

/** Where one-time codes sent to a phone can be read: the sink in this process or over HTTP. */
export interface SmsInbox {
  /**
   * The 6-digit code of the next message to `phone` that no earlier call returned, waiting
   * for it to arrive until `timeoutMs`.
   */
  waitForCode(phone: string, options?: { timeoutMs?: number }): Promise<string>;
}

export interface SmsSinkOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** The oldest messages are dropped past this many, so a long benchmark cannot exhaust memory. */
  maxMessages?: number;
}

export interface SmsSink extends SmsInbox {
  port: number;
  /** What the notifier's `SMS_GATEWAY_URL` is set to. */
  gatewayUrl: string;
  /** The sink's HTTP base, for `smsSinkClient` in another process. */
  url: string;
  /** Accepted messages in arrival order, oldest first. */
  messages: ReceivedSms[];
  /** Every `POST /sms` so far, refused ones included. */
  requests(): number;
  /** Answers the next `count` posts with `status` (a gateway outage) instead of accepting them. */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

const CODE = /\b(\d{6})\b/;
const DEFAULT_WAIT_MS = 15_000;

/**
 * Starts the SMS sink in this process: `POST /sms` `{to, body}` → 202 (or the injected
 * failure), `GET /messages[?to=phone[&after=n&waitMs=ms]]` lists what arrived — with `after`,
 * it first waits up to `waitMs` for more than `n` messages to that phone — and
 * `DELETE /messages` empties the list.
 *
 * @example const sms = await startSmsSink(); … const code = await sms.waitForCode("+15551234567");
 */
export async function startSmsSink({
  port = 0,
  host = "127.0.0.1",
  maxMessages = 10_000,
}: SmsSinkOptions = {}): Promise<SmsSink> {
  const messages: ReceivedSms[] = [];
  const listeners = new Set<() => void>();
  const returnedCodes = new Map<string, number>();
  let requests = 0;
  let failures: { remaining: number; status: number } = { remaining: 0, status: 503 };

  const to = (phone: string) => messages.filter((m) => m.to === phone);

  /** The messages to `phone` once there are more than `after`, or undefined at the deadline. */
  const moreThan = (phone: string, after: number, waitMs: number) =>
    new Promise<ReceivedSms[] | undefined>((resolve) => {
      const check = () => {
        const found = to(phone);
        if (found.length <= after) return false;
        finish(found);
        return true;
      };
      const finish = (found: ReceivedSms[] | undefined) => {
        clearTimeout(timer);
        listeners.delete(onMessage);
        resolve(found);
      };
      const onMessage = () => void check();
      const timer = setTimeout(() => finish(undefined), waitMs);
      listeners.add(onMessage);
      check();
    });

  const accept = (message: { to: string; body: string }) => {
    messages.push({ id: randomUUID(), ...message, receivedAt: new Date().toISOString() });
    if (messages.length > maxMessages) messages.splice(0, messages.length - maxMessages);
    for (const listener of [...listeners]) listener();
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://sink");
    if (url.pathname === "/sms" && req.method === "POST") {
      requests++;
      return readSms(req)
        .then((sms) => {
          if (!sms) return json(res, 400, { error: "expected JSON {to, body}" });
          if (failures.remaining > 0) {
            failures.remaining--;
            return json(res, failures.status, { error: "injected failure" });
          }
          accept(sms);
          return json(res, 202, { accepted: true });
        })
        .catch(() => json(res, 400, { error: "unreadable body" }));
    }
    return answerQuery(req, res, url, { messages, to, moreThan });
  });

  const bound = await new Promise<AddressInfo>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  }).catch((error: Error) => {
    throw new Error(`SMS sink: cannot listen on ${host}:${port}: ${error.message}`);
  });
  const base = `http://${host}:${bound.port}`;

  return {
    port: bound.port,
    url: base,
    gatewayUrl: `${base}/sms`,
    messages,
    requests: () => requests,
    failNext(count, status = 503) {
      failures = { remaining: count, status };
    },
    async waitForCode(phone, { timeoutMs = DEFAULT_WAIT_MS } = {}) {
      const returned = returnedCodes.get(phone) ?? 0;
      const found = await moreThan(phone, returned, timeoutMs);
      const code = codeIn(found?.[returned], phone, timeoutMs);
      returnedCodes.set(phone, returned + 1);
      return code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const listener of [...listeners]) listeners.delete(listener);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Reads codes from a sink in another process (the one `pnpm start` runs) over its HTTP API.
 *
 * @example const sms = smsSinkClient("http://127.0.0.1:1090"); await sms.waitForCode(phone);
 */
export function smsSinkClient(baseUrl: string): SmsInbox {
  const returnedCodes = new Map<string, number>();
  return {
    async waitForCode(phone, { timeoutMs = DEFAULT_WAIT_MS } = {}) {
      const returned = returnedCodes.get(phone) ?? 0;
      const query = new URLSearchParams({
        to: phone,
        after: String(returned),
        waitMs: String(timeoutMs),
      });
      const res = await fetch(`${baseUrl}/messages?${query}`);
      if (!res.ok) throw new Error(`SMS sink at ${baseUrl} answered ${res.status}`);
      const found = (await res.json()) as ReceivedSms[];
      const code = codeIn(found[returned], phone, timeoutMs);
      returnedCodes.set(phone, returned + 1);
      return code;
    },
  };
}

function codeIn(message: ReceivedSms | undefined, phone: string, timeoutMs: number) {
  if (!message) throw new Error(`no SMS to ${phone} arrived within ${timeoutMs} ms`);
  const code = CODE.exec(message.body)?.[1];
  if (!code) throw new Error(`the SMS to ${phone} holds no 6-digit code`);
  return code;
}

async function readSms(req: IncomingMessage) {
  let raw = "";
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 10_000) return undefined;
  }
  const parsed = JSON.parse(raw) as unknown;
  const { to, body } = (parsed ?? {}) as { to?: unknown; body?: unknown };
  return typeof to === "string" && typeof body === "string" ? { to, body } : undefined;
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function answerQuery(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  {
    messages,
    to,
    moreThan,
  }: {
    messages: ReceivedSms[];
    to: (phone: string) => ReceivedSms[];
    moreThan: (phone: string, after: number, waitMs: number) => Promise<unknown>;
  },
) {
  if (url.pathname === "/healthz" && req.method === "GET") return json(res, 200, { status: "ok" });
  if (url.pathname !== "/messages") return json(res, 404, { error: "not found" });
  if (req.method === "DELETE") {
    messages.splice(0);
    res.writeHead(204).end();
    return;
  }
  if (req.method !== "GET") {
    res.setHeader("allow", "GET, DELETE");
    return json(res, 405, { error: "method not allowed" });
  }
  const phone = url.searchParams.get("to");
  if (!phone) return json(res, 200, messages);
  const after = Number(url.searchParams.get("after") ?? Number.NaN);
  if (!Number.isInteger(after)) return json(res, 200, to(phone));
  const waitMs = Math.min(Number(url.searchParams.get("waitMs")) || 0, 60_000);
  return void moreThan(phone, after, waitMs).then(() => json(res, 200, to(phone)));
}

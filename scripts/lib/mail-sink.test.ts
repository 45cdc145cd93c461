import { createConnection } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MailSink, type ReceivedMessage, startMailSink } from "./mail-sink.ts";

/** Speaks plain SMTP, as an app without auth or TLS would, and waits for each reply. */
async function sendRaw(port: number, from: string, to: string[], data: string): Promise<void> {
  const socket = createConnection({ host: "127.0.0.1", port });
  socket.setEncoding("utf8");
  let buffer = "";
  const waiters: Array<(line: string) => void> = [];
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // Multi-line replies continue with "250-"; only the last line ("250 ") ends the reply.
      if (/^\d{3} /.test(line)) waiters.shift()?.(line);
    }
  });
  const reply = () => new Promise<string>((resolve) => waiters.push(resolve));
  const command = async (line: string, expected: string) => {
    const answer = reply();
    socket.write(`${line}\r\n`);
    expect(await answer).toMatch(new RegExp(`^${expected}`));
  };
  expect(await reply()).toMatch(/^220/);
  await command("EHLO test.local", "250");
  await command(`MAIL FROM:<${from}>`, "250");
  for (const rcpt of to) await command(`RCPT TO:<${rcpt}>`, "250");
  await command("DATA", "354");
  await command(`${data.replace(/\n/g, "\r\n")}\r\n.`, "250");
  await command("QUIT", "221");
  socket.end();
}

const multipartMessage = `From: codflow <orders@codflow.test>
To: Ada <ada@example.com>
Subject: =?UTF-8?Q?Order_CF-1001_confirmed_=E2=9C=93?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Pay 49.98 USD in cash =E2=80=94 order CF-1001.
--b1
Content-Type: text/html; charset=utf-8

<p>Pay 49.98 USD in cash</p>
--b1--`;

describe("dev mail sink", () => {
  let sink: MailSink;
  const seen: ReceivedMessage[] = [];
  const api = (path = "/messages", init?: RequestInit) =>
    fetch(`http://127.0.0.1:${sink.httpPort}${path}`, init);

  beforeAll(async () => {
    sink = await startMailSink({
      smtpPort: 0,
      httpPort: 0,
      maxMessages: 3,
      onMessage: (m) => seen.push(m),
    });
  });

  afterAll(async () => {
    await sink?.close();
  });

  it("accepts mail without auth or TLS and lists it, decoded, over HTTP", async () => {
    await sendRaw(sink.smtpPort, "orders@codflow.test", ["ada@example.com"], multipartMessage);
    const res = await api();
    expect(res.status).toBe(200);
    const messages = (await res.json()) as ReceivedMessage[];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      from: "orders@codflow.test",
      to: ["ada@example.com"],
      subject: "Order CF-1001 confirmed ✓",
      text: "Pay 49.98 USD in cash — order CF-1001.",
    });
    expect(messages[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(messages[0]?.receivedAt ?? "")).not.toBeNaN();
    expect(seen).toHaveLength(1);
  });

  it("filters by recipient, case-insensitively", async () => {
    const body = "Subject: hello\n\nhi";
    await sendRaw(sink.smtpPort, "a@codflow.test", ["bob@example.com", "eve@example.com"], body);
    const forBob = (await (await api("/messages?to=BOB@example.com")).json()) as ReceivedMessage[];
    expect(forBob.map((m) => m.subject)).toEqual(["hello"]);
    expect(forBob[0]?.to).toEqual(["bob@example.com", "eve@example.com"]);
  });

  it("keeps at most maxMessages, dropping the oldest, and counts them all", async () => {
    for (const n of [1, 2])
      await sendRaw(sink.smtpPort, "a@codflow.test", ["x@example.com"], `Subject: n${n}\n\n.`);
    expect(sink.messages.map((m) => m.subject)).toEqual(["hello", "n1", "n2"]);
    expect(sink.received()).toBe(4);
  });

  it("empties the list on DELETE /messages", async () => {
    expect((await api("/messages", { method: "DELETE" })).status).toBe(204);
    expect(await (await api()).json()).toEqual([]);
    expect(sink.messages).toEqual([]);
  });

  it("says clearly when its port is taken", async () => {
    await expect(startMailSink({ smtpPort: sink.smtpPort, httpPort: 0 })).rejects.toThrow(
      /cannot listen for SMTP on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
    );
    await expect(startMailSink({ smtpPort: 0, httpPort: sink.httpPort })).rejects.toThrow(
      /cannot listen for HTTP/,
    );
  });
});

describe("dev mail sink reading subjects only (the bench's counter)", () => {
  let sink: MailSink;
  beforeAll(async () => {
    sink = await startMailSink({ smtpPort: 0, httpPort: 0, subjectsOnly: true });
  });
  afterAll(async () => {
    await sink?.close();
  });

  it("reads a plain subject, folded or not, and leaves the text empty", async () => {
    const folded =
      "From: a@codflow.test\nSubject: Your order CF-1002\n is confirmed\n\nPay 10 USD.";
    await sendRaw(sink.smtpPort, "a@codflow.test", ["ada@example.com"], folded);
    await sendRaw(sink.smtpPort, "a@codflow.test", ["bob@example.com"], "Subject: hi\n\nbody");
    expect(sink.messages.map(({ subject, text, to }) => ({ subject, text, to }))).toEqual([
      { subject: "Your order CF-1002 is confirmed", text: "", to: ["ada@example.com"] },
      { subject: "hi", text: "", to: ["bob@example.com"] },
    ]);
  });

  it("decodes an encoded subject with the full parse", async () => {
    await sendRaw(sink.smtpPort, "orders@codflow.test", ["ada@example.com"], multipartMessage);
    expect(sink.messages.at(-1)?.subject).toBe("Order CF-1001 confirmed ✓");
  });
});

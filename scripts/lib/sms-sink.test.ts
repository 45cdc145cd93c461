import { afterEach, describe, expect, it } from "vitest";
import { type SmsSink, smsSinkClient, startSmsSink } from "./sms-sink.ts";

let sink: SmsSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

const post = (s: SmsSink, body: unknown) =>
  fetch(s.gatewayUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("the SMS sink", () => {
  it("accepts {to, body} posts and lists them over HTTP, all or per phone", async () => {
    sink = await startSmsSink();
    expect((await post(sink, { to: "+15550000001", body: "Your code is 111111." })).status).toBe(
      202,
    );
    expect((await post(sink, { to: "+15550000002", body: "Your code is 222222." })).status).toBe(
      202,
    );
    expect((await post(sink, { to: "+15550000001" })).status).toBe(400);

    const all = await (await fetch(`${sink.url}/messages`)).json();
    const one = await (await fetch(`${sink.url}/messages?to=%2B15550000001`)).json();
    expect(all).toHaveLength(2);
    expect(one).toEqual([
      expect.objectContaining({ to: "+15550000001", body: "Your code is 111111." }),
    ]);
    expect(sink.requests()).toBe(3);
  });

  it("fails the next posts when told to, then accepts again", async () => {
    sink = await startSmsSink();
    sink.failNext(2, 503);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await post(sink, { to: "+15550000003", body: "123456" })).status);
    expect(statuses).toEqual([503, 503, 202]);
    expect(sink.messages).toHaveLength(1);
  });

  it("hands out each code once, in order, waiting for the ones still to come", async () => {
    sink = await startSmsSink();
    const phone = "+15550000004";
    const first = sink.waitForCode(phone);
    await post(sink, { to: phone, body: "Your codflow code is 123456." });
    expect(await first).toBe("123456");

    const client = smsSinkClient(sink.url);
    const viaHttp = client.waitForCode(phone);
    await post(sink, { to: phone, body: "Your codflow code is 654321." });
    expect(await viaHttp).toBe("123456");
    expect(await client.waitForCode(phone)).toBe("654321");
    expect(await sink.waitForCode(phone)).toBe("654321");
    await expect(sink.waitForCode(phone, { timeoutMs: 50 })).rejects.toThrow(/no SMS to/);
  });
});

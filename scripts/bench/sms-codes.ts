import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { SmsInbox } from "../lib/sms-sink.ts";

const CODE = /\b(\d{6})\b/;

/**
 * DEV ONLY: the benchmark's SMS gateway stand-in. Unlike the dev SMS sink it keeps no message,
 * only the latest one-time code per phone until it is read, and hands it to a waiting reader in
 * O(1), so verifying thousands of customers at once stays cheap.
 */
export async function startSmsCodes(): Promise<
  SmsInbox & { gatewayUrl: string; close(): Promise<void> }
> {
  const codes = new Map<string, string>();
  const readers = new Map<string, (code: string) => void>();

  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/sms") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      const { to, body } = (JSON.parse(raw || "{}") ?? {}) as { to?: string; body?: string };
      const code = typeof body === "string" ? CODE.exec(body)?.[1] : undefined;
      if (typeof to !== "string" || !code) {
        res.writeHead(400).end();
        return;
      }
      const reader = readers.get(to);
      if (reader) {
        readers.delete(to);
        reader(code);
      } else codes.set(to, code);
      res.writeHead(202).end();
    });
  });
  const bound = await new Promise<AddressInfo>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address() as AddressInfo));
  });

  return {
    gatewayUrl: `http://127.0.0.1:${bound.port}/sms`,
    waitForCode(phone, { timeoutMs = 30_000 } = {}) {
      const stored = codes.get(phone);
      if (stored) {
        codes.delete(phone);
        return Promise.resolve(stored);
      }
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          readers.delete(phone);
          reject(new Error(`no SMS to ${phone} within ${timeoutMs} ms`));
        }, timeoutMs);
        readers.set(phone, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

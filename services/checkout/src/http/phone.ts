import {
  appendToOutbox,
  auth,
  HttpProblem,
  inTransaction,
  problemContent,
  type ServiceApp,
} from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import { v7 as uuidv7 } from "uuid";
import type { AppDeps } from "../app.ts";
import { lockCodProfile, markPhoneVerified } from "../db/cod-customers.ts";
import {
  countWrongAttempt,
  insertPhoneVerification,
  lockNewestVerification,
  markCodeUsed,
  recentCodeSends,
} from "../db/phone-verifications.ts";
import {
  type Confirmation,
  decideResend,
  judgeConfirmation,
  MAX_OTP_ATTEMPTS,
  newOtp,
  otpMatches,
} from "../domain/phone-otp.ts";
import { createCheckoutMetrics } from "../metrics.ts";
import { clientIp, customerOf, rateLimit } from "./rate-limit.ts";

export const E164 = /^\+[1-9]\d{1,14}$/;

const verificationRequestSchema = z
  .object({
    phone: z
      .string()
      .regex(E164, "an E.164 number, e.g. +4915112345678")
      .openapi({ example: "+4915112345678" }),
  })
  .openapi("PhoneVerificationRequest");

const verificationSentSchema = z
  .object({ verificationId: z.uuid(), expiresAt: z.iso.datetime() })
  .openapi("PhoneVerificationSent");

const confirmationSchema = z
  .object({ code: z.string().regex(/^\d{6}$/, "the 6-digit code from the SMS") })
  .openapi("PhoneVerificationConfirmation");

const confirmedSchema = z.object({ phoneVerified: z.literal(true) }).openapi("PhoneVerified");

const authProblems = {
  401: problemContent("No or invalid bearer token"),
  403: problemContent("Not a customer"),
} as const;

export function registerPhoneRoutes(app: ServiceApp, deps: AppDeps) {
  const { config, sql } = deps;
  const metrics = createCheckoutMetrics(deps.metrics);
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });
  const limits = (route: string) => [
    rateLimit({
      sql,
      metrics,
      name: `${route}:ip`,
      limit: config.RATE_LIMIT_OTP_PER_IP,
      windowSeconds: config.RATE_LIMIT_OTP_WINDOW_SECONDS,
      clientOf: clientIp,
    }),
    customerOnly,
    rateLimit({
      sql,
      metrics,
      name: `${route}:customer`,
      limit: config.RATE_LIMIT_OTP_PER_CUSTOMER,
      windowSeconds: config.RATE_LIMIT_OTP_WINDOW_SECONDS,
      clientOf: customerOf,
    }),
  ];
  const common = { tags: ["phone verification"], security: [{ bearer: [] }] };

  app.openapi(
    createRoute({
      ...common,
      middleware: limits("otp-send"),
      method: "post",
      path: "/v1/me/phone/verification",
      summary: "Send a 6-digit code by SMS to prove this phone number",
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: verificationRequestSchema } },
        },
      },
      responses: {
        202: {
          description: "The code is on its way; it expires at expiresAt",
          content: { "application/json": { schema: verificationSentSchema } },
        },
        400: problemContent("Not an E.164 phone number"),
        ...authProblems,
        429: problemContent("otp-resend-limited or rate-limited; see Retry-After"),
      },
    }),
    async (c) => {
      const customerId = c.get("user").id;
      const { phone } = c.req.valid("json");
      const sent = await inTransaction(sql, "checkout.phone-verification", async (tx) => {
        await lockCodProfile(tx, customerId);
        const resend = decideResend(
          { ...(await recentCodeSends(tx, customerId)), now: new Date() },
          {
            resendSeconds: config.PHONE_OTP_RESEND_SECONDS,
            sendsPerHour: config.PHONE_OTP_SENDS_PER_HOUR,
          },
        );
        if (!resend.send) return resend;
        const verificationId = uuidv7();
        const otp = newOtp();
        const expiresAt = await insertPhoneVerification(tx, {
          id: verificationId,
          customerId,
          phone,
          salt: otp.salt,
          hash: otp.hash,
          ttlSeconds: config.PHONE_OTP_TTL_SECONDS,
        });
        await appendToOutbox(tx, deps.namespace, [
          {
            type: "checkout.phone_verification_requested",
            correlationId: verificationId,
            causationId: null,
            data: {
              verificationId,
              customerId,
              phone,
              code: otp.code,
              expiresAt: expiresAt.toISOString(),
            },
          },
        ]);
        return { send: true as const, verificationId, expiresAt: expiresAt.toISOString() };
      });
      if (!sent.send) {
        const retryAfter = String(sent.retryAfterSeconds);
        throw new HttpProblem(
          429,
          "otp-resend-limited",
          "A code was sent recently",
          `wait ${retryAfter} s before asking for another code`,
          undefined,
          { "retry-after": retryAfter },
        );
      }
      deps.logger.info(
        { customerId, verificationId: sent.verificationId, expiresAt: sent.expiresAt },
        "phone verification code issued",
      );
      return c.json({ verificationId: sent.verificationId, expiresAt: sent.expiresAt }, 202);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      middleware: limits("otp-confirm"),
      method: "post",
      path: "/v1/me/phone/verification/confirm",
      summary: "Prove the phone number with the code the SMS brought",
      description: `At most ${MAX_OTP_ATTEMPTS} wrong codes per code sent; then ask for a new one.`,
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: confirmationSchema } },
        },
      },
      responses: {
        200: {
          description: "The phone is verified",
          content: { "application/json": { schema: confirmedSchema } },
        },
        400: problemContent("Not a 6-digit code"),
        ...authProblems,
        410: problemContent("otp-expired: the code expired, was used, or none was sent"),
        422: problemContent("otp-invalid: wrong code"),
        429: problemContent("otp-attempts-exceeded, or rate-limited (see Retry-After)"),
      },
    }),
    async (c) => {
      const customerId = c.get("user").id;
      const { code } = c.req.valid("json");
      // The transaction commits whatever the answer: a wrong code's attempt must count. The
      // refusal is thrown only after the commit (an error thrown inside would roll it back).
      const outcome = await inTransaction(sql, "checkout.phone-confirmation", async (tx) => {
        const pending = await lockNewestVerification(tx, customerId);
        const matches = pending ? otpMatches(code, pending.salt, pending.hash) : false;
        const judged = judgeConfirmation(pending, { matches, now: new Date() });
        if (pending && judged === "invalid") await countWrongAttempt(tx, pending.id);
        if (pending && judged === "verified") {
          await markCodeUsed(tx, pending.id);
          await markPhoneVerified(tx, customerId, pending.phone);
        }
        return { judged, attemptsLeft: MAX_OTP_ATTEMPTS - (pending?.attempts ?? 0) - 1 };
      });
      if (outcome.judged !== "verified")
        throw confirmationRefusal(outcome.judged, outcome.attemptsLeft);
      return c.json({ phoneVerified: true as const }, 200);
    },
  );
}

function confirmationRefusal(judged: Exclude<Confirmation, "verified">, attemptsLeft: number) {
  if (judged === "invalid") {
    return new HttpProblem(
      422,
      "otp-invalid",
      "Wrong code",
      attemptsLeft > 0
        ? `that is not the code we sent; ${attemptsLeft} tries left`
        : "that is not the code we sent; no tries left, ask for a new code",
    );
  }
  if (judged === "attempts-exceeded") {
    return new HttpProblem(
      429,
      "otp-attempts-exceeded",
      "Too many wrong codes",
      "this code is spent; ask for a new one",
    );
  }
  return new HttpProblem(
    410,
    "otp-expired",
    "Code expired",
    "the code expired or was already used; ask for a new one",
  );
}

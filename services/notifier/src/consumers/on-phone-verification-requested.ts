import { type ConsumerSpec, isTerminal, type Logger, type Sql } from "@codflow/shared";
import { recordSms, smsOutcome } from "../db/sms.ts";
import { hasExpired, renderVerificationSms } from "../domain/sms.ts";
import type { NotifierMetrics } from "../metrics.ts";
import type { SmsGateway } from "../sms-gateway.ts";

/**
 * Texts the one-time code to the phone being verified, once per event. A gateway failure is
 * retried with the consumer's back-off (NAK) and dead-lettered after the last delivery (recorded
 * `failed`: the customer asks for a new code); a code that expired before it could be sent is
 * recorded `expired` and never sent. Emits nothing and has nothing to undo. Logs carry the
 * verification id only, never the phone or the code.
 *
 * The `sent` record is written through `sql`, outside the message's transaction, the moment
 * the gateway took the SMS: if that transaction (or the batch it is in) rolls back, the
 * redelivery finds the record and does not text the customer again.
 */
export function onPhoneVerificationRequested({
  sql,
  gateway,
  metrics,
  logger,
  now = () => new Date(),
}: {
  sql: Sql;
  gateway: SmsGateway;
  metrics: NotifierMetrics;
  logger: Logger;
  now?: () => Date;
}): ConsumerSpec<"checkout.phone_verification_requested"> {
  const log = logger.child({ consumer: "notifier.phone-verification-sms" });
  return {
    name: "notifier.phone-verification-sms",
    type: "checkout.phone_verification_requested",
    async handle(event, tx) {
      const { verificationId, expiresAt } = event.data;
      if (await smsOutcome(tx.sql, event.id)) return;
      if (hasExpired(expiresAt, now())) {
        await recordSms(tx.sql, { eventId: event.id, verificationId, status: "expired" });
        tx.afterCommit(() => {
          metrics.sms.inc({ result: "expired" });
          log.warn({ verificationId }, "verification code expired before it could be sent");
        });
        return;
      }
      try {
        await gateway.send(renderVerificationSms(event.data, now()));
      } catch (err) {
        if (!isTerminal(err)) metrics.sms.inc({ result: "retry" });
        throw err;
      }
      await recordSms(sql, { eventId: event.id, verificationId, status: "sent" });
      metrics.sms.inc({ result: "sent" });
      log.info({ verificationId }, "verification code sent");
    },
    async onDeadLetter(event, tx) {
      const { verificationId } = event.data;
      await recordSms(tx.sql, { eventId: event.id, verificationId, status: "failed" });
      tx.afterCommit(() => metrics.sms.inc({ result: "failed" }));
    },
  };
}

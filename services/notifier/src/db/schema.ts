import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { NOTIFICATION_STATUSES } from "../domain/notification-status.ts";
import { SMS_STATUSES } from "../domain/sms-status.ts";

export { inbox, outbox } from "@codflow/shared";

const statusList = NOTIFICATION_STATUSES.map((s) => `'${s}'`).join(", ");
const smsStatusList = SMS_STATUSES.map((s) => `'${s}'`).join(", ");

/**
 * One email per (event, template) and per (checkout, template) — a checkout's outcome re-emitted
 * under a new event id still sends one email; `checkout_id` is null for emails about no
 * checkout, which only the event key then guards. Rendered when the event arrives, sent by the
 * mailer:
 * `pending` until sent, retried with back-off, `failed` after the last attempt, `skipped` when
 * there is no address. `locked_until` is the sending lease of a mailer replica.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey(),
    eventId: uuid("event_id").notNull(),
    checkoutId: uuid("checkout_id"),
    template: text("template").notNull(),
    recipient: text("recipient"),
    subject: text("subject").notNull(),
    bodyText: text("body_text").notNull(),
    status: text("status", { enum: NOTIFICATION_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastError: text("last_error"),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("notifications_event_template_unique").on(t.eventId, t.template),
    unique("notifications_checkout_template_unique").on(t.checkoutId, t.template),
    check("notifications_status_check", sql.raw(`status in (${statusList})`)),
    check(
      "notifications_recipient_check",
      sql`${t.status} = 'skipped' or ${t.recipient} is not null`,
    ),
    index("notifications_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  ],
);

/**
 * One row per verification SMS event, so a redelivered or re-sent event never texts the
 * customer twice. It holds neither the phone number nor the code nor the text: the code lives
 * only in the event, and is useless once it expires.
 */
export const smsMessages = pgTable(
  "sms_messages",
  {
    eventId: uuid("event_id").primaryKey(),
    verificationId: uuid("verification_id").notNull(),
    status: text("status", { enum: SMS_STATUSES }).notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true }).notNull().defaultNow(),
  },
  () => [check("sms_messages_status_check", sql.raw(`status in (${smsStatusList})`))],
);

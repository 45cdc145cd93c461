import type { Sql, TxSql } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import type { NotificationStatus } from "../domain/notification-status.ts";
import type { RenderedEmail, TemplateName } from "../domain/templates.ts";

/** The channel the mailer LISTENs on; queuing an email NOTIFYs it when the transaction commits. */
export const NOTIFICATIONS_CHANNEL = "codflow_notifications";

/**
 * Queues one email for (event, template), at most once whatever the broker redelivers, and at
 * most once per (checkout, template) even when an outcome is re-emitted under a new event id:
 * `on conflict do nothing` without a target lets either unique constraint make it a no-op. An
 * email with no address is recorded as `skipped`. Returns the new row's status, or undefined
 * when the email was already queued.
 */
export async function queueNotification(
  tx: TxSql,
  {
    eventId,
    checkoutId,
    template,
    recipient,
    email,
  }: {
    eventId: string;
    /** The checkout the email is about; null for emails about none. */
    checkoutId: string | null;
    template: TemplateName;
    recipient: string | null;
    email: RenderedEmail;
  },
) {
  const status: NotificationStatus = recipient ? "pending" : "skipped";
  const [row] = await tx<{ status: NotificationStatus }[]>`
    with queued as (
      insert into notifications (id, event_id, checkout_id, template, recipient, subject,
                                 body_text, status, last_error)
      values (${uuidv7()}, ${eventId}, ${checkoutId}, ${template}, ${recipient}, ${email.subject},
              ${email.text}, ${status}, ${recipient ? null : "no email address"})
      on conflict do nothing
      returning status
    )
    select status, pg_notify(${NOTIFICATIONS_CHANNEL}, '') from queued`;
  return row?.status;
}

export interface ClaimedNotification {
  id: string;
  template: TemplateName;
  recipient: string;
  subject: string;
  bodyText: string;
  attempts: number;
}

/**
 * Claims up to `batchSize` due emails in one statement: the oldest due first, rows another
 * mailer holds are skipped (SKIP LOCKED), and each claimed row gets a lease and one more
 * attempt. A mailer that dies mid-send loses its lease after `leaseSeconds` and another sends.
 */
export function claimDueNotifications(
  sql: Sql,
  { batchSize, leaseSeconds }: { batchSize: number; leaseSeconds: number },
) {
  return sql<ClaimedNotification[]>`
    with due as (
      select id from notifications
      where status = 'pending' and next_attempt_at <= now()
        and (locked_until is null or locked_until < now())
      order by next_attempt_at
      limit ${batchSize}
      for update skip locked
    )
    update notifications n
    set locked_until = now() + make_interval(secs => ${leaseSeconds}), attempts = n.attempts + 1
    from due where n.id = due.id
    returning n.id, n.template, n.recipient, n.subject, n.body_text as "bodyText", n.attempts`;
}

export async function markSent(sql: Sql, ids: string[]) {
  if (ids.length === 0) return;
  await sql`
    update notifications set status = 'sent', sent_at = now(), locked_until = null, last_error = null
    where id = any(${ids}::uuid[])`;
}

/** Records failed attempts in one statement: each row back to `pending` after its delay, or `failed`. */
export async function markFailedAttempts(
  sql: Sql,
  failures: { id: string; status: "pending" | "failed"; retryInMs: number; error: string }[],
) {
  if (failures.length === 0) return;
  await sql`
    update notifications n
    set status = f.status,
        next_attempt_at = now() + f.retry_in_ms * interval '1 millisecond',
        locked_until = null,
        last_error = f.error
    from unnest(
      ${failures.map((f) => f.id)}::uuid[],
      ${failures.map((f) => f.status)}::text[],
      ${failures.map((f) => f.retryInMs)}::bigint[],
      ${failures.map((f) => f.error)}::text[]
    ) as f(id, status, retry_in_ms, error)
    where n.id = f.id`;
}

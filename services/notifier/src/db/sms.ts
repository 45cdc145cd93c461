import type { Sql, TxSql } from "@codflow/shared";
import type { SmsStatus } from "../domain/sms-status.ts";

/** What became of the SMS of `eventId`, or undefined when nothing was recorded yet. */
export async function smsOutcome(sql: Sql | TxSql, eventId: string) {
  const [row] = await sql<{ status: SmsStatus }[]>`
    select status from sms_messages where event_id = ${eventId}`;
  return row?.status;
}

/** Records what became of the SMS of `eventId`; the first record stands. */
export async function recordSms(
  sql: Sql | TxSql,
  {
    eventId,
    verificationId,
    status,
  }: { eventId: string; verificationId: string; status: SmsStatus },
) {
  await sql`
    insert into sms_messages (event_id, verification_id, status)
    values (${eventId}, ${verificationId}, ${status})
    on conflict (event_id) do nothing`;
}

import type { MessageTx } from "@codflow/shared";
import { lockCodProfile, recordCodIncident, switchCod } from "../db/cod-customers.ts";
import { type AutoDisableRules, decideAutoDisable } from "../domain/auto-disable.ts";

export interface CodIncidentDeps {
  rules: AutoDisableRules;
}

/**
 * Records a failed or returned COD delivery (once per order) under the customer's profile lock,
 * and disables COD for the customer when the incidents counted reach the threshold: the reason
 * is recorded and audited with actor `system`.
 */
export async function recordIncidentAndJudge(
  tx: MessageTx,
  { rules }: CodIncidentDeps,
  incident: {
    orderId: string;
    orderNumber: string;
    customerId: string;
    kind: "delivery_failed" | "returned";
    at: string;
    eventId: string;
  },
) {
  const profile = await lockCodProfile(tx.sql, incident.customerId);
  const incidentTimes = await recordCodIncident(tx.sql, incident);
  const decision = decideAutoDisable(
    {
      codDisabled: profile.codDisabled,
      incidentTimes,
      countedSince: profile.incidentsCountedSince ? new Date(profile.incidentsCountedSince) : null,
      now: new Date(),
    },
    rules,
  );
  if (!decision.disable) return;
  await switchCod(tx.sql, {
    customerId: incident.customerId,
    from: false,
    to: true,
    reason: decision.reason,
    actor: "system",
    actorRole: "system",
    data: {
      incidents: decision.incidents,
      lastOrderId: incident.orderId,
      lastOrderNumber: incident.orderNumber,
      lastEventId: incident.eventId,
    },
  });
}

import { auth, inTransaction, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import { loadCodProfileView, lockCodProfile, switchCod } from "../db/cod-customers.ts";

const auditRowSchema = z.object({
  actor: z.string().openapi({ description: "The admin's user id, or `system`" }),
  role: z.string(),
  at: z.iso.datetime(),
  from: z.object({ codDisabled: z.boolean() }),
  to: z.object({ codDisabled: z.boolean() }),
  reason: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
});

const codProfileSchema = z
  .object({
    customerId: z.string(),
    codDisabled: z.boolean(),
    disabledReason: z.string().nullable(),
    disabledAt: z.iso.datetime().nullable(),
    disabledBy: z.string().nullable(),
    phoneVerified: z.boolean(),
    phoneVerifiedAt: z.iso.datetime().nullable(),
    incidentsCountedSince: z.iso.datetime().nullable().openapi({
      description: "When an admin last lifted a disable: earlier failed deliveries no longer count",
    }),
    activeOrders: z.number().int(),
    audit: z.array(auditRowSchema),
  })
  .openapi("CodProfile");

const myCodSchema = z
  .object({
    phoneVerified: z.boolean(),
    phoneVerifiedAt: z.iso.datetime().nullable(),
    codDisabled: z.boolean(),
    disabledReason: z.string().nullable(),
    activeOrders: z.number().int(),
    maxActiveOrders: z.number().int(),
  })
  .openapi("MyCod");

const codSwitchSchema = z
  .object({
    disabled: z.boolean(),
    reason: z.string().trim().min(1, "say why").max(500),
  })
  .openapi("CodSwitch");

const userParams = z.object({
  userId: z
    .string()
    .min(1)
    .max(255)
    .openapi({ param: { name: "userId", in: "path" }, example: "customer-42" }),
});

export function registerCodProfileRoutes(app: ServiceApp, deps: AppDeps) {
  const adminOnly = auth({ verify: deps.verifyToken, roles: ["admin"] });
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });
  const admin = { tags: ["customers"], security: [{ bearer: [] }], middleware: adminOnly };
  const problems = {
    401: problemContent("No or invalid bearer token"),
    403: problemContent("Not an admin"),
  } as const;

  app.openapi(
    createRoute({
      tags: ["phone verification"],
      security: [{ bearer: [] }],
      middleware: customerOnly,
      method: "get",
      path: "/v1/me/cod",
      summary: "My cash-on-delivery standing: phone verified, COD enabled, open COD orders",
      responses: {
        200: {
          description: "The customer's COD standing",
          content: { "application/json": { schema: myCodSchema } },
        },
        401: problemContent("No or invalid bearer token"),
        403: problemContent("Not a customer"),
      },
    }),
    async (c) => {
      const view = await loadCodProfileView(deps.sql, c.get("user").id);
      return c.json(
        {
          phoneVerified: view.phoneVerified,
          phoneVerifiedAt: view.phoneVerifiedAt,
          codDisabled: view.codDisabled,
          disabledReason: view.disabledReason,
          activeOrders: view.activeOrders,
          maxActiveOrders: deps.config.COD_MAX_ACTIVE_ORDERS,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...admin,
      method: "put",
      path: "/v1/admin/customers/{userId}/cod",
      summary: "Disable or enable cash on delivery for a customer, with a reason (audited)",
      description: "Enabling lifts a disable: failed deliveries before it stop counting.",
      request: {
        params: userParams,
        body: { required: true, content: { "application/json": { schema: codSwitchSchema } } },
      },
      responses: {
        200: {
          description: "The customer's COD profile after the change",
          content: { "application/json": { schema: codProfileSchema } },
        },
        400: problemContent("Invalid body (disabled and a non-empty reason are required)"),
        ...problems,
      },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { disabled, reason } = c.req.valid("json");
      const user = c.get("user");
      const view = await inTransaction(deps.sql, "checkout.cod-switch", async (tx) => {
        const profile = await lockCodProfile(tx, userId);
        await switchCod(tx, {
          customerId: userId,
          from: profile.codDisabled,
          to: disabled,
          reason,
          actor: user.id,
          actorRole: user.role,
        });
        return loadCodProfileView(tx, userId);
      });
      return c.json(view, 200);
    },
  );

  app.openapi(
    createRoute({
      ...admin,
      method: "get",
      path: "/v1/admin/customers/{userId}/cod",
      summary: "A customer's COD profile with its audit trail",
      request: { params: userParams },
      responses: {
        200: {
          description: "The profile (a customer never seen has the defaults and no audit rows)",
          content: { "application/json": { schema: codProfileSchema } },
        },
        ...problems,
      },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      return c.json(await loadCodProfileView(deps.sql, userId), 200);
    },
  );
}

CREATE TABLE "cod_active_orders" (
	"checkout_id" uuid PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cod_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"actor" text NOT NULL,
	"actor_role" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"from_disabled" boolean NOT NULL,
	"to_disabled" boolean NOT NULL,
	"reason" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "cod_customers" (
	"customer_id" text PRIMARY KEY NOT NULL,
	"verified_phone" text,
	"phone_verified_at" timestamp with time zone,
	"cod_disabled" boolean DEFAULT false NOT NULL,
	"disabled_reason" text,
	"disabled_at" timestamp with time zone,
	"disabled_by" text,
	"incidents_counted_since" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cod_incidents" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cod_incidents_kind_known" CHECK ("cod_incidents"."kind" in ('delivery_failed', 'returned'))
);
--> statement-breakpoint
CREATE TABLE "phone_verifications" (
	"id" uuid PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"phone" text NOT NULL,
	"code_salt" text NOT NULL,
	"code_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"verified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limit_hits" (
	"key" text PRIMARY KEY NOT NULL,
	"hits" integer NOT NULL,
	"reset_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "cod_active_orders_customer_idx" ON "cod_active_orders" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "cod_audit_customer_idx" ON "cod_audit" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "cod_incidents_customer_occurred_idx" ON "cod_incidents" USING btree ("customer_id","occurred_at");--> statement-breakpoint
CREATE INDEX "phone_verifications_customer_created_idx" ON "phone_verifications" USING btree ("customer_id","created_at");--> statement-breakpoint
CREATE INDEX "checkouts_customer_status_idx" ON "checkouts" USING btree ("customer_id","status");
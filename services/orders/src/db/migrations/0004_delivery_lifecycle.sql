CREATE TABLE "checkout_contacts" (
	"checkout_id" uuid PRIMARY KEY NOT NULL,
	"customer_email" text,
	"phone" text NOT NULL,
	"shipping_address" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"courier" text NOT NULL,
	"awb" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_failure_reason" text,
	"cash_collected_minor" bigint,
	"cash_mismatch" boolean,
	"delivered_by" text,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "deliveries_courier_awb_unique" UNIQUE("courier","awb"),
	CONSTRAINT "deliveries_attempts_check" CHECK ("deliveries"."attempts" >= 0),
	CONSTRAINT "deliveries_cash_collected_minor_check" CHECK ("deliveries"."cash_collected_minor" >= 0)
);
--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "customer_email" text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "orders_status_created_idx" ON "orders" USING btree ("status","created_at","id");
CREATE TABLE "voided_checkouts" (
	"checkout_id" uuid PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"voided_at" timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE "sms_messages" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"verification_id" uuid NOT NULL,
	"status" text NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sms_messages_status_check" CHECK (status in ('sent', 'expired', 'failed'))
);

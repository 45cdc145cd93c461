ALTER TABLE "checkouts" ALTER COLUMN "failure_detail" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "failure_lines" jsonb;--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "last_progress_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "redrives" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "checkouts_processing_by_last_progress_idx" ON "checkouts" USING btree ("last_progress_at") WHERE "checkouts"."status" = 'processing';
ALTER TABLE "notifications" ADD COLUMN "checkout_id" uuid;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_checkout_template_unique" UNIQUE("checkout_id","template");
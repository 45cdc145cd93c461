ALTER TYPE "public"."reservation_status" ADD VALUE 'void';--> statement-breakpoint
ALTER TYPE "public"."reservation_status" ADD VALUE 'cancelled';
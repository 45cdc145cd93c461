-- Custom SQL migration file, put your code below! --
-- failure_detail was jsonb (inventory's rejected lines, or orders' message as a JSON string) and is
-- now the sentence a customer reads; the rejected lines move to failure_lines.
UPDATE "checkouts"
SET "failure_lines" = "failure_detail"::jsonb,
    "failure_detail" = 'We could not reserve your items.'
WHERE "failure_detail" LIKE '[%';--> statement-breakpoint
UPDATE "checkouts"
SET "failure_detail" = 'We could not create your order: ' || ("failure_detail"::jsonb #>> '{}')
WHERE "failure_reason" = 'order_failed' AND "failure_detail" LIKE '"%';--> statement-breakpoint
UPDATE "checkouts"
SET "failure_detail" = "failure_detail"::jsonb #>> '{}'
WHERE "failure_detail" LIKE '"%';

-- A reservation's status only moves along RESERVATION_TRANSITIONS (src/domain/reservation-status.ts):
-- active -> committed | released | expired, committed -> cancelled; void and the rest are final.
-- The conditional UPDATEs already decide races; this refuses any other path (a bug, an operator).
CREATE FUNCTION "reservations_refuse_illegal_transition"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.status::text, NEW.status::text) IN (
    ('active', 'committed'), ('active', 'released'), ('active', 'expired'),
    ('committed', 'cancelled')
  ) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'reservation % cannot move from % to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "reservations_status_transition"
  BEFORE UPDATE OF "status" ON "reservations"
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION "reservations_refuse_illegal_transition"();

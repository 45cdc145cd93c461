-- Custom SQL migration file, put your code below! --
-- committed -> returned joins RESERVATION_TRANSITIONS (src/domain/reservation-status.ts): a parcel
-- that came back frees its committed stock (inventory.restock-return). Everything else as before.
CREATE OR REPLACE FUNCTION "reservations_refuse_illegal_transition"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.status::text, NEW.status::text) IN (
    ('active', 'committed'), ('active', 'released'), ('active', 'expired'),
    ('committed', 'cancelled'), ('committed', 'returned')
  ) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'reservation % cannot move from % to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'restrict_violation';
END;
$$;

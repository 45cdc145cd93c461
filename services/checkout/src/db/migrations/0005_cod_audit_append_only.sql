-- cod_audit is the record of who switched a customer's COD on or off and why: rows are appended,
-- never changed or removed, whoever asks (the service's own role included).
CREATE FUNCTION cod_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'cod_audit is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER cod_audit_append_only
  BEFORE UPDATE OR DELETE ON cod_audit
  FOR EACH ROW EXECUTE FUNCTION cod_audit_refuse_change();
--> statement-breakpoint
CREATE TRIGGER cod_audit_no_truncate
  BEFORE TRUNCATE ON cod_audit
  FOR EACH STATEMENT EXECUTE FUNCTION cod_audit_refuse_change();

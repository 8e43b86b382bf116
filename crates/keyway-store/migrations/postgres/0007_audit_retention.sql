-- Audit retention and repeated refusals.
-- A refusal repeated by the same certificate counts up on one row (count, last_at),
-- found by its repeat_key; entries older than the horizon `keyway audit-log prune` sets
-- (in the same, audited transaction) may be removed. Nothing else changes or goes.
ALTER TABLE audit_log ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN last_at BIGINT;
ALTER TABLE audit_log ADD COLUMN repeat_key TEXT;
CREATE INDEX audit_log_repeat ON audit_log (repeat_key, at) WHERE repeat_key IS NOT NULL;

CREATE TABLE audit_horizon (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    before BIGINT NOT NULL
);
INSERT INTO audit_horizon (id, before) VALUES (1, 0);

DROP TRIGGER audit_log_no_change ON audit_log;
DROP FUNCTION audit_log_append_only();
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at >= (SELECT before FROM audit_horizon WHERE id = 1) THEN
            RAISE EXCEPTION 'the audit log is append-only: only entries older than its retention horizon may be removed';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.at IS DISTINCT FROM OLD.at
       OR NEW.actor IS DISTINCT FROM OLD.actor OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.object IS DISTINCT FROM OLD.object OR NEW.origin IS DISTINCT FROM OLD.origin
       OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.detail IS DISTINCT FROM OLD.detail
       OR NEW.repeat_key IS DISTINCT FROM OLD.repeat_key OR NEW.count < OLD.count THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE FUNCTION audit_horizon_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.before < OLD.before THEN
        RAISE EXCEPTION 'the audit retention horizon only moves forward';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_horizon_forward BEFORE UPDATE ON audit_horizon
FOR EACH ROW EXECUTE FUNCTION audit_horizon_forward();

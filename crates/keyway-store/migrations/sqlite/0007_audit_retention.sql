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

DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
  OR NEW.action IS NOT OLD.action OR NEW.object IS NOT OLD.object
  OR NEW.origin IS NOT OLD.origin OR NEW.outcome IS NOT OLD.outcome
  OR NEW.detail IS NOT OLD.detail OR NEW.repeat_key IS NOT OLD.repeat_key
  OR NEW.count < OLD.count
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= (SELECT before FROM audit_horizon WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only entries older than its retention horizon may be removed'); END;
CREATE TRIGGER audit_horizon_forward BEFORE UPDATE ON audit_horizon
WHEN NEW.before < OLD.before
BEGIN SELECT RAISE(ABORT, 'the audit retention horizon only moves forward'); END;

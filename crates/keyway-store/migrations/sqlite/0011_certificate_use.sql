-- keyway schema 11 (SQLite): when each client certificate was last presented at the gateway
-- and by which node, written in batches by the gateways (not a change: no version bump,
-- no audit entry). During a rotation it shows which partners still use the old one.
ALTER TABLE client_certificates ADD COLUMN last_used_at BIGINT;
ALTER TABLE client_certificates ADD COLUMN last_used_node TEXT;

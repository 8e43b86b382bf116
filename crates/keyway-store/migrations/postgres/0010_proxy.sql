-- keyway schema 10 (PostgreSQL): a profile's outbound proxy is part of its definition (JSON);
-- the proxy user's password is kept apart, sealed with the master key like connector
-- passwords, so that no definition shown by the API or the console holds it.
ALTER TABLE profiles ADD COLUMN proxy_password TEXT;

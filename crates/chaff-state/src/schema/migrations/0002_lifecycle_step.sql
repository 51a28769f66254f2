-- Migration 2: per-decky progress and per-decky history.
--
-- `step` is what an open operation is doing now ("pulling image", "starting ssh"), so the UI
-- can show progress; NULL until the runner reports one (and for rows written before this
-- migration). The index serves "the operations of one decky, oldest first".

ALTER TABLE lifecycle ADD COLUMN step TEXT CHECK (step IS NULL OR length(step) <= 2000);

CREATE INDEX lifecycle_by_decky ON lifecycle (fleet, decky, started_at);

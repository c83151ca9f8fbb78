-- +goose Up
-- Finished webhook deliveries are pruned after webhooks.retention; these
-- indexes keep that (and the replay check) from scanning the outbox.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at) WHERE status <> 'pending';
CREATE INDEX webhook_deliveries_replay_of_idx ON webhook_deliveries (replay_of) WHERE replay_of IS NOT NULL;

-- +goose Down
DROP INDEX webhook_deliveries_finished_idx, webhook_deliveries_replay_of_idx;

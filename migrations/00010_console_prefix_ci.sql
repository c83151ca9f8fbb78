-- +goose Up
-- Short (1–2 character) console searches match id prefixes without regard
-- to case, like the longer substring searches do.
CREATE INDEX supplier_mappings_suid_lower_prefix ON supplier_mappings (lower(supplier_user_id) text_pattern_ops);
CREATE INDEX supplier_mappings_nox_lower_prefix ON supplier_mappings (lower(nox_user_id) text_pattern_ops);
CREATE INDEX devices_external_lower_prefix ON devices (lower(external_id) text_pattern_ops);
DROP INDEX supplier_mappings_suid_prefix, supplier_mappings_nox_prefix;

-- +goose Down
CREATE INDEX supplier_mappings_suid_prefix ON supplier_mappings (supplier_user_id text_pattern_ops);
CREATE INDEX supplier_mappings_nox_prefix ON supplier_mappings (nox_user_id text_pattern_ops);
DROP INDEX supplier_mappings_suid_lower_prefix, supplier_mappings_nox_lower_prefix, devices_external_lower_prefix;

DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS password_resets;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS refresh_families;
DROP TABLE IF EXISTS users;

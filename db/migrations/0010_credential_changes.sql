-- Credential changes (issue #15, ADR 0028): each web process keeps who an API token belongs
-- to in memory for a few seconds, so a tRPC call costs no lookup. A change that must end that
-- at once (a token revoked, expired early or deleted; a user's name, role or audit subject
-- changed, or the user deleted) sends NOTIFY on `caw_credentials` with the row's id (never a
-- value), and every web process forgets what it held for it. Not on last_used_at, which is
-- written once a minute per token and changes nothing a check reads.
CREATE FUNCTION "notify_credential_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('caw_credentials', json_build_object('kind', TG_ARGV[0], 'id', OLD."id")::text);
	RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "api_tokens_notify_credentials" AFTER UPDATE OF "revoked_at", "expires_at", "token_hash", "user_id" OR DELETE ON "api_tokens"
	FOR EACH ROW EXECUTE FUNCTION "notify_credential_change"('token');--> statement-breakpoint
CREATE TRIGGER "users_notify_credentials" AFTER UPDATE OF "login", "name", "email", "avatar_url", "role", "audit_subject" OR DELETE ON "users"
	FOR EACH ROW EXECUTE FUNCTION "notify_credential_change"('user');

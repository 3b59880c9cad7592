import { sql, type Kysely } from 'kysely'

/**
 * Messages numbered per session, in commit order.
 *
 * `messages.seq` was a global identity: numbers follow nextval() order, not commit order, so a
 * reader paging a session by seq skipped a message whose transaction committed after a
 * higher-numbered one had been read. Now each session counts its messages in
 * `sessions.last_seq`, and a message takes the next number under the session row's lock, held
 * until its transaction ends: within a session, a message becomes visible only after every
 * lower-numbered one, so a keyset cursor never passes a message that commits later.
 *
 * - `messages.seq` is `bigint NOT NULL DEFAULT 0`; 0 means "the next number of its session",
 *   assigned by the BEFORE INSERT trigger `messages_assign_seq`. Bulk inserts
 *   (`messages.createMany`) bump `last_seq` once per session and insert explicit numbers.
 * - The counter's UPDATE of the session row fires `sessions_touch_updated_at`: writing a
 *   message marks its session active (`updated_at`), which `sessions.list` orders by.
 * - Unique `(session_id, seq)` replaces the global `messages_seq_key` and the plain
 *   `messages_session_order_idx` it made redundant.
 * - Existing messages keep their numbers (increasing within each session, with gaps): cursors
 *   handed out before the migration stay valid; `last_seq` starts at each session's max(seq).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE sessions ADD COLUMN last_seq bigint NOT NULL DEFAULT 0`.execute(db)
  // The backfill is not activity: keep updated_at (and so the sessions' order) as it was.
  await sql`ALTER TABLE sessions DISABLE TRIGGER sessions_touch_updated_at`.execute(db)
  await sql`
    UPDATE sessions s SET last_seq = m.last_seq
    FROM (SELECT session_id, max(seq) AS last_seq FROM messages GROUP BY session_id) m
    WHERE s.id = m.session_id
  `.execute(db)
  await sql`ALTER TABLE sessions ENABLE TRIGGER sessions_touch_updated_at`.execute(db)

  await sql`ALTER TABLE messages ALTER COLUMN seq DROP IDENTITY`.execute(db)
  await sql`ALTER TABLE messages ALTER COLUMN seq SET DEFAULT 0`.execute(db)
  await sql`ALTER TABLE messages DROP CONSTRAINT messages_seq_key`.execute(db)
  await sql`DROP INDEX messages_session_order_idx`.execute(db)
  await sql`ALTER TABLE messages ADD CONSTRAINT messages_session_seq_key UNIQUE (session_id, seq)`.execute(db)
  // 0 is never stored: the trigger replaces it or fails.
  await sql`ALTER TABLE messages ADD CONSTRAINT messages_seq_check CHECK (seq > 0)`.execute(db)

  // SET search_path FROM CURRENT: `sessions` is the table of the schema this migration runs in
  // (a tenant's schema under schema-per-tenant), whatever the search_path of the writer.
  // No session row: the same error (23503, constraint and table named) as the foreign key's.
  await sql`
    CREATE FUNCTION automagik_assign_message_seq() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
    AS $$
    BEGIN
      UPDATE sessions SET last_seq = last_seq + 1 WHERE id = NEW.session_id RETURNING last_seq INTO NEW.seq;
      IF NOT FOUND THEN
        RAISE foreign_key_violation USING
          MESSAGE = 'insert or update on table "messages" violates foreign key constraint "messages_session_id_fkey"',
          DETAIL = format('Key (session_id)=(%s) is not present in table "sessions".', NEW.session_id),
          CONSTRAINT = 'messages_session_id_fkey',
          TABLE = TG_TABLE_NAME,
          SCHEMA = TG_TABLE_SCHEMA;
      END IF;
      RETURN NEW;
    END
    $$
  `.execute(db)
  await sql`
    CREATE TRIGGER messages_assign_seq
    BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.seq = 0) EXECUTE FUNCTION automagik_assign_message_seq()
  `.execute(db)
}

/**
 * Back to one global identity. Per-session numbers repeat across sessions, so every message is
 * renumbered 1..N in (seq, session_id) order: each session's messages keep their order.
 */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER messages_assign_seq ON messages`.execute(db)
  await sql`DROP FUNCTION automagik_assign_message_seq()`.execute(db)
  await sql`ALTER TABLE messages DROP CONSTRAINT messages_seq_check`.execute(db)
  await sql`ALTER TABLE messages DROP CONSTRAINT messages_session_seq_key`.execute(db)
  await sql`ALTER TABLE messages DISABLE TRIGGER messages_touch_updated_at`.execute(db)
  await sql`
    UPDATE messages m SET seq = r.n
    FROM (SELECT id, row_number() OVER (ORDER BY seq, session_id) AS n FROM messages) r
    WHERE m.id = r.id AND m.seq IS DISTINCT FROM r.n
  `.execute(db)
  await sql`ALTER TABLE messages ENABLE TRIGGER messages_touch_updated_at`.execute(db)
  await sql`ALTER TABLE messages ALTER COLUMN seq DROP DEFAULT`.execute(db)
  await sql`ALTER TABLE messages ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY`.execute(db)
  await sql`
    SELECT setval(pg_get_serial_sequence('messages', 'seq'), coalesce(max(seq), 0) + 1, false) FROM messages
  `.execute(db)
  await sql`ALTER TABLE messages ADD CONSTRAINT messages_seq_key UNIQUE (seq)`.execute(db)
  await sql`CREATE INDEX messages_session_order_idx ON messages (session_id, seq)`.execute(db)
  await sql`ALTER TABLE sessions DROP COLUMN last_seq`.execute(db)
}

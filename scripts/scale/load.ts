/**
 * The data set, loaded with set-based SQL (INSERT … SELECT over generate_series, no row through
 * the client): agents, users, sessions (ids `md5('scale-session-' || i)::uuid`, i = 1..S),
 * memories, and the messages, `seq` 1..n per session given explicitly with `sessions.last_seq`
 * set to n (the per-row numbering trigger does not fire) and `token_count` given (the estimate
 * trigger does not fire). Session i starts at a point of the first 150 of the last 180 days and
 * lasts 1–30 days; its messages are evenly spread over that span, so created_at grows with seq.
 * Messages go in by turn (all sessions' turn 1, then turn 2, …): a session's messages lie on
 * different pages, as in a table that many sessions write to at once.
 */
import pg from 'pg'
import { createHash } from 'node:crypto'
import { MESSAGE_TEXT_SQL, POOL_TABLE, fillPool, poolSize } from './text-pool.js'
import type { ScaleOptions } from './options.js'

export type Log = (line: string) => void

export interface LoadReport {
  messages: number
  sessions: number
  users: number
  agents: number
  memories: number
  meanChars: number
  /** Seconds: setup (agents … memories, text pool), messages, each index rebuilt, VACUUM ANALYZE. */
  setupSec: number
  messagesSec: number
  indexSec: { name: string; sec: number }[]
  vacuumSec: number
  indexesDuringLoad: string[]
  parallel: number
  fk: 'on' | 'off'
}

/** The id of session i (1-based). */
export function sessionId(i: number): string {
  const h = createHash('md5').update(`scale-session-${i}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

const pgClient = pg.Client
const secondsSince = (t0: number) => (performance.now() - t0) / 1000

export async function load(client: pg.Client, url: string, o: ScaleOptions, log: Log): Promise<LoadReport> {
  const { messages: M, sessions: S, users: U, agents: A } = o
  const base = Math.floor(M / S)
  const rem = M % S
  await client.query(`SET work_mem = '256MB'`)
  await client.query(`SET maintenance_work_mem = '1GB'`)
  const t0 = performance.now()
  await client.query(`
    INSERT INTO agents (id, name, type, model, description, system_prompt, config)
    SELECT g, 'agent-' || g, 'assistant', 'gpt-4o', 'scale agent ' || g, 'You are agent ' || g || '.', '{"temperature":0.2}'
    FROM generate_series(1, ${A}) g`)
  await client.query(`SELECT setval(pg_get_serial_sequence('agents', 'id'), ${A})`)
  await client.query(`
    INSERT INTO users (id, email, user_data)
    SELECT g, 'user' || g || '@example.com', jsonb_build_object('name', 'User ' || g) FROM generate_series(1, ${U}) g`)
  await client.query(`SELECT setval(pg_get_serial_sequence('users', 'id'), ${U})`)
  // The plan of each session: its messages, first message time and span (see the file comment).
  await client.query(`DROP TABLE IF EXISTS scale_plan`)
  await client.query(`
    CREATE TABLE scale_plan AS
    SELECT i, md5('scale-session-' || i)::uuid AS id, (i - 1) % ${U} + 1 AS user_id, (i - 1) % ${A} + 1 AS agent_id,
           ${base} + CASE WHEN i <= ${rem} THEN 1 ELSE 0 END AS n,
           date_trunc('day', now()) - interval '180 days' + ((i * 0.6180339887) % 1) * interval '150 days' AS start,
           (1 + (i * 7) % 30) * interval '1 day' AS span
    FROM generate_series(1, ${S}) i`)
  await client.query(`ALTER TABLE scale_plan ADD PRIMARY KEY (i)`)
  await client.query(`ANALYZE scale_plan`)
  const lastAt = `p.start + p.span + p.n * interval '1 microsecond'`
  await client.query(`
    INSERT INTO sessions (id, user_id, agent_id, name, platform, metadata, last_seq, created_at, updated_at)
    SELECT p.id, p.user_id, p.agent_id, 'session ' || p.i, 'web', '{"channel":"web"}', p.n, p.start, ${lastAt}
    FROM scale_plan p`)
  // Memories: 5 per agent, 2 per (agent, user) pair of a user's first agent, 1 per 10th session.
  await client.query(`
    INSERT INTO memories (name, description, content, agent_id, user_id, session_id, read_mode, access)
    SELECT 'agent-fact-' || k, 'agent fact', 'Agent ' || a || ' fact ' || k || ': answer politely and cite the order number.', a, NULL::integer, NULL::uuid, 'system_prompt', 'read'
    FROM generate_series(1, ${A}) a, generate_series(1, 5) k
    UNION ALL
    SELECT 'user-fact-' || k, 'user preference', 'User ' || u || ' prefers email and short answers (' || k || ').', (u - 1) % ${A} + 1, u, NULL::uuid, 'system_prompt', 'read_write'
    FROM generate_series(1, ${U}) u, generate_series(1, 2) k
    UNION ALL
    SELECT 'session-note', 'session note', 'Open question in session ' || p.i || '.', p.agent_id, p.user_id, p.id, 'system_prompt', 'read_write'
    FROM scale_plan p WHERE p.i % 10 = 0`)
  const memories = Number((await client.query(`SELECT count(*) AS n FROM memories`)).rows[0].n)
  const P = poolSize(M)
  const meanFragment = await fillPool(client, P)
  await client.query(`ANALYZE`)
  const setupSec = secondsSince(t0)
  log(`  setup: ${A} agents, ${U} users, ${S} sessions, ${memories} memories, pool of ${P} fragments (mean ${meanFragment.toFixed(0)} chars) in ${setupSec.toFixed(1)} s`)

  // With `--indexes drop`, every index of messages goes before the load and comes back after it
  // (CREATE INDEX sorts once instead of 10M random inserts into each btree): the plain ones, the
  // primary key and unique constraints, and the foreign keys that reference messages (they need
  // its primary key), each recreated from its own definition.
  const plain = (
    await client.query<{ name: string; def: string }>(`
      SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'messages'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY c.relname`)
  ).rows
  const keys = (
    await client.query<{ name: string; def: string }>(`
      SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'messages'::regclass AND contype IN ('p', 'u') ORDER BY contype, conname`)
  ).rows
  const referencing = (
    await client.query<{ name: string; table: string; def: string }>(`
      SELECT conname AS name, conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE confrelid = 'messages'::regclass AND contype = 'f' ORDER BY conname`)
  ).rows
  const rebuild: { name: string; sql: string }[] = []
  if (o.indexes === 'drop') {
    for (const fk of referencing) await client.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${quote(fk.name)}`)
    for (const key of keys) await client.query(`ALTER TABLE messages DROP CONSTRAINT ${quote(key.name)}`)
    for (const ix of plain) await client.query(`DROP INDEX ${quote(ix.name)}`)
    rebuild.push(...keys.map((k) => ({ name: k.name, sql: `ALTER TABLE messages ADD CONSTRAINT ${quote(k.name)} ${k.def}` })))
    rebuild.push(...plain.map((ix) => ({ name: ix.name, sql: ix.def })))
    rebuild.push(...referencing.map((fk) => ({ name: fk.name, sql: `ALTER TABLE ${fk.table} ADD CONSTRAINT ${quote(fk.name)} ${fk.def}` })))
  }
  const during = (await client.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'messages'::regclass ORDER BY 1`)).rows.map((r) => r.name)
  log(`  indexes during the load: ${during.join(', ') || 'none'}`)

  const perTurn = Math.max(1, Math.floor(o.chunk / S))
  const maxTurn = base + (rem > 0 ? 1 : 0)
  const chunks: [number, number][] = []
  for (let k0 = 1; k0 <= maxTurn; k0 += perTurn) chunks.push([k0, Math.min(maxTurn, k0 + perTurn - 1)])
  const ts = `p.start + p.span * ((k - 1)::float8 / greatest(p.n - 1, 1)) + k * interval '1 microsecond'`
  const insert = (k0: number, k1: number) => `
    INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content, token_count, created_at, updated_at)
    SELECT k, p.id, p.user_id, p.agent_id, CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
           t.body, ceil(char_length(t.body) / 4.0)::integer, ${ts}, ${ts}
    FROM generate_series(${k0}, ${k1}) k
    JOIN scale_plan p ON p.n >= k
    JOIN ${POOL_TABLE} a ON a.id = (p.i::bigint * 7919 + k::bigint * 104729) % ${P}
    JOIN ${POOL_TABLE} b ON b.id = (p.i::bigint * 15485863 + k::bigint * 32452843) % ${P}
    CROSS JOIN LATERAL (SELECT ${MESSAGE_TEXT_SQL} AS body) t`
  const t1 = performance.now()
  let loaded = 0
  let next = 0
  // `parallel` connections take the chunks in turn order (2 on 2 cores: to_tsvector of the
  // generated search_vector column is CPU-bound, one statement uses one core).
  const worker = async () => {
    const c = new pgClient({ connectionString: url })
    await c.connect()
    try {
      await c.query(`SET work_mem = '256MB'`)
      if (o.fk === 'off') await c.query(`SET session_replication_role = replica`)
      while (next < chunks.length) {
        const [k0, k1] = chunks[next++]!
        const r = await c.query(insert(k0, k1))
        loaded += r.rowCount ?? 0
        const sec = secondsSince(t1)
        log(`  messages: ${loaded.toLocaleString('en')} / ${M.toLocaleString('en')} (turns ${k0}–${k1}) · ${sec.toFixed(0)} s · ${Math.round(loaded / sec).toLocaleString('en')} rows/s`)
      }
    } finally {
      await c.end()
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.parallel, chunks.length) }, worker))
  const messagesSec = secondsSince(t1)

  const indexSec: { name: string; sec: number }[] = []
  for (const step of rebuild) {
    const t = performance.now()
    await client.query(step.sql)
    indexSec.push({ name: step.name, sec: secondsSince(t) })
    log(`  ${step.name} rebuilt in ${secondsSince(t).toFixed(1)} s`)
  }
  await client.query(`DROP TABLE scale_plan, ${POOL_TABLE}`)
  const t2 = performance.now()
  await client.query(`VACUUM (ANALYZE) messages`)
  await client.query(`VACUUM (ANALYZE) sessions`)
  await client.query(`ANALYZE`)
  const vacuumSec = secondsSince(t2)
  log(`  VACUUM ANALYZE in ${vacuumSec.toFixed(1)} s`)
  const meanChars = Number((await client.query(`SELECT avg(char_length(text_content)) AS c FROM messages TABLESAMPLE SYSTEM (1)`)).rows[0].c ?? 0)
  return { messages: loaded, sessions: S, users: U, agents: A, memories, meanChars, setupSec, messagesSec, indexSec, vacuumSec, indexesDuringLoad: during, parallel: o.parallel, fk: o.fk }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * The seeded data set, built server-side with generate_series (a million messages in seconds,
 * no round trip per row). Ids are deterministic (`md5('session-' || i)::uuid`), so two PGlite
 * instances seeded with the same SQL hold the same sessions, users and agents.
 */
import { createHash } from 'node:crypto'
import type { ScaleConfig } from './options.js'

export interface SeedInfo {
  agents: number
  users: number
  sessionsPerUser: number
  sessions: number
  hotSessions: number
  /** Messages per hot session in the base seed. */
  messagesPerHot: number
  memoryPairs: number
  /** Messages in the table right now (kept up to date by the growth steps). */
  messages: number
  /** Session whose messages the hydration workload reads (filled by {@link bigSessionSql}). */
  bigSession: string
  /** Session the bulk workload writes into. */
  bulkSession: string
  /** Session of the i-th seeded session (1-based). */
  session(i: number): string
  sessionUser(i: number): number
  sessionAgent(i: number): number
}

/** `md5(text)::uuid`, computed here so the benchmark knows the ids without asking. */
export function md5Uuid(text: string): string {
  const h = createHash('md5').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export function seedInfo(scale: ScaleConfig): SeedInfo {
  const sessions = scale.users * scale.sessionsPerUser
  const base = scale.messageSteps[0]!
  return {
    agents: scale.agents,
    users: scale.users,
    sessionsPerUser: scale.sessionsPerUser,
    sessions,
    hotSessions: scale.hotSessions,
    messagesPerHot: Math.ceil(base / scale.hotSessions),
    memoryPairs: scale.memoryPairs,
    messages: 0,
    bigSession: md5Uuid('session-big'),
    bulkSession: md5Uuid('session-bulk'),
    session: (i) => md5Uuid(`session-${i}`),
    sessionUser: (i) => Math.floor((i - 1) / scale.sessionsPerUser) + 1,
    sessionAgent: (i) => ((i - 1) % scale.agents) + 1,
  }
}

const TEXT = `repeat('lorem ipsum dolor sit amet ', 3)`

/** Agents, users, sessions, memories and the hot sessions' messages. */
export function baseSeedSql(info: SeedInfo): string[] {
  const { agents: A, users: U, sessionsPerUser: spu, sessions: S, hotSessions: H, memoryPairs: P } = info
  const sessionOf = (g: string) =>
    `md5('session-' || ${g})::uuid, (${g} - 1) / ${spu} + 1, (${g} - 1) % ${A} + 1`
  info.messages = H * info.messagesPerHot
  return [
    `INSERT INTO agents (id, name, type, model, description, system_prompt, config)
     SELECT g, 'agent-' || g, 'simple', 'gpt-4', 'seeded agent ' || g, 'You are agent ' || g || '.',
            jsonb_build_object('temperature', 0.2, 'tools', jsonb_build_array('search', 'code'))
     FROM generate_series(1, ${A}) g`,
    `SELECT setval(pg_get_serial_sequence('agents', 'id'), ${A})`,
    `INSERT INTO users (id, email, phone_number, user_data)
     SELECT g, 'user' || g || '@example.com', '+1555' || lpad(g::text, 7, '0'),
            jsonb_build_object('name', 'User ' || g, 'plan', 'pro')
     FROM generate_series(1, ${U}) g`,
    `SELECT setval(pg_get_serial_sequence('users', 'id'), ${U})`,
    // Hot sessions are sessions 1..H; last_seq counts the messages seeded into them below.
    `INSERT INTO sessions (id, user_id, agent_id, name, platform, metadata, created_at, updated_at, last_seq)
     SELECT ${sessionOf('g')}, 'session ' || g, 'web', jsonb_build_object('channel', 'web'),
            now() - g * interval '1 second', now() - g * interval '1 second',
            CASE WHEN g <= ${H} THEN ${info.messagesPerHot} ELSE 0 END
     FROM generate_series(1, ${S}) g`,
    `INSERT INTO sessions (id, user_id, agent_id, name, platform)
     VALUES ('${info.bigSession}', 1, 1, 'big', 'bench'), ('${info.bulkSession}', 1, 1, 'bulk', 'bench')`,
    // The hot sessions' histories, turn by turn: seq k is turn k (explicit numbers skip the
    // per-row trigger that numbers messages inserted with seq 0).
    `INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content, raw_payload)
     SELECT k, ${sessionOf('h')}, CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
            'turn ' || k || ' of session ' || h || ': ' || ${TEXT}, jsonb_build_object('turn', k)
     FROM generate_series(1, ${info.messagesPerHot}) k, generate_series(1, ${H}) h
     ORDER BY k, h`,
    // 100 memories for each (agent p, user p): workload 7 lists them.
    `INSERT INTO memories (name, description, content, agent_id, user_id, read_mode, access, metadata)
     SELECT 'mem-' || lpad(k::text, 3, '0'), 'seeded memory', 'content of memory ' || k || ': ' || ${TEXT},
            p, p, CASE WHEN k % 2 = 0 THEN 'tool' ELSE 'system_prompt' END, 'read_write', jsonb_build_object('k', k)
     FROM generate_series(1, ${P}) p, generate_series(1, 100) k`,
    // Agent-global memories (user_id NULL): rows the (agent, user) filter must skip.
    `INSERT INTO memories (name, content, agent_id)
     SELECT 'global-' || k, 'global memory', a FROM generate_series(1, ${A}) a, generate_series(1, 5) k`,
    `ANALYZE`,
  ]
}

/**
 * Grows `messages` to `total` rows, spread over the sessions that are not hot: the hot sessions'
 * last 50 messages stay the same while the table and its indexes grow around them. Like
 * `messages.createMany`, one statement bumps each session's `last_seq` once and inserts explicit
 * numbers (the per-row trigger would update a session row per message).
 */
export function growMessagesSql(info: SeedInfo, total: number): string[] {
  const add = total - info.messages
  if (add <= 0) return []
  const { agents: A, sessionsPerUser: spu, sessions: S, hotSessions: H } = info
  info.messages = total
  return [
    `WITH x AS (SELECT g, ${H + 1} + g % ${S - H} AS s FROM generate_series(1, ${add}) g),
     counts AS (SELECT s, count(*) AS n FROM x GROUP BY s),
     bases AS (
       UPDATE sessions SET last_seq = last_seq + counts.n FROM counts
       WHERE sessions.id = md5('session-' || counts.s)::uuid
       RETURNING counts.s, last_seq - counts.n AS base
     )
     INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content, raw_payload)
     SELECT bases.base + row_number() OVER (PARTITION BY x.s ORDER BY x.g),
            md5('session-' || x.s)::uuid, (x.s - 1) / ${spu} + 1, (x.s - 1) % ${A} + 1,
            CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, 'filler ' || g || ': ' || ${TEXT},
            jsonb_build_object('filler', g)
     FROM x JOIN bases ON bases.s = x.s
     ORDER BY x.g`,
    `ANALYZE messages`,
  ]
}

/** `rows` messages in the big session (the hydration workload reads them all). */
export function bigSessionSql(info: SeedInfo, rows: number): string[] {
  info.messages += rows
  return [
    `WITH bases AS (
       UPDATE sessions SET last_seq = last_seq + ${rows} WHERE id = '${info.bigSession}' RETURNING last_seq - ${rows} AS base
     )
     INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content, raw_payload, tool_calls)
     SELECT bases.base + g, '${info.bigSession}', 1, 1, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END,
            'message ' || g || ': ' || ${TEXT}, jsonb_build_object('turn', g),
            CASE WHEN g % 4 = 0 THEN '{"search": {"q": "weather"}}'::jsonb ELSE '{}'::jsonb END
     FROM bases, generate_series(1, ${rows}) g ORDER BY g`,
    `ANALYZE messages`,
  ]
}

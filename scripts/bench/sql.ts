/**
 * The hand-written SQL of the raw `pg` contenders: the statements automagik-db's repositories
 * send, column for column (the column lists come from the models), written by hand.
 */
import { agentColumns } from '../../src/models/agent.model.js'
import { memoryColumns } from '../../src/models/memory.model.js'
import { messageColumns } from '../../src/models/message.model.js'
import { sessionColumns } from '../../src/models/session.model.js'
import { userColumns } from '../../src/models/user.model.js'

const AGENT = agentColumns.join(', ')
const USER = userColumns.join(', ')
const SESSION = sessionColumns.join(', ')
const MESSAGE = messageColumns.join(', ')
const MEMORY = memoryColumns.join(', ')

export const SQL = {
  agentById: `SELECT ${AGENT} FROM agents WHERE id = $1`,
  agentByName: `SELECT ${AGENT} FROM agents WHERE name = $1`,
  userByEmail: `SELECT ${USER} FROM users WHERE lower(email) = lower($1)`,
  agentUpsert:
    `INSERT INTO agents (name, type, model, description) VALUES ($1, $2, $3, $4) ` +
    `ON CONFLICT (name) DO UPDATE SET type = excluded.type, model = excluded.model, description = excluded.description ` +
    `RETURNING ${AGENT}`,
  sessionInsert: `INSERT INTO sessions (user_id, agent_id, name, platform) VALUES ($1, $2, $3, $4) RETURNING ${SESSION}`,
  sessionFinish: `UPDATE sessions SET run_finished_at = now() WHERE id = $1`,
  lastMessages: `SELECT ${MESSAGE} FROM messages WHERE session_id = $1 ORDER BY seq DESC LIMIT 50`,
  memoriesOf: `SELECT ${MEMORY} FROM memories WHERE agent_id = $1 AND user_id = $2 ORDER BY name, id LIMIT 100`,
  sessionsOf: `SELECT ${SESSION} FROM sessions WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 20`,
  messageInsert:
    `INSERT INTO messages (session_id, user_id, agent_id, role, text_content) VALUES ($1, $2, $3, $4, $5) ` +
    `RETURNING ${MESSAGE}`,
  memoryUpsert:
    `INSERT INTO memories (name, content, agent_id, user_id) VALUES ($1, $2, $3, $4) ` +
    `ON CONFLICT (name, agent_id, user_id, session_id) DO UPDATE SET content = excluded.content ` +
    `RETURNING ${MEMORY}`,
  messagesOfSession: `SELECT ${MESSAGE} FROM messages WHERE session_id = $1 ORDER BY seq LIMIT $2`,
  // Bulk writes into one session (the benchmark's rows all belong to one): reserve the numbers
  // once (the session row stays locked until commit), then insert explicit seq values. Left at
  // its default 0, seq is assigned by a per-row trigger that updates the session row for every
  // message: quadratic within one transaction (every update adds a row version to walk past).
  bulkReserve: `UPDATE sessions SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq - $2 AS base`,
  bulkUnnest:
    `WITH b AS (UPDATE sessions SET last_seq = last_seq + cardinality($1::uuid[]) WHERE id = ($1::uuid[])[1] ` +
    `RETURNING last_seq - cardinality($1::uuid[]) AS base) ` +
    `INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content) ` +
    `SELECT b.base + t.ord, t.s, t.u, t.a, t.r, t.x ` +
    `FROM b, unnest($1::uuid[], $2::int4[], $3::int4[], $4::text[], $5::text[]) WITH ORDINALITY AS t(s, u, a, r, x, ord)`,
  bulkUnnestReturning:
    `WITH b AS (UPDATE sessions SET last_seq = last_seq + cardinality($1::uuid[]) WHERE id = ($1::uuid[])[1] ` +
    `RETURNING last_seq - cardinality($1::uuid[]) AS base) ` +
    `INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content) ` +
    `SELECT b.base + t.ord, t.s, t.u, t.a, t.r, t.x ` +
    `FROM b, unnest($1::uuid[], $2::int4[], $3::int4[], $4::text[], $5::text[]) WITH ORDINALITY AS t(s, u, a, r, x, ord) ` +
    `RETURNING ${MESSAGE}`,
  bulkCopy: `COPY messages (seq, session_id, user_id, agent_id, role, text_content) FROM STDIN`,
} as const

/** A named statement for the prepared contender: pg parses and plans it once per connection. */
export const named = (name: keyof typeof SQL, values: unknown[]) => ({ name: `bench_${name}`, text: SQL[name], values })

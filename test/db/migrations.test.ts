import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Db } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

// This file's Db is its own (a fresh PGlite, or a fresh server database): migrating it down does
// not affect any other test file.
let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

const ALL = ['0001-initial-schema', '0002-session-message-order', '0003-recall', '0004-retention']
const CORE = ['agents', 'memories', 'messages', 'sessions', 'users']
const WITH_RECALL = ['agents', 'embedding_models', 'memories', 'memory_embeddings', 'message_embeddings', 'messages', 'sessions', 'users']

const tables = async (): Promise<string[]> =>
  (
    await db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY table_name`,
      [WITH_RECALL],
    )
  ).map((r) => r.name)

describe('migrations', () => {
  test('migrate() is idempotent: a migrated database has nothing pending', async () => {
    expect(await db.migrate()).toEqual([])
    expect(await db.migrate()).toEqual([])
    expect(await tables()).toEqual(WITH_RECALL)
  })

  test('migrationStatus() lists every shipped migration with when it was applied', async () => {
    const status = await db.migrationStatus()
    expect(status.map((m) => m.name)).toEqual(ALL)
    for (const m of status) expect(m.executedAt).toBeInstanceOf(Date)
  })

  test('migrateDown() reverts the latest migration, one per call; migrate() applies them again', async () => {
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    expect(await tables()).toEqual(WITH_RECALL)
    expect(await db.migrateDown()).toEqual(['0003-recall'])
    expect(await tables()).toEqual(CORE)
    expect(await db.migrateDown()).toEqual(['0002-session-message-order'])
    expect(await tables()).toEqual(CORE)
    expect(await db.migrateDown()).toEqual(['0001-initial-schema'])
    expect(await tables()).toEqual([])
    expect((await db.migrationStatus()).map((m) => m.executedAt)).toEqual([null, null, null, null])
    // Nothing left to revert.
    expect(await db.migrateDown()).toEqual([])

    expect(await db.migrate()).toEqual(ALL)
    expect(await tables()).toEqual(WITH_RECALL)
    for (const m of await db.migrationStatus()) expect(m.executedAt).toBeInstanceOf(Date)
    // The schema works again, triggers included: the updated_at trigger sets clock_timestamp(),
    // so after a pause longer than a JS Date's 1 ms resolution an UPDATE makes updatedAt strictly
    // later (without the trigger it stays as created).
    const agent = await db.agents.create({ name: 'after-remigrate', type: 't', model: 'm' })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const updated = await db.agents.update(agent.id, { model: 'm2' })
    expect(updated?.updatedAt.getTime()).toBeGreaterThan(agent.updatedAt.getTime())
    const s = await db.sessions.create({})
    expect((await db.messages.createMany([{ sessionId: s.id, role: 'user' }, { sessionId: s.id, role: 'user' }])).map((m) => m.seq)).toEqual([1, 2])
    expect((await db.messages.create({ sessionId: s.id, role: 'user' })).seq).toBe(3)
    expect(await db.migrate()).toEqual([])
  })

  test('0002 keeps existing messages\' numbers and sessions\' updated_at; its down() renumbers, keeping each session\'s order', async () => {
    const seqOf = async (session: string) =>
      (await db.query<{ seq: string; text: string }>('SELECT seq::text, text_content AS text FROM messages WHERE session_id = $1 ORDER BY messages.seq', [session]))
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    expect(await db.migrateDown()).toEqual(['0003-recall'])
    expect(await db.migrateDown()).toEqual(['0002-session-message-order'])
    // Under 0001: one global identity.
    const [a, b] = await db.query<{ id: string }>(
      `INSERT INTO sessions (name, updated_at) VALUES ('a', '2020-01-01Z'), ('b', '2020-01-02Z') RETURNING id`,
    )
    for (const [i, session] of [a, b, a, b, a].entries()) {
      await db.query(`INSERT INTO messages (session_id, role, text_content) VALUES ($1, 'user', $2)`, [session!.id, `old${i}`])
    }
    const before = [await seqOf(a!.id), await seqOf(b!.id)]
    expect(before[0]!.map((m) => m.text)).toEqual(['old0', 'old2', 'old4'])

    expect(await db.migrate()).toEqual(['0002-session-message-order', '0003-recall', '0004-retention'])
    expect([await seqOf(a!.id), await seqOf(b!.id)]).toEqual(before)
    const sessions = await db.query<{ name: string; last_seq: string; updated_at: Date }>(
      'SELECT name, last_seq::text, updated_at FROM sessions WHERE id = ANY($1) ORDER BY name',
      [[a!.id, b!.id]],
    )
    expect(sessions.map((r) => [r.name, r.last_seq, r.updated_at.toISOString()])).toEqual([
      ['a', before[0]!.at(-1)!.seq, '2020-01-01T00:00:00.000Z'],
      ['b', before[1]!.at(-1)!.seq, '2020-01-02T00:00:00.000Z'],
    ])
    // New messages continue each session's count; a new session counts from 1.
    const next = await db.messages.create({ sessionId: a!.id, role: 'user', textContent: 'new-a' })
    expect(next.seq).toBe(Number(before[0]!.at(-1)!.seq) + 1)
    const c = await db.sessions.create({ name: 'c' })
    await db.messages.createMany(['c1', 'c2', 'c3'].map((t) => ({ sessionId: c.id, role: 'user' as const, textContent: t })))
    expect((await seqOf(c.id)).map((m) => m.seq)).toEqual(['1', '2', '3'])

    // down(): numbers unique across the table again, each session's order kept, identity restarts above them.
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    expect(await db.migrateDown()).toEqual(['0003-recall'])
    expect(await db.migrateDown()).toEqual(['0002-session-message-order'])
    const after = [await seqOf(a!.id), await seqOf(b!.id), await seqOf(c.id)]
    expect(after.map((list) => list.map((m) => m.text))).toEqual([['old0', 'old2', 'old4', 'new-a'], ['old1', 'old3'], ['c1', 'c2', 'c3']])
    const all = after.flat().map((m) => Number(m.seq))
    expect(new Set(all).size).toBe(all.length)
    const [{ seq }] = (await db.query<{ seq: string }>(
      `INSERT INTO messages (session_id, role) VALUES ($1, 'user') RETURNING seq::text`,
      [c.id],
    )) as [{ seq: string }]
    expect(Number(seq)).toBeGreaterThan(Math.max(...all))
    expect(await db.migrate()).toEqual(['0002-session-message-order', '0003-recall', '0004-retention'])
    expect((await db.messages.create({ sessionId: c.id, role: 'user' })).seq).toBe(Number(seq) + 1)
  })

  test('0003 estimates the token counts of existing messages, indexes existing text, keeps updated_at, and installs the extensions', async () => {
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    expect(await db.migrateDown()).toEqual(['0003-recall'])
    const [s] = await db.query<{ id: string }>(`INSERT INTO sessions (name) VALUES ('pre-0003') RETURNING id`)
    const [m] = await db.query<{ id: string; updated_at: Date }>(
      `INSERT INTO messages (session_id, role, text_content, tool_calls, updated_at)
       VALUES ($1, 'user', 'The favourite colours of the runners', '{"f": 1}', '2021-01-01Z') RETURNING id, updated_at`,
      [s!.id],
    )
    expect(await db.migrate()).toEqual(['0003-recall', '0004-retention'])
    const [row] = await db.query<{ token_count: number; updated_at: Date; found: boolean }>(
      `SELECT token_count, updated_at, search_vector @@ websearch_to_tsquery('english', 'runner colour') AS found FROM messages WHERE id = $1`,
      [m!.id],
    )
    // ceil((36 characters of text + 8 of '{"f": 1}') / 4)
    expect(row).toEqual({ token_count: 11, updated_at: new Date('2021-01-01Z'), found: true })
    expect(db.features).toEqual({ vector: db.backend === 'pglite', trigram: true })
    const extensions = await db.query<{ extname: string }>(`SELECT extname FROM pg_extension WHERE extname IN ('pg_trgm', 'vector') ORDER BY 1`)
    expect(extensions.map((e) => e.extname)).toEqual(db.backend === 'pglite' ? ['pg_trgm', 'vector'] : ['pg_trgm'])
  })

  test('0004 adds memories.expires_at (NULL for existing memories) and its index; down() drops them, keeping the memories', async () => {
    const expiryIndex = async () =>
      (await db.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = 'memories' AND indexname = 'memories_expires_at_idx'`)).length
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    expect(await expiryIndex()).toBe(0)
    const [agent] = await db.query<{ id: number }>(`INSERT INTO agents (name, type, model) VALUES ('pre-0004', 't', 'm') RETURNING id`)
    const [before] = await db.query<{ id: string }>(`INSERT INTO memories (name, agent_id, content) VALUES ('kept', $1, 'c') RETURNING id`, [agent!.id])
    expect(await db.migrate()).toEqual(['0004-retention'])
    expect(await expiryIndex()).toBe(1)
    const kept = await db.memories.get(before!.id)
    expect(kept).toMatchObject({ name: 'kept', content: 'c', expiresAt: null })
    const dated = await db.memories.create({ name: 'dated', agentId: agent!.id, expiresAt: new Date('2100-01-01Z') })
    const gone = await db.memories.create({ name: 'gone', agentId: agent!.id, expiresAt: new Date('2000-01-01Z') })
    expect(await db.memories.get(gone.id)).toBeNull()

    // down(): the column goes, the memories stay (an expired one is visible again: nothing expires).
    expect(await db.migrateDown()).toEqual(['0004-retention'])
    const columns = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'memories' AND column_name = 'expires_at'`)
    expect(columns).toEqual([])
    const names = await db.query<{ name: string }>('SELECT name FROM memories WHERE agent_id = $1 ORDER BY name', [agent!.id])
    expect(names.map((r) => r.name)).toEqual(['dated', 'gone', 'kept'])
    expect(await db.migrate()).toEqual(['0004-retention'])
    expect(await db.memories.get(dated.id)).toMatchObject({ expiresAt: null })
    expect(await db.memories.get(gone.id)).toMatchObject({ expiresAt: null })
    expect(await db.migrate()).toEqual([])
  })
})

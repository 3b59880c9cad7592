/** Workloads 6 (last 50 messages), 7 (a scope's 100 memories) and H (10k rows → entities). */
import { and, asc, desc, eq, sql as dsql } from 'drizzle-orm'
import { memoryColumns } from '../../../src/models/memory.model.js'
import { messageColumns, toMessage } from '../../../src/models/message.model.js'
import { memories, messages } from '../drizzle-schema.js'
import { named, SQL } from '../sql.js'
import type { BenchContext, Contender } from '../types.js'
import { check, LABELS, pick, type Impls } from './common.js'

const ph = dsql.placeholder

/** Rows newest first, all of one session. */
function checkLast50(rows: { seq: number | string }[], session: string, sessionOf: (r: any) => string): void {
  check(rows.length === 50, `50 messages, got ${rows.length}`)
  check(sessionOf(rows[0]) === session && sessionOf(rows[49]) === session, 'messages of the session')
  check(Number(rows[0]!.seq) > Number(rows[49]!.seq), 'newest first')
}

export function listImpls(ctx: BenchContext): Record<'6' | '7', Impls> {
  const { raw, prepared, kysely, drizzle: d, seed } = ctx
  const hot = (i: number) => seed.session(pick(i, seed.hotSessions) + 1)
  const pair = (i: number) => pick(i, seed.memoryPairs) + 1

  const dLast50 = d
    .select()
    .from(messages)
    .where(eq(messages.sessionId, ph('sessionId')))
    .orderBy(desc(messages.seq))
    .limit(50)
    .prepare('drz_last_messages')
  const dMemoriesOf = d
    .select()
    .from(memories)
    .where(and(eq(memories.agentId, ph('agentId')), eq(memories.userId, ph('userId'))))
    .orderBy(asc(memories.name), asc(memories.id))
    .limit(100)
    .prepare('drz_memories_of')

  const check100 = (rows: unknown[], p: number, agentOf: (r: any) => number) => {
    check(rows.length === 100, `100 memories, got ${rows.length}`)
    check(agentOf(rows[0]) === p && agentOf(rows[99]) === p, 'memories of the scope')
  }

  return {
    '6': {
      pg: async (i) => {
        const s = hot(i)
        checkLast50((await raw.query(SQL.lastMessages, [s])).rows, s, (r) => r.session_id)
      },
      prepared: async (i) => {
        const s = hot(i)
        checkLast50((await prepared.query(named('lastMessages', [s]))).rows, s, (r) => r.session_id)
      },
      kysely: async (i) => {
        const s = hot(i)
        const rows = await kysely
          .selectFrom('messages')
          .select(messageColumns)
          .where('session_id', '=', s)
          .orderBy('seq', 'desc')
          .limit(50)
          .execute()
        checkLast50(rows, s, (r) => r.session_id)
      },
      drizzle: async (i) => {
        const s = hot(i)
        checkLast50(await dLast50.execute({ sessionId: s }), s, (r) => r.sessionId)
      },
      amdb: (db) => async (i) => {
        const s = hot(i)
        const list = await db.messages.listBySession(s, { limit: 50, order: 'desc' })
        checkLast50(list, s, (m) => m.sessionId)
        check(list.nextCursor !== null, 'a cursor to older messages')
      },
    },
    '7': {
      pg: async (i) => {
        const p = pair(i)
        check100((await raw.query(SQL.memoriesOf, [p, p])).rows, p, (r) => r.agent_id)
      },
      prepared: async (i) => {
        const p = pair(i)
        check100((await prepared.query(named('memoriesOf', [p, p]))).rows, p, (r) => r.agent_id)
      },
      kysely: async (i) => {
        const p = pair(i)
        const rows = await kysely
          .selectFrom('memories')
          .select(memoryColumns)
          .where('agent_id', '=', p)
          .where('user_id', '=', p)
          .orderBy('name')
          .orderBy('id')
          .limit(100)
          .execute()
        check100(rows, p, (r) => r.agent_id)
      },
      drizzle: async (i) => {
        const p = pair(i)
        check100(await dMemoriesOf.execute({ agentId: p, userId: p }), p, (r) => r.agentId)
      },
      amdb: (db) => async (i) => {
        const p = pair(i)
        check100(await db.memories.list({ agentId: p, userId: p }), p, (m) => m.agentId)
      },
    },
  }
}

/**
 * H: read `rows` messages of one session. Measures what turning rows into entities costs:
 * raw pg rows (baseline) vs the same rows through automagik-db's mapper (toMessage), and the
 * full stack: the repository's own API (listBySession pages of 1000, its maximum) and one
 * 10k-row query through automagik-db's pool adapter + Kysely + toMessage.
 */
export function hydrateContenders(ctx: BenchContext, rows: number): Contender[] {
  const { raw, prepared, kysely, drizzle: d, seed, amdb } = ctx
  const s = seed.bigSession
  const verify = (list: { seq: number | string }[], what: string) => {
    check(list.length === rows, `${what}: ${rows} rows, got ${list.length}`)
    check(Number(list[0]!.seq) < Number(list[rows - 1]!.seq), `${what}: oldest first`)
  }
  const dAll = d
    .select()
    .from(messages)
    .where(eq(messages.sessionId, ph('sessionId')))
    .orderBy(asc(messages.seq))
    .limit(ph('limit'))
    .prepare('drz_messages_of_session')
  return [
    {
      id: 'pg',
      label: `${LABELS.pg}: raw rows`,
      run: async () => verify((await raw.query(SQL.messagesOfSession, [s, rows])).rows, 'pg'),
    },
    {
      id: 'pg+toMessage',
      label: 'raw pg rows mapped by automagik-db\'s toMessage (the hydration cost alone)',
      run: async () => verify((await raw.query(SQL.messagesOfSession, [s, rows])).rows.map(toMessage), 'pg+toMessage'),
    },
    {
      id: 'pg-prepared',
      label: LABELS.prepared,
      run: async () => verify((await prepared.query(named('messagesOfSession', [s, rows]))).rows, 'pg-prepared'),
    },
    {
      id: 'kysely',
      label: LABELS.kysely,
      run: async () =>
        verify(
          await kysely.selectFrom('messages').select(messageColumns).where('session_id', '=', s).orderBy('seq').limit(rows).execute(),
          'kysely',
        ),
    },
    {
      id: 'drizzle',
      label: `${LABELS.drizzle} (rows mapped to objects)`,
      run: async () => verify(await dAll.execute({ sessionId: s, limit: rows }), 'drizzle'),
    },
    {
      id: 'automagik-db',
      label: `messages.listBySession, ${Math.ceil(rows / 1000)} pages of 1000 (its largest page)`,
      run: async () => {
        const all = []
        let cursor: string | null = null
        do {
          const page: Awaited<ReturnType<typeof amdb.db.messages.listBySession>> = await amdb.db.messages.listBySession(s, {
            limit: 1000,
            cursor,
          })
          all.push(...page)
          cursor = page.nextCursor
        } while (cursor !== null && all.length < rows)
        verify(all.slice(0, rows), 'automagik-db')
      },
    },
    {
      id: 'automagik-db 1 query',
      label: 'db.kysely (automagik-db pool adapter) 10k-row query + toMessage',
      run: async () =>
        verify(
          (
            await amdb.db.kysely
              .selectFrom('messages')
              .select(messageColumns)
              .where('session_id', '=', s)
              .orderBy('seq')
              .limit(rows)
              .execute()
          ).map(toMessage),
          'automagik-db 1 query',
        ),
    },
  ]
}

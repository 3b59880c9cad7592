/**
 * Workload 10: one transaction that creates a session, writes three messages into it and upserts
 * a memory: BEGIN + 5 statements + COMMIT, the same 7 round trips for every contender.
 */
import { sql as dsql } from 'drizzle-orm'
import { memoryColumns } from '../../../src/models/memory.model.js'
import { messageColumns } from '../../../src/models/message.model.js'
import { sessionColumns } from '../../../src/models/session.model.js'
import { memories, messages, sessions } from '../drizzle-schema.js'
import { named, SQL } from '../sql.js'
import type { BenchContext, Contender } from '../types.js'
import { check, pick, standard, UUID_RE } from './common.js'

const ROLES = ['user', 'assistant', 'user'] as const

export function transactionContenders(ctx: BenchContext): Contender[] {
  const { raw, prepared, kysely, drizzle: d, seed } = ctx
  // Scopes outside workload 7's pairs, so its lists keep exactly 100 memories.
  const scope = (i: number) => seed.memoryPairs + 1 + pick(i, Math.min(50, seed.users - seed.memoryPairs))
  const input = (i: number) => {
    const who = scope(i)
    return { userId: who, agentId: who, memory: `turn-summary-${i % 10}`, content: `summary after call ${i}` }
  }
  const texts = (i: number) => ROLES.map((role, k) => ({ role, text: `call ${i}, message ${k}` }))

  const rawTx = (usePrepared: boolean) => async (i: number) => {
    const t = input(i)
    const pool = usePrepared ? prepared : raw
    const client = await pool.connect()
    const q = (name: keyof typeof SQL, values: unknown[]) =>
      usePrepared ? client.query(named(name, values)) : client.query(SQL[name], values)
    try {
      await client.query('BEGIN')
      const session = (await q('sessionInsert', [t.userId, t.agentId, 'tx', 'bench'])).rows[0]
      check(UUID_RE.test(session?.id), 'session created')
      for (const m of texts(i)) {
        const row = (await q('messageInsert', [session.id, t.userId, t.agentId, m.role, m.text])).rows[0]
        check(row?.session_id === session.id, 'message created')
      }
      const memory = (await q('memoryUpsert', [t.memory, t.content, t.agentId, t.userId])).rows[0]
      check(memory?.content === t.content, 'memory upserted')
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }

  return standard(
    ctx,
    {
      pg: rawTx(false),
      prepared: rawTx(true),
      kysely: (i) =>
        kysely.transaction().execute(async (trx) => {
          const t = input(i)
          const session = await trx
            .insertInto('sessions')
            .values({ user_id: t.userId, agent_id: t.agentId, name: 'tx', platform: 'bench' })
            .returning(sessionColumns)
            .executeTakeFirstOrThrow()
          for (const m of texts(i)) {
            const row = await trx
              .insertInto('messages')
              .values({ session_id: session.id, user_id: t.userId, agent_id: t.agentId, role: m.role, text_content: m.text })
              .returning(messageColumns)
              .executeTakeFirstOrThrow()
            check(row.session_id === session.id, 'message created')
          }
          const memory = await trx
            .insertInto('memories')
            .values({ name: t.memory, content: t.content, agent_id: t.agentId, user_id: t.userId })
            .onConflict((oc) =>
              oc.columns(['name', 'agent_id', 'user_id', 'session_id']).doUpdateSet((eb) => ({ content: eb.ref('excluded.content') })),
            )
            .returning(memoryColumns)
            .executeTakeFirstOrThrow()
          check(memory.content === t.content, 'memory upserted')
        }),
      drizzle: (i) =>
        d.transaction(async (tx) => {
          const t = input(i)
          const [session] = await tx
            .insert(sessions)
            .values({ userId: t.userId, agentId: t.agentId, name: 'tx', platform: 'bench' })
            .returning()
          check(UUID_RE.test(session?.id ?? ''), 'session created')
          for (const m of texts(i)) {
            const [row] = await tx
              .insert(messages)
              .values({ sessionId: session!.id, userId: t.userId, agentId: t.agentId, role: m.role, textContent: m.text })
              .returning()
            check(row?.sessionId === session!.id, 'message created')
          }
          const [memory] = await tx
            .insert(memories)
            .values({ name: t.memory, content: t.content, agentId: t.agentId, userId: t.userId })
            .onConflictDoUpdate({
              target: [memories.name, memories.agentId, memories.userId, memories.sessionId],
              set: { content: dsql`excluded.content` },
            })
            .returning()
          check(memory?.content === t.content, 'memory upserted')
        }),
      amdb: (db) => (i) =>
        db.transaction(async (tx) => {
          const t = input(i)
          const session = await tx.sessions.create({ userId: t.userId, agentId: t.agentId, name: 'tx', platform: 'bench' })
          for (const m of texts(i)) {
            const message = await tx.messages.create({
              sessionId: session.id,
              userId: t.userId,
              agentId: t.agentId,
              role: m.role,
              textContent: m.text,
            })
            check(message.sessionId === session.id, 'message created')
          }
          const memory = await tx.memories.create({ name: t.memory, content: t.content, agentId: t.agentId, userId: t.userId })
          check(memory.content === t.content, 'memory upserted')
        }),
    },
    { drizzle: 'drizzle-orm db.transaction() with query builders (prepared statements are bound to the pool, not a tx)' },
  )
}

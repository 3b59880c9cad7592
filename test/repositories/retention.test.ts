// Issue 11 §2: messages.prune deletes old history a prefix of each session at a time, in batches
// that commit on their own.
import { describe, expect } from 'vitest'
import type { Db, Message } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'
import { waitForLockWaiter } from '../support/lock-waiter.js'

const ctx = useTestDb()
const { test, log } = ctx

const DAY = 24 * 3600 * 1000
const cutoff = new Date(Date.now() - 30 * DAY)
const old = (days: number) => new Date(cutoff.getTime() - days * DAY)
const recent = (days: number) => new Date(cutoff.getTime() + days * DAY)

/** A session with messages written (in this order) at these instants; returns it and them. */
async function session(db: Db, createdAt: readonly Date[]): Promise<{ id: string; messages: Message[] }> {
  const s = await db.sessions.create({ name: unique('retention') })
  const messages = createdAt.length
    ? await db.messages.createMany(createdAt.map((at, i) => ({ sessionId: s.id, role: 'user' as const, textContent: `m${i}`, createdAt: at })))
    : []
  return { id: s.id, messages }
}

const remaining = async (db: Db, sessionId: string) => (await db.messages.listBySession(sessionId, { limit: 1000 })).map((m) => m.seq)
const pruneStatements = () => log.queries.filter((q) => /^with "walked"/i.test(q.trim())).length

describe('messages.prune', () => {
  test('deletes only the prefix of each session: the messages before its first recent one', async ({ db }) => {
    // old, old, recent, old (written after a recent one: stays), recent
    const mixed = await session(db, [old(3), old(2), recent(1), old(1), recent(2)])
    const allOld = await session(db, [old(5), old(4), old(3)])
    const recentFirst = await session(db, [recent(1), old(9)])
    const empty = await session(db, [])
    const atCutoff = await session(db, [old(1), cutoff, old(2)]) // created_at = olderThan is kept

    expect(await db.messages.prune({ olderThan: cutoff })).toBe(2 + 3 + 0 + 0 + 1)
    expect(await remaining(db, mixed.id)).toEqual([3, 4, 5])
    expect(await remaining(db, allOld.id)).toEqual([])
    expect(await remaining(db, recentFirst.id)).toEqual([1, 2])
    expect(await remaining(db, empty.id)).toEqual([])
    expect(await remaining(db, atCutoff.id)).toEqual([2, 3])
    // Again: nothing left to do.
    expect(await db.messages.prune({ olderThan: cutoff })).toBe(0)
  })

  test('seq numbers are never reused: sessions.last_seq stays and a new message continues the count', async ({ db }) => {
    const s = await session(db, [old(3), old(2), old(1)])
    expect(await db.messages.prune({ olderThan: cutoff })).toBe(3)
    const [row] = await db.query<{ last_seq: string }>('SELECT last_seq::text FROM sessions WHERE id = $1', [s.id])
    expect(row!.last_seq).toBe('3')
    expect((await db.messages.create({ sessionId: s.id, role: 'user' })).seq).toBe(4)
  })

  test('the embeddings of pruned messages go with them', async ({ db }) => {
    const s = await session(db, [old(2), recent(1)])
    for (const m of s.messages) await db.messages.setEmbedding(m.id, { model: 'retention-test', vector: [1, 0, 0] })
    expect(await db.messages.prune({ olderThan: cutoff })).toBe(1)
    const rows = await db.query<{ message_id: string }>(
      'SELECT message_id FROM message_embeddings WHERE message_id = ANY($1)', [s.messages.map((m) => m.id)],
    )
    expect(rows.map((r) => r.message_id)).toEqual([s.messages[1]!.id])
  })

  test('works in batches: batchSize 2 deletes everything in several statements and returns the total', async ({ db }) => {
    // More sessions than one statement walks (100), so the walk over sessions goes on too.
    const sessions: { id: string }[] = []
    for (let i = 0; i < 120; i++) sessions.push(await session(db, i % 2 ? [old(3), old(2), old(1), recent(1)] : [old(1)]))
    log.clear()
    expect(await db.messages.prune({ olderThan: cutoff, batchSize: 2 })).toBe(60 * 3 + 60)
    expect(pruneStatements()).toBeGreaterThanOrEqual(120)
    for (const [i, s] of sessions.entries()) expect(await remaining(db, s.id)).toEqual(i % 2 ? [4] : [])
  })

  test('returns 0 when there is nothing to prune, in one statement', async ({ db }) => {
    await session(db, [recent(1), recent(2)])
    await session(db, [])
    log.clear()
    expect(await db.messages.prune({ olderThan: cutoff })).toBe(0)
    expect(pruneStatements()).toBe(1)
  })

  test('invalid options are a ValidationError naming the field, before any SQL', async ({ db }) => {
    log.clear()
    await expectValidation(db.messages.prune(undefined as never), 'olderThan')
    await expectValidation(db.messages.prune({} as never), 'olderThan')
    await expectValidation(db.messages.prune({ olderThan: '2020-01-01' as never }), 'olderThan')
    await expectValidation(db.messages.prune({ olderThan: new Date('nope') }), 'olderThan')
    for (const batchSize of [0, -1, 1.5, 100_001, '10', null, Number.NaN]) {
      await expectValidation(db.messages.prune({ olderThan: cutoff, batchSize: batchSize as never }), 'batchSize')
    }
    await expectValidation(db.messages.prune({ olderThan: cutoff, limit: 5 } as never), 'limit')
    expect(log.queries).toEqual([])
  })

  test('on a transaction\'s Db the batches run in that transaction: a rollback brings the messages back', async () => {
    const root = ctx.root()
    const s = await session(root, [old(3), old(2), old(1)])
    const failed = root.transaction(async (tx) => {
      expect(await tx.messages.prune({ olderThan: cutoff, batchSize: 1 })).toBe(3)
      expect(await remaining(tx, s.id)).toEqual([])
      throw new Error('roll back')
    })
    await expect(failed).rejects.toThrow('roll back')
    expect(await remaining(root, s.id)).toEqual([1, 2, 3])
    expect(await root.messages.prune({ olderThan: cutoff })).toBeGreaterThanOrEqual(3)
    expect(await remaining(root, s.id)).toEqual([])
  })

  test('runs while writers append: nothing they write is lost, every session stays a contiguous run', async () => {
    const root = ctx.root()
    const sessions: { id: string }[] = []
    for (let i = 0; i < 12; i++) sessions.push(await session(root, Array.from({ length: 25 }, (_, j) => old(30 - j))))
    const written: Message[] = []
    let pruning = true
    const writer = async (offset: number) => {
      for (let round = 0; pruning || round < 3; round++) {
        for (let i = offset; i < sessions.length; i += 2) {
          written.push(await root.messages.create({ sessionId: sessions[i]!.id, role: 'assistant', textContent: `w${round}` }))
        }
      }
    }
    // A reader: at every moment, each session is a contiguous run, and the deletion is seen in
    // steps (each batch commits on its own).
    const gaps: string[] = []
    const oldSeen = new Set<number>()
    const reader = async () => {
      while (pruning) {
        let left = 0
        for (const s of sessions) {
          const seqs = await remaining(root, s.id)
          if (seqs.some((seq, k) => k > 0 && seq !== seqs[k - 1]! + 1)) gaps.push(`${s.id}: ${seqs.join(',')}`)
          left += seqs.filter((seq) => seq <= 25).length
        }
        oldSeen.add(left)
      }
    }
    const writers = [writer(0), writer(1), reader()]
    const pruned = root.messages.prune({ olderThan: cutoff, batchSize: 7 })
    const deleted = await pruned.finally(() => {
      pruning = false
    })
    const duringPrune = written.length
    await Promise.all(writers)
    expect(deleted).toBe(12 * 25)
    expect(duringPrune, 'the writers wrote while prune ran').toBeGreaterThan(0)
    expect(gaps).toEqual([])
    expect([...oldSeen].some((n) => n > 0 && n < 12 * 25), `intermediate states seen: ${[...oldSeen]}`).toBe(true)
    const ids = new Set<string>()
    for (const s of sessions) {
      const seqs = await remaining(root, s.id)
      const list = await root.messages.listBySession(s.id, { limit: 1000 })
      for (const m of list) ids.add(m.id)
      // Only the writers' messages are left: numbers 26.. without a gap.
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => 26 + k))
      expect(seqs.length).toBeGreaterThanOrEqual(3)
    }
    for (const m of written) expect(ids.has(m.id), `message ${m.id} written during prune`).toBe(true)
  })

  // Regression (review of issue 11 §2): the walk went on from what a batch deleted, not what it
  // chose, so a message deleted by another transaction during a full batch made prune skip the
  // sessions after that batch's last one, returning early with prunable messages left.
  test.skipIf(backend !== 'postgres')('prune-skips-sessions-after-a-concurrent-delete: a message deleted meanwhile does not end the walk early', async () => {
    const root = ctx.root()
    const mine: { id: string; messages: Message[] }[] = []
    for (let i = 0; i < 150; i++) mine.push(await session(root, [old(3), old(2), old(1), recent(1)]))
    mine.sort((a, b) => (a.id < b.id ? -1 : 1))
    // Another transaction deletes a message of the first batch and holds its row lock until prune waits for it.
    const other = await root.startTransaction()
    await other.db.messages.delete(mine[0]!.messages[0]!.id)
    const pruned = root.messages.prune({ olderThan: cutoff, batchSize: 100 })
    await waitForLockWaiter(root, 'prune to wait for the locked message')
    await other.commit()
    await pruned
    for (const s of mine) expect(await remaining(root, s.id), s.id).toEqual([4])
  })

  test('on db.withSchema(name), prune and expiry address that schema only', async () => {
    const root = ctx.root()
    const tenant = root.withSchema('retention_tenant')
    await tenant.migrate()
    try {
      const inTenant = await session(tenant, [old(2), recent(1)])
      const inPublic = await session(root, [old(2), recent(1)])
      expect(await tenant.messages.prune({ olderThan: cutoff })).toBe(1)
      expect(await remaining(tenant, inTenant.id)).toEqual([2])
      expect(await remaining(root, inPublic.id)).toEqual([1, 2])
      await root.sessions.delete(inPublic.id)
      const agent = await tenant.agents.create({ name: unique('agent'), type: 't', model: 'm' })
      const gone = await tenant.memories.create({ name: 'x', agentId: agent.id, expiresAt: old(1) })
      expect(await tenant.memories.get(gone.id)).toBeNull()
      const fresh = await tenant.memories.create({ name: 'x', agentId: agent.id, content: 'new' })
      expect(fresh).toMatchObject({ content: 'new', expiresAt: null })
      expect(fresh.id).not.toBe(gone.id)
      await tenant.memories.update(fresh.id, { expiresAt: old(1) })
      expect(await tenant.memories.sweepExpired()).toBe(1)
    } finally {
      await root.query('DROP SCHEMA retention_tenant CASCADE')
    }
  })
})

// Issue 8 §6: cursor paging over messages skipped rows that commit late. `seq` was a global
// identity: numbers follow nextval() order, not commit order, so a follower whose cursor had
// passed a higher seq never saw a message that committed after it. Now `seq` is a per-session
// counter taken under the session row's lock (migration 0002): within a session, seq order is
// commit order, and writing a message marks its session active.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect } from 'vitest'
import { ForeignKeyError, type Db, type Message, type MessageList } from '../../src/index.js'
import { unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

const ctx = useTestDb()
const { test } = ctx

/** A follower: reads forward from its cursor until it has caught up, keeping its position. */
class Follower {
  readonly seen: Message[] = []
  cursor: string | null = null
  constructor(
    private readonly db: Db,
    private readonly sessionId: string,
    private readonly limit: number,
  ) {}

  /** Pages until the end; `endCursor` (the last message read) lets the next call resume there. */
  async catchUp(): Promise<void> {
    for (let calls = 0; calls < 1000; calls++) {
      const page: MessageList = await this.db.messages.listBySession(this.sessionId, { limit: this.limit, cursor: this.cursor })
      this.seen.push(...page)
      this.cursor = page.endCursor
      if (page.nextCursor === null) return
    }
    throw new Error('the follower never caught up')
  }
}

const texts = (list: readonly Message[]) => list.map((m) => m.textContent)
const seqs = (list: readonly Message[]) => list.map((m) => m.seq)
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Server: waits until `n` statements of this database wait for a lock (or `done()`), at most 5 s. */
async function lockWaiters(db: Db, n: number, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) {
    const [row] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    )
    if (row!.n >= n) return
    await sleep(10)
  }
}

describe('regression: a follower paging with a cursor skips messages that commit late', () => {
  test.skipIf(backend !== 'postgres')(
    'server: a writer commits late while others append; the follower sees every message once, in commit order',
    async () => {
      const root = ctx.root()
      const s = await root.sessions.create({ name: unique('late-commit') })
      try {
        await root.messages.create({ sessionId: s.id, role: 'user', textContent: 'm1' })
        const slow = await root.startTransaction() // a writer whose commit is late
        let settled = 0
        let p3: Promise<Message>, p4: Promise<Message>
        try {
          await slow.db.messages.create({ sessionId: s.id, role: 'assistant', textContent: 'm2' })
          // Two more writers append meanwhile. They wait for the slow writer's session lock (before
          // the fix they committed at once, numbered after m2).
          p3 = root.messages.create({ sessionId: s.id, role: 'user', textContent: 'm3' })
          p4 = root.messages.create({ sessionId: s.id, role: 'user', textContent: 'm4' })
          for (const p of [p3, p4]) void p.then(() => settled++, () => settled++)
          await lockWaiters(root, 2, () => settled === 2)
          const follower = new Follower(root, s.id, 2)
          await follower.catchUp()
          expect(texts(follower.seen)).not.toContain('m2') // not committed yet
          const settledBeforeCommit = settled
          await slow.commit()
          await Promise.all([p3, p4])
          await follower.catchUp()
          const all = await root.messages.listBySession(s.id)
          expect(all).toHaveLength(4)
          expect(texts(follower.seen), 'every message once, in seq order').toEqual(texts(all))
          expect(seqs(all)).toEqual([1, 2, 3, 4])
          expect(texts(all).slice(0, 2)).toEqual(['m1', 'm2'])
          // The appends waited for the late writer's session lock: numbers follow commit order.
          expect(settledBeforeCommit).toBe(0)
        } finally {
          await slow.rollback().catch(() => undefined)
        }
      } finally {
        await root.sessions.delete(s.id)
      }
    },
  )

  test('a follower resumes from its cursor after catching up, also after a transaction that commits late', async () => {
    // PGlite has one connection: no writer can run while another's transaction is open, so the
    // race itself cannot happen there; this checks that a follower keeps its place across appends.
    const root = ctx.root()
    const s = await root.sessions.create({ name: unique('follow') })
    try {
      const follower = new Follower(root, s.id, 2)
      await follower.catchUp()
      expect(follower.seen).toEqual([])
      await root.messages.create({ sessionId: s.id, role: 'user', textContent: 'm1' })
      await follower.catchUp()
      const slow = await root.startTransaction()
      try {
        await slow.db.messages.create({ sessionId: s.id, role: 'assistant', textContent: 'm2' })
        await slow.db.messages.createMany([
          { sessionId: s.id, role: 'tool', textContent: 'm3' },
          { sessionId: s.id, role: 'assistant', textContent: 'm4' },
        ])
        await slow.commit()
      } finally {
        await slow.rollback().catch(() => undefined)
      }
      await follower.catchUp()
      await root.messages.createMany(['m5', 'm6', 'm7'].map((t) => ({ sessionId: s.id, role: 'user' as const, textContent: t })))
      await root.messages.create({ sessionId: s.id, role: 'user', textContent: 'm8' })
      await follower.catchUp()
      await follower.catchUp() // nothing new: no repeats
      expect(texts(follower.seen)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
      expect(seqs(follower.seen)).toEqual(oneTo(8))
    } finally {
      await root.sessions.delete(s.id)
    }
  })

  test('4 concurrent writers × 50 messages (transactions, createMany, create) and a follower: no gaps, no repeats, seq 1..200', async () => {
    // On PGlite (one connection) the writers' transactions and the follower's reads interleave
    // one statement or transaction at a time; on the server they really run at once.
    const root = ctx.root()
    const s = await root.sessions.create({ name: unique('writers') })
    const WRITERS = 4
    const EACH = 50
    try {
      const write = async (w: number) => {
        const text = (i: number) => `w${w}-${String(i).padStart(2, '0')}`
        let i = 0
        while (i < EACH) {
          const kind = (i + w) % 3
          if (kind === 0) {
            await root.transaction(async (tx) => {
              for (let k = 0; k < 3 && i < EACH; k++, i++) {
                await tx.messages.create({ sessionId: s.id, role: 'user', textContent: text(i) })
              }
            }, { retries: 5 })
          } else if (kind === 1) {
            const n = Math.min(4, EACH - i)
            await root.messages.createMany(Array.from({ length: n }, (_, k) => ({ sessionId: s.id, role: 'assistant' as const, textContent: text(i + k) })))
            i += n
          } else {
            await root.messages.create({ sessionId: s.id, role: 'tool', textContent: text(i++) })
          }
        }
      }
      const follower = new Follower(root, s.id, 7)
      let writing = true
      const follow = async () => {
        while (writing) {
          await follower.catchUp()
          await sleep(1)
        }
        await follower.catchUp()
      }
      const followed = follow()
      await Promise.all(Array.from({ length: WRITERS }, (_, w) => write(w))).finally(() => {
        writing = false
      })
      await followed
      const all = await root.messages.listBySession(s.id, { limit: 1000 })
      expect(all).toHaveLength(WRITERS * EACH)
      const ids = follower.seen.map((m) => m.id)
      expect(ids.length - new Set(ids).size, 'messages the follower read twice').toBe(0)
      expect(all.filter((m) => !ids.includes(m.id)).map((m) => m.textContent), 'messages the follower missed').toEqual([])
      expect(ids).toEqual(all.map((m) => m.id)) // in seq order
      expect(seqs(all)).toEqual(oneTo(WRITERS * EACH))
      for (let w = 0; w < WRITERS; w++) {
        const mine = texts(all).filter((t) => t!.startsWith(`w${w}-`))
        expect(mine).toEqual([...mine].sort()) // each writer's messages in the order it wrote them
      }
    } finally {
      await root.sessions.delete(s.id)
    }
  }, 60_000)
})

describe('writing a message marks its session active', () => {
  test('updatedAt moves strictly forward and sessions.list() puts the session first', async ({ db }) => {
    const user = await db.users.create({ email: `${unique('active')}@example.com` })
    const quiet = await db.sessions.create({ userId: user.id, name: 'quiet' })
    const talked = await db.sessions.create({ userId: user.id, name: 'talked' })
    const latest = await db.sessions.create({ userId: user.id, name: 'latest' })
    await sleep(5)
    await db.messages.create({ sessionId: talked.id, role: 'user', textContent: 'hi' })
    const after = await db.sessions.get(talked.id)
    expect(after!.updatedAt.getTime()).toBeGreaterThan(talked.updatedAt.getTime())
    expect((await db.sessions.list({ userId: user.id })).map((x) => x.name)[0]).toBe('talked')
    expect((await db.sessions.get(quiet.id))!.updatedAt).toEqual(quiet.updatedAt)

    await sleep(5)
    await db.messages.createMany([{ sessionId: quiet.id, role: 'user', textContent: 'bulk' }])
    const quietAfter = await db.sessions.get(quiet.id)
    expect(quietAfter!.updatedAt.getTime()).toBeGreaterThan(after!.updatedAt.getTime())
    expect((await db.sessions.list({ userId: user.id })).map((x) => x.name)).toEqual(['quiet', 'talked', 'latest'])
    expect((await db.sessions.get(latest.id))!.updatedAt).toEqual(latest.updatedAt)
  })
})

describe('messages.createMany: per-session numbering', () => {
  test('into a missing session: ForeignKeyError (messages_session_id_fkey), nothing written, no number used', async ({ db }) => {
    const s = await db.sessions.create({})
    const first = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'first' })
    expect(first.seq).toBe(1)
    const missing = randomUUID()
    const batches = [
      [{ sessionId: missing, role: 'user' as const, textContent: 'orphan' }],
      [
        { sessionId: s.id, role: 'user' as const, textContent: 'ok' },
        { sessionId: missing, role: 'user' as const, textContent: 'orphan' },
        { sessionId: s.id, role: 'user' as const, textContent: 'ok too' },
      ],
    ]
    for (const batch of batches) {
      const writes: ((tx: Db) => Promise<unknown>)[] = [(tx) => tx.messages.createMany(batch), (tx) => tx.messages.insertMany(batch)]
      for (const write of writes) {
        const err = await db.transaction(write).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(ForeignKeyError)
        expect(err).toMatchObject({ code: '23503', constraint: 'messages_session_id_fkey', table: 'messages' })
        expect((err as ForeignKeyError).message).toContain('messages_session_id_fkey')
      }
    }
    expect(await db.messages.count(s.id)).toBe(1)
    expect(await db.messages.listBySession(missing)).toHaveLength(0)
    const next = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'next' })
    expect(next.seq).toBe(2)
  })

  test('across two sessions: each gets its own 1..n in input order; later writes continue the count', async ({ db }) => {
    const a = await db.sessions.create({ name: 'a' })
    const b = await db.sessions.create({ name: 'b' })
    const created = await db.messages.createMany(
      ['a1', 'b1', 'a2', 'a3', 'b2'].map((t) => ({ sessionId: t.startsWith('a') ? a.id : b.id, role: 'user' as const, textContent: t })),
    )
    expect(created.map((m) => `${m.textContent}:${m.seq}`)).toEqual(['a1:1', 'b1:1', 'a2:2', 'a3:3', 'b2:2'])
    expect(texts(await db.messages.listBySession(a.id))).toEqual(['a1', 'a2', 'a3'])
    expect(texts(await db.messages.listBySession(b.id))).toEqual(['b1', 'b2'])

    expect(await db.messages.insertMany([{ sessionId: b.id, role: 'user', textContent: 'b3' }, { sessionId: a.id, role: 'user', textContent: 'a4' }])).toBe(2)
    expect((await db.messages.create({ sessionId: b.id, role: 'user', textContent: 'b4' })).seq).toBe(4)
    // A deleted message's number is not reused: a cursor past it stays valid.
    const a4 = (await db.messages.listBySession(a.id, { order: 'desc', limit: 1 }))[0]!
    expect(a4).toMatchObject({ textContent: 'a4', seq: 4 })
    await db.messages.delete(a4.id)
    expect((await db.messages.create({ sessionId: a.id, role: 'user', textContent: 'a5' })).seq).toBe(5)
    expect(seqs(await db.messages.listBySession(a.id))).toEqual([1, 2, 3, 5])
    expect(seqs(await db.messages.listBySession(b.id))).toEqual([1, 2, 3, 4])
  })
})

describe.skipIf(backend !== 'postgres')('concurrent createMany over several sessions (server)', () => {
  test('batches over overlapping sets of sessions, in any order, never deadlock each other; every count stays exact', async () => {
    // Each batch locks its sessions in id order. Without that, the UPDATE of the counters locks
    // them in plan order, and two batches over overlapping sets can deadlock (40P01).
    const root = ctx.root()
    const sessions = await Promise.all(Array.from({ length: 12 }, (_, i) => root.sessions.create({ name: unique(`multi-${i}`) })))
    let seed = 42
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const batch = () => {
      const some = sessions.filter(() => random() < 0.5).sort(() => random() - 0.5)
      return [...some, sessions[0]!].flatMap((s) => Array.from({ length: 10 }, () => ({ sessionId: s.id, role: 'user' as const })))
    }
    try {
      let written = 0
      for (let round = 0; round < 100; round++) {
        const batches = [batch(), batch(), batch(), batch()]
        await Promise.all(batches.map((b) => root.messages.insertMany(b)))
        written += batches.reduce((n, b) => n + b.length, 0)
      }
      const counts = await root.query<{ ok: boolean; n: number }>(
        `SELECT bool_and(s.last_seq = c.n AND c.max = c.n) AS ok, sum(c.n)::int AS n
           FROM sessions s JOIN (SELECT session_id, count(*) AS n, max(seq) AS max FROM messages GROUP BY session_id) c
             ON c.session_id = s.id
          WHERE s.id = ANY($1)`,
        [sessions.map((s) => s.id)],
      )
      expect(counts).toEqual([{ ok: true, n: written }])
    } finally {
      for (const s of sessions) await root.sessions.delete(s.id)
    }
  }, 60_000)
})

describe('schema per tenant', () => {
  test("a tenant's messages take numbers from the tenant's sessions, never from another schema's", async () => {
    const root = ctx.root()
    const schema = `mo_${randomUUID().slice(0, 8)}`
    const tenant = root.withSchema(schema)
    const pub = await root.sessions.create({ name: 'public' })
    const onlyPublic = await root.sessions.create({ name: 'only public' })
    try {
      await tenant.migrate()
      // The same session id in both schemas: the tenant's writes must count in the tenant's row.
      await tenant.sessions.create({ id: pub.id, name: 'tenant' })
      await tenant.messages.create({ sessionId: pub.id, role: 'user', textContent: 't1' })
      await tenant.messages.createMany(['t2', 't3'].map((t) => ({ sessionId: pub.id, role: 'user' as const, textContent: t })))
      await tenant.transaction((tx) => tx.messages.create({ sessionId: pub.id, role: 'user', textContent: 't4' }))
      expect(seqs(await tenant.messages.listBySession(pub.id))).toEqual([1, 2, 3, 4])
      expect(await root.messages.count(pub.id)).toBe(0)
      expect((await root.sessions.get(pub.id))!.updatedAt).toEqual(pub.updatedAt)
      expect((await root.messages.create({ sessionId: pub.id, role: 'user', textContent: 'p1' })).seq).toBe(1)

      for (const write of [
        () => tenant.messages.create({ sessionId: onlyPublic.id, role: 'user' }),
        () => tenant.messages.createMany([{ sessionId: onlyPublic.id, role: 'user' }]),
      ]) {
        const err = await write().catch((e: unknown) => e)
        expect(err).toBeInstanceOf(ForeignKeyError)
        expect(err).toMatchObject({ constraint: 'messages_session_id_fkey', table: 'messages' })
      }
      expect((await root.sessions.get(onlyPublic.id))!.updatedAt).toEqual(onlyPublic.updatedAt)
    } finally {
      await root.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await root.sessions.delete(pub.id)
      await root.sessions.delete(onlyPublic.id)
    }
  })
})

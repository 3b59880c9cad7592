import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { CreateMessageInput, NotFoundError, type Db } from '../../src/index.js'
import { compileAcceptor } from '../../src/fast-validation.js'
import { TRUSTED_VALIDATORS } from '../../src/validation.js'
import { EMBEDDING_TABLES, hnswIndexName } from '../../src/search/model-registry.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

const ctx = useTestDb()
const { test, log } = ctx

/** A model name no other test uses (models are global to the database). */
const model = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}`

async function seed(db: Db) {
  const agent = await db.agents.create({ name: unique('emb-agent'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('e')}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  const message = await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'hello' })
  const memory = await db.memories.create({ name: 'favorite_color', content: 'blue', agentId: agent.id })
  return { agent, user, session, message, memory }
}

const stored = (db: Db, table: 'message_embeddings' | 'memory_embeddings', column: string, id: string) =>
  db.query<{ model: string; dimension: number; embedding: number[] }>(
    `SELECT model, dimension, embedding FROM ${table} WHERE ${column} = $1 ORDER BY model`, [id],
  )

describe('setEmbedding', () => {
  test('stores the vector as real[], registers the model with its dimension, replaces on a second call', async ({ db }) => {
    const { message, memory } = await seed(db)
    const m = model('mini')
    await db.messages.setEmbedding(message.id, { model: m, vector: [0.5, -1, 2] })
    expect(await stored(db, 'message_embeddings', 'message_id', message.id)).toEqual([{ model: m, dimension: 3, embedding: [0.5, -1, 2] }])
    expect(await db.query('SELECT dimension FROM embedding_models WHERE name = $1', [m])).toEqual([{ dimension: 3 }])
    await db.messages.setEmbedding(message.id, { model: m, vector: [0.25, 0.25, 0.25] })
    expect(await stored(db, 'message_embeddings', 'message_id', message.id)).toEqual([{ model: m, dimension: 3, embedding: [0.25, 0.25, 0.25] }])
    // another model: a second row; the same model on a memory
    const m2 = model('big')
    await db.messages.setEmbedding(message.id, { model: m2, vector: [1, 2, 3, 4] })
    expect((await stored(db, 'message_embeddings', 'message_id', message.id)).map((r) => r.dimension).sort()).toEqual([3, 4])
    await db.memories.setEmbedding(memory.id, { model: m, vector: [3, 2, 1] })
    expect(await stored(db, 'memory_embeddings', 'memory_id', memory.id)).toEqual([{ model: m, dimension: 3, embedding: [3, 2, 1] }])
    // a value is rounded to real (float4): one below its range is 0, not an underflow error
    await db.memories.setEmbedding(memory.id, { model: m, vector: [0.1, 1e-50, 1] })
    expect((await stored(db, 'memory_embeddings', 'memory_id', memory.id))[0]!.embedding).toEqual([0.1, 0, 1])
  })

  test('first use creates the partial HNSW indexes on both tables when pgvector is there', async ({ db }) => {
    const { message } = await seed(db)
    const m = model('hnsw')
    await db.messages.setEmbedding(message.id, { model: m, vector: [1, 2] })
    const indexes = await db.query<{ indexname: string; indexdef: string }>(
      'SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1) ORDER BY indexname',
      [[hnswIndexName('memory_embeddings', m), hnswIndexName('message_embeddings', m)]],
    )
    if (db.features.vector) {
      expect(indexes.map((i) => i.indexname)).toEqual([hnswIndexName('memory_embeddings', m), hnswIndexName('message_embeddings', m)])
      for (const i of indexes) {
        expect(i.indexdef).toContain('USING hnsw')
        expect(i.indexdef).toContain('vector_cosine_ops')
        expect(i.indexdef).toContain(`WHERE (model = '${m}'::text)`)
        expect(i.indexdef).toMatch(/embedding\)::(public\.)?vector\(2\)/)
      }
    } else {
      expect(indexes).toEqual([])
    }
    expect(db.features.vector).toBe(backend === 'pglite')
  })

  test('a vector of another dimension than its model is a ValidationError; nothing is written', async ({ db }) => {
    const { message, memory } = await seed(db)
    const m = model('dim')
    await db.messages.setEmbedding(message.id, { model: m, vector: [1, 2, 3] })
    await expectValidation(db.messages.setEmbedding(message.id, { model: m, vector: [1, 2] }), 'vector')
    await expectValidation(db.memories.setEmbedding(memory.id, { model: m, vector: [1, 2, 3, 4] }), 'vector')
    expect(await stored(db, 'memory_embeddings', 'memory_id', memory.id)).toEqual([])
    expect((await stored(db, 'message_embeddings', 'message_id', message.id))[0]!.embedding).toEqual([1, 2, 3])
  })

  test('bad input is a ValidationError before any SQL', async ({ db }) => {
    const { message } = await seed(db)
    log.clear()
    const cases: [unknown, string][] = [
      [undefined, 'embedding'], [null, 'embedding'], [[], 'embedding'], [{ model: 'm', vector: [1], extra: 1 }, 'embedding'],
      [{ model: 'm' }, 'vector'], [{ vector: [1] }, 'model'], [{ model: 'm', vector: [] }, 'vector'],
      [{ model: 'm', vector: [NaN] }, 'vector'], [{ model: 'm', vector: [Infinity] }, 'vector'],
      [{ model: 'm', vector: [1e39] }, 'vector'], [{ model: 'm', vector: [0, 0] }, 'vector'],
      [{ model: '', vector: [1] }, 'model'], [{ model: 'a b', vector: [1] }, 'model'],
      [{ model: 'm', vector: new Array(16001).fill(1) }, 'vector'], [{ model: 'm', vector: ['1'] }, 'vector'],
    ]
    for (const [bad, field] of cases) {
      await expectValidation(db.messages.setEmbedding(message.id, bad as never), field)
      await expectValidation(db.memories.setEmbedding(message.id, bad as never), field)
    }
    await expectValidation(db.messages.setEmbedding('nope', { model: 'm', vector: [1] }), 'id')
    expect(log.queries).toEqual([])
  })

  test('a missing message or memory is a NotFoundError; the transaction carries on', async ({ db }) => {
    await seed(db)
    const m = model('missing')
    const err = await db.messages.setEmbedding(randomUUID(), { model: m, vector: [1] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect(err).toMatchObject({ code: 'NOT_FOUND', table: 'messages' })
    await expect(db.memories.setEmbedding(randomUUID(), { model: m, vector: [1] })).rejects.toMatchObject({ code: 'NOT_FOUND', table: 'memories' })
    expect(await db.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }])
  })

  test('deleting a message or memory deletes its embeddings (cascade)', async ({ db }) => {
    const { message, memory, session } = await seed(db)
    const m = model('cascade')
    await db.messages.setEmbedding(message.id, { model: m, vector: [1, 1] })
    await db.memories.setEmbedding(memory.id, { model: m, vector: [1, 1] })
    const other = await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'x', embedding: { model: m, vector: [2, 1] } })
    expect(await db.messages.delete(message.id)).toBe(true)
    expect(await db.memories.delete(memory.id)).toBe(true)
    expect(await stored(db, 'message_embeddings', 'message_id', message.id)).toEqual([])
    expect(await stored(db, 'memory_embeddings', 'memory_id', memory.id)).toEqual([])
    expect(await stored(db, 'message_embeddings', 'message_id', other.id)).toHaveLength(1)
    await db.messages.deleteBySession(session.id)
    expect(await stored(db, 'message_embeddings', 'message_id', other.id)).toEqual([])
  })
})

describe('embedding in messages.create / createMany / insertMany', () => {
  test('create writes the message and its embedding in one statement', async ({ db }) => {
    const { session } = await seed(db)
    const m = model('create')
    await db.messages.setEmbedding((await db.messages.create({ sessionId: session.id, role: 'user' })).id, { model: m, vector: [1, 0] })
    log.clear()
    const msg = await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'hi', embedding: { model: m, vector: [0, 1] } })
    const writes = log.queries.filter((q) => /insert into/i.test(q))
    expect(writes).toHaveLength(1)
    expect(writes[0]).toMatch(/insert into "messages"/i)
    expect(writes[0]).toMatch(/insert into "message_embeddings"/i)
    expect(msg).toMatchObject({ sessionId: session.id, textContent: 'hi', seq: 3 })
    expect(await stored(db, 'message_embeddings', 'message_id', msg.id)).toEqual([{ model: m, dimension: 2, embedding: [0, 1] }])
    expect(await db.messages.get(msg.id)).toEqual(msg)
  })

  test('create: a wrong dimension for the model or a bad embedding is a ValidationError, nothing written', async ({ db }) => {
    const { session } = await seed(db)
    const m = model('create-dim')
    await db.messages.create({ sessionId: session.id, role: 'user', embedding: { model: m, vector: [1, 0] } })
    await expectValidation(db.messages.create({ sessionId: session.id, role: 'user', embedding: { model: m, vector: [1, 0, 0] } }), 'embedding.vector')
    await expectValidation(db.messages.create({ sessionId: session.id, role: 'user', embedding: { model: m, vector: [NaN, 0] } }), 'embedding')
    await expectValidation(db.messages.create({ sessionId: session.id, role: 'user', embedding: null as never }), 'embedding')
    expect(await db.messages.count(session.id)).toBe(2) // seed's and the first
  })

  test('createMany: embeddings of some rows, several models, ids match, one statement', async ({ db }) => {
    const { session } = await seed(db)
    const [a, b] = [model('many-a'), model('many-b')]
    log.clear()
    const rows = await db.messages.createMany([
      { sessionId: session.id, role: 'user', textContent: 'one', embedding: { model: a, vector: [1, 0] } },
      { sessionId: session.id, role: 'assistant', textContent: 'two' },
      { sessionId: session.id, role: 'user', textContent: 'three', embedding: { model: b, vector: [1, 2, 3] } },
      { sessionId: session.id, role: 'user', id: randomUUID(), textContent: 'four', embedding: { model: a, vector: [0, 1] } },
    ])
    const bulk = log.queries.filter((q) => /insert into "messages"/i.test(q))
    expect(bulk).toHaveLength(1)
    expect(bulk[0]).toMatch(/insert into "message_embeddings"/i)
    expect(rows.map((r) => r.textContent)).toEqual(['one', 'two', 'three', 'four'])
    expect(rows.map((r) => r.seq)).toEqual([2, 3, 4, 5])
    expect(await stored(db, 'message_embeddings', 'message_id', rows[0]!.id)).toEqual([{ model: a, dimension: 2, embedding: [1, 0] }])
    expect(await stored(db, 'message_embeddings', 'message_id', rows[1]!.id)).toEqual([])
    expect(await stored(db, 'message_embeddings', 'message_id', rows[2]!.id)).toEqual([{ model: b, dimension: 3, embedding: [1, 2, 3] }])
    expect(await stored(db, 'message_embeddings', 'message_id', rows[3]!.id)).toEqual([{ model: a, dimension: 2, embedding: [0, 1] }])
    const n = await db.messages.insertMany([
      { sessionId: session.id, role: 'user', textContent: 'five', embedding: { model: b, vector: [3, 2, 1] } },
      { sessionId: session.id, role: 'user', textContent: 'six' },
    ])
    expect(n).toBe(2)
    expect((await db.query('SELECT count(*)::int AS n FROM message_embeddings WHERE model = $1', [b]))[0]).toEqual({ n: 2 })
  })

  test('createMany: dimensions are checked within the batch and against the registry before SQL', async ({ db }) => {
    const { session } = await seed(db)
    const m = model('batch')
    log.clear()
    await expectValidation(
      db.messages.createMany([
        { sessionId: session.id, role: 'user', embedding: { model: m, vector: [1, 0] } },
        { sessionId: session.id, role: 'user', embedding: { model: m, vector: [1, 0, 1] } },
      ]),
      'inputs[1].embedding.vector',
    )
    expect(log.queries).toEqual([])
    await db.messages.setEmbedding((await db.messages.create({ sessionId: session.id, role: 'user' })).id, { model: m, vector: [1, 0, 0, 0] })
    await expectValidation(
      db.messages.createMany([{ sessionId: session.id, role: 'user', embedding: { model: m, vector: [1, 0] } }]),
      'embedding.vector',
    )
    expect(await db.messages.count(session.id)).toBe(2) // seed's and the one embedded with setEmbedding
  })
})

describe('model registration', () => {
  test('an embedding keeps CreateMessageInput on the fast validation path', () => {
    const input = Object.assign(new CreateMessageInput(), {
      sessionId: randomUUID(), role: 'user', textContent: 'x', embedding: { model: 'm', vector: [1, 2] },
    })
    expect(compileAcceptor(CreateMessageInput, TRUSTED_VALIDATORS)(input)).toBe(true)
    expect(compileAcceptor(CreateMessageInput, TRUSTED_VALIDATORS)(Object.assign(input, { embedding: { model: 'm', vector: [] } }))).toBe(false)
  })

  test('concurrent first uses of a model: one registration, every write lands; another dimension loses', async () => {
    const db = ctx.root()
    const { session } = await seed(db)
    const messages = await db.messages.createMany(Array.from({ length: 6 }, () => ({ sessionId: session.id, role: 'user' as const })))
    const m = model('race')
    try {
      const results = await Promise.allSettled(
        messages.map((msg, i) => db.messages.setEmbedding(msg.id, { model: m, vector: i === 5 ? [1, 2, 3] : [1, i] })),
      )
      const registered = await db.query<{ dimension: number }>('SELECT dimension FROM embedding_models WHERE name = $1', [m])
      expect(registered).toHaveLength(1)
      const dim = registered[0]!.dimension
      results.forEach((r, i) => {
        const ok = (i === 5 ? 3 : 2) === dim
        expect(r.status, `write ${i}`).toBe(ok ? 'fulfilled' : 'rejected')
        if (!ok) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'VALIDATION' })
      })
      const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM message_embeddings WHERE model = $1', [m])
      expect(n[0]!.n).toBe(dim === 2 ? 5 : 1)
      if (db.features.vector) {
        const idx = await db.query('SELECT 1 FROM pg_indexes WHERE indexname = ANY($1)', [EMBEDDING_TABLES.map((t) => hnswIndexName(t, m))])
        expect(idx).toHaveLength(2)
      }
    } finally {
      await db.sessions.delete(session.id)
      for (const t of EMBEDDING_TABLES) await db.query(`DROP INDEX IF EXISTS ${hnswIndexName(t, m)}`)
      await db.query('DELETE FROM embedding_models WHERE name = $1', [m])
    }
  })

  test('a registration inside a transaction that rolls back leaves nothing', async () => {
    const db = ctx.root()
    const { session, message } = await seed(db)
    const m = model('rollback')
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.messages.setEmbedding(message.id, { model: m, vector: [1, 2] })
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await db.query('SELECT 1 FROM embedding_models WHERE name = $1', [m])).toEqual([])
      expect(await db.query('SELECT 1 FROM pg_indexes WHERE indexname = ANY($1)', [EMBEDDING_TABLES.map((t) => hnswIndexName(t, m))])).toEqual([])
    } finally {
      await db.sessions.delete(session.id)
    }
  })
})

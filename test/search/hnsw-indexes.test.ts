import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { hnswIndexName } from '../../src/search/model-registry.js'
import { useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

const ctx = useTestDb()
const { test } = ctx

// A model first used while the server had no pgvector gets no HNSW index. Once pgvector is
// installed, db.migrate() builds the missing ones (here: the indexes are dropped to stand for that).
describe.runIf(backend === 'pglite')('HNSW indexes of models registered without pgvector', () => {
  test('db.migrate() builds the missing per-model indexes, and leaves existing ones alone', async ({ db }) => {
    const model = `late-${randomUUID().slice(0, 8)}`
    const agent = await db.agents.create({ name: `hnsw-${model}`, type: 't', model: 'm' })
    const memory = await db.memories.create({ name: 'n', content: 'c', agentId: agent.id })
    await db.memories.setEmbedding(memory.id, { model, vector: [1, 2, 3] })
    const names = ['message_embeddings', 'memory_embeddings'].map((t) => hnswIndexName(t, model))
    const indexes = async () =>
      (await db.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE indexname = ANY($1) ORDER BY 1', [names])).map((r) => r.indexname)
    expect(await indexes()).toEqual([...names].sort())

    for (const name of names) await db.query(`DROP INDEX ${name}`)
    expect(await indexes()).toEqual([])
    expect(await db.migrate()).toEqual([])
    expect(await indexes()).toEqual([...names].sort())
    expect(await db.migrate()).toEqual([])
    const hits = await db.memories.search({ vector: [1, 2, 3], model })
    expect(hits.map((h) => h.item.id)).toEqual([memory.id])
  })
})

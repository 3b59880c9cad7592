import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx

describe('search in a tenant schema (db.withSchema)', () => {
  test('full text, fuzzy, embeddings and vector search address the tenant tables', async ({ db }) => {
    const schema = `tenant_${randomUUID().slice(0, 8)}`
    const tenant = db.withSchema(schema)
    await tenant.migrate()
    const agent = await tenant.agents.create({ name: 'a', type: 't', model: 'm' })
    const user = await tenant.users.create({ email: 'u@example.com' })
    const session = await tenant.sessions.create({ userId: user.id, agentId: agent.id })
    const model = `tenant-${randomUUID().slice(0, 8)}`
    const [m] = await tenant.messages.createMany([
      { sessionId: session.id, role: 'user', textContent: 'tenant teapot', embedding: { model, vector: [1, 0] } },
    ])
    const memory = await tenant.memories.create({ name: 'favorite_color', content: 'green', agentId: agent.id })
    await tenant.memories.setEmbedding(memory.id, { model, vector: [0, 1] })
    // the root schema has none of these rows
    expect(await db.messages.search({ text: 'teapot', sessionId: session.id })).toEqual([])
    expect((await tenant.messages.search({ text: 'teapot' })).map((h) => h.item.id)).toEqual([m!.id])
    expect((await tenant.memories.search({ text: 'favourite colr', mode: 'fuzzy' })).map((h) => h.item.id)).toEqual([memory.id])
    const rows = await db.query(`SELECT count(*)::int AS n FROM "${schema}".message_embeddings WHERE model = $1`, [model])
    expect(rows).toEqual([{ n: 1 }])
    if (db.features.vector) {
      expect((await tenant.memories.search({ vector: [0, 1], model })).map((h) => h.item.id)).toEqual([memory.id])
      expect((await tenant.messages.search({ text: 'teapot', vector: [1, 0], model })).map((h) => h.item.id)).toEqual([m!.id])
    }
  })
})

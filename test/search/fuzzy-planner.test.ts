import { describe, expect } from 'vitest'
import { unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx

// Fuzzy search keeps the planner off a sequential scan (pg_trgm's functions look cheap to it, and
// cost ~10 µs a row on content) with set_config(..., true) for its own statement only.
describe('fuzzy search planner settings', () => {
  test('inside your transaction the setting is put back after the search, whatever it was', async ({ db }) => {
    const agent = await db.agents.create({ name: unique('fz'), type: 't', model: 'm' })
    await db.memories.create({ name: 'favorite_color', content: 'blue', agentId: agent.id })
    const show = async () => (await db.query<{ enable_seqscan: string }>('SHOW enable_seqscan'))[0]!.enable_seqscan
    expect(await show()).toBe('on')
    const hits = await db.memories.search({ text: 'favourite colr', mode: 'fuzzy', agentId: agent.id })
    expect(hits.map((h) => h.item.name)).toEqual(['favorite_color'])
    expect(await show()).toBe('on')
    await db.query("SET LOCAL enable_seqscan = 'off'")
    await db.memories.search({ text: 'favorit color', mode: 'fuzzy', agentId: agent.id })
    expect(await show()).toBe('off')
  })
})

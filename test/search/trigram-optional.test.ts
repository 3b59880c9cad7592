import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { FeatureUnavailableError, type Db } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

// pg_trgm is optional like pgvector: a role without CREATE on the database cannot create it, and
// migration 0003 then carries on without it. Stood for here by dropping it (this file's own
// database): fuzzy search throws FeatureUnavailableError, everything else works, and once the
// extension is installed db.migrate() builds the trigram indexes.
let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

const trigramIndexes = async () =>
  (await db.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE indexname LIKE 'memories_%_trgm_idx' ORDER BY 1`)).map((r) => r.indexname)

describe('without pg_trgm', () => {
  test('fuzzy search is FeatureUnavailableError until the extension is installed and db.migrate() builds its indexes', async () => {
    const agent = await db.agents.create({ name: 'trgm-agent', type: 't', model: 'm' })
    await db.memories.create({ name: 'favorite_color', content: 'blue', agentId: agent.id })
    expect(await trigramIndexes()).toEqual(['memories_content_trgm_idx', 'memories_name_trgm_idx'])

    await db.query('DROP EXTENSION pg_trgm CASCADE')
    expect(await db.migrate()).toEqual([])
    expect(db.features.trigram).toBe(false)
    expect(await trigramIndexes()).toEqual([])
    const err = await db.memories.search({ text: 'favourite colr', mode: 'fuzzy' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FeatureUnavailableError)
    expect(err).toMatchObject({ code: 'FEATURE_UNAVAILABLE', extension: 'pg_trgm' })
    expect((await db.memories.search({ text: 'favorite color' })).map((h) => h.item.name)).toEqual(['favorite_color'])

    await db.query('CREATE EXTENSION pg_trgm')
    // A running Db notices it at the next fuzzy search…
    expect((await db.memories.search({ text: 'favorit color', mode: 'fuzzy' })).map((h) => h.item.name)).toEqual(['favorite_color'])
    expect(db.features.trigram).toBe(true)
    // …and db.migrate() builds the indexes.
    expect(await db.migrate()).toEqual([])
    expect(await trigramIndexes()).toEqual(['memories_content_trgm_idx', 'memories_name_trgm_idx'])
  })
})

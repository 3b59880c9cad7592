import { readFile } from 'node:fs/promises'
import { expect, test } from 'vitest'
import { generateDatabaseTypes } from '../../src/codegen/generate-types.js'

test('the committed src/generated/database.ts matches the migrated schema (run `npm run codegen` if not)', async () => {
  const committed = await readFile(new URL('../../src/generated/database.ts', import.meta.url), 'utf8')
  const fresh = await generateDatabaseTypes()
  expect(fresh).toContain('export interface Database {')
  expect(committed).toBe(fresh)
}, 60_000)

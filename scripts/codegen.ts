/**
 * Regenerates src/generated/database.ts from the migrated schema with kysely-codegen.
 * Runs on embedded PGlite, so it needs no server:  npm run codegen
 * With --check it only reports whether the committed file is stale (exit 1 when it is).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { generateDatabaseTypes } from '../src/codegen/generate-types.js'

const target = fileURLToPath(new URL('../src/generated/database.ts', import.meta.url))
const check = process.argv.includes('--check')

const fresh = await generateDatabaseTypes()
const current = await readFile(target, 'utf8').catch(() => '')
if (check) {
  if (current !== fresh) {
    console.error('src/generated/database.ts is stale: run `npm run codegen`')
    process.exit(1)
  }
  console.log('src/generated/database.ts is up to date')
} else if (current === fresh) {
  console.log('src/generated/database.ts is up to date')
} else {
  await writeFile(target, fresh)
  console.log('wrote src/generated/database.ts')
}

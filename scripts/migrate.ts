/**
 * `npm run migrate -- latest|down|status`: migrations of the database at DATABASE_URL
 * (or of an embedded PGlite in `--data-dir <dir>`).
 */
import { Db } from '../src/index.js'

const args = process.argv.slice(2)
const command = args.find((a) => !a.startsWith('--')) ?? 'status'
const dirFlag = args.indexOf('--data-dir')
const dataDir = dirFlag >= 0 ? args[dirFlag + 1] : undefined

if (!['latest', 'down', 'status'].includes(command)) {
  console.error('usage: npm run migrate -- latest|down|status [--data-dir <dir>]')
  process.exit(2)
}
if (!process.env.DATABASE_URL && !dataDir) {
  console.error('set DATABASE_URL (or pass --data-dir <dir> for an embedded database on disk)')
  process.exit(2)
}

await using db = await Db.connect(dataDir ? { dataDir, embedded: true } : {})
if (command === 'latest') {
  const applied = await db.migrate()
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date')
} else if (command === 'down') {
  const reverted = await db.migrateDown()
  console.log(reverted.length ? `reverted: ${reverted.join(', ')}` : 'nothing to revert')
} else {
  for (const m of await db.migrationStatus()) {
    console.log(`${m.executedAt ? m.executedAt.toISOString() : 'pending'.padEnd(24)}  ${m.name}`)
  }
}

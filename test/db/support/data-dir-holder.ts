// Child process of data-dir-lock.test.ts: opens a Db on the data folder argv[2] (migrated),
// commits an agent named argv[3] if given, then reports one JSON line on stdout and holds the Db
// open until it is killed. When the open fails it reports the error and exits.
import { Db } from '../../../src/index.js'

const [dataDir, agentName] = process.argv.slice(2)
const report = (line: object) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...line })}\n`)
try {
  const db = await Db.connect({ dataDir: dataDir!, migrate: true })
  if (agentName) await db.agents.create({ name: agentName, type: 'simple', model: 'gpt-4' })
  report({ ready: true })
  setInterval(() => undefined, 60_000) // hold the folder until killed
} catch (err) {
  const e = err as { name?: string; code?: string; message?: string }
  report({ ready: false, name: e.name, code: e.code, message: e.message })
  process.exit(0)
}

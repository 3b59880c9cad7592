// The app's entry point, run by run.sh from the compiled `dist/` on plain Node: on a database that
// `automagik-db migrate latest --migrations ./migrations` migrated (DATABASE_URL, or
// `--data-dir DIR`), it rates a session and prints the team's ratings as JSON.
import { parseArgs } from 'node:util'
import { connectAppDb } from './app-db.js'
import { FeedbackService } from './feedback.service.js'

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } } })
const dataDir = values['data-dir']
await using db = await connectAppDb(dataDir === undefined ? {} : { dataDir })

const pending = (await db.migrationStatus()).filter((m) => m.executedAt === null)
if (pending.length > 0) {
  throw new Error(`pending migrations (${pending.map((m) => m.name).join(', ')}): run automagik-db migrate latest`)
}

const service = new FeedbackService(db)
const team = `support-${process.pid}`
const agent = await db.agents.create({ name: team, type: 'simple', model: 'gpt-4' })
await service.assignTeam(agent.id, team)
const user = await db.users.create({ email: `${team}@example.com` })
const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
await service.rateSession(session.id, 5, 'solved it')
console.log(JSON.stringify(await service.teamRatings(team)))

import { randomUUID } from 'node:crypto'
import type { Agent, Session, User } from 'automagik-db'
import type { AppDb } from '../src/app-db.js'

/** An agent, a user and a session of theirs, with names unique to this call. */
export async function seedSession(db: AppDb, agentName = `agent-${randomUUID()}`): Promise<{ agent: Agent; user: User; session: Session }> {
  const agent = await db.agents.getByName(agentName) ?? (await db.agents.create({ name: agentName, type: 'simple', model: 'gpt-4' }))
  const user = await db.users.create({ email: `${randomUUID()}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  return { agent, user, session }
}

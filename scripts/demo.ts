/**
 * The seed's quick start, on automagik-db: `npm run demo`.
 * Runs on embedded PGlite (no server needed); set DATABASE_URL to run it on PostgreSQL instead
 * (it writes rows named `demo_*` and removes them at the end).
 */
import { Db, ValidationError } from '../src/index.js'

await using db = await Db.connect()
await db.migrate()
console.log(`connected: ${db}`)

// Create an agent (creates it, or updates the agent with that name).
const agent = await db.agents.create({
  name: 'demo_agent',
  type: 'simple',
  model: 'gpt-4',
  description: 'A simple test agent',
  config: { temperature: 0.7 },
  version: '1.0.0',
})
console.log(`agent #${agent.id} ${agent.name} (${agent.model}), run ${await db.agents.incrementRunId(agent.id)}`)

// Create a user (upsert by email, case-insensitive).
const user = await db.users.create({
  email: 'demo_user@example.com',
  phoneNumber: '1234567890',
  userData: { name: 'Example User' },
})
console.log(`user #${user.id} ${user.email}; by email: #${(await db.users.getByEmail('DEMO_USER@example.com'))?.id}`)

// A session with a few messages, written in one transaction.
const session = await db.transaction(async (tx) => {
  const s = await tx.sessions.create({ userId: user.id, agentId: agent.id, name: 'Example Session', platform: 'web' })
  await tx.messages.createMany([
    { sessionId: s.id, role: 'system', textContent: 'You are a helpful assistant.' },
    { sessionId: s.id, role: 'user', userId: user.id, textContent: 'What is the capital of France?' },
    { sessionId: s.id, role: 'assistant', agentId: agent.id, textContent: 'Paris.' },
  ])
  return s
})
console.log(`session ${session.id}:`)
for (const m of await db.messages.listBySession(session.id)) console.log(`  ${m.role.padEnd(9)} ${m.textContent}`)

// Memories: agent-global and per user; same name, different scopes.
await db.memories.create({ name: 'tone', content: 'formal', agentId: agent.id, readMode: 'system_prompt' })
await db.memories.create({ name: 'tone', content: 'casual', agentId: agent.id, userId: user.id, readMode: 'tool' })
for (const m of await db.memories.list({ agentId: agent.id })) {
  console.log(`memory ${m.name} [${m.userId === null ? 'agent-global' : `user #${m.userId}`}]: ${m.content}`)
}

// Lists and finishing.
console.log(`sessions of user: ${(await db.sessions.list({ userId: user.id })).length}`)
console.log(`finished: ${await db.sessions.finish(session.id)}`)
console.log(`active agents: ${(await db.agents.list()).map((a) => a.name).join(', ')}`)

// Bad input is rejected before any SQL, naming the field.
try {
  await db.users.create({ email: 'not-an-email' })
} catch (err) {
  if (err instanceof ValidationError) console.log(`rejected: ${err.fields.join(', ')} (${err.code})`)
  else throw err
}

// model_dump() / Model(**dict)
const dict = agent.toPlain()
console.log(`toPlain keys: ${Object.keys(dict).join(', ')}`)

// Clean up (cascades to sessions, messages and memories).
await db.agents.delete(agent.id)
await db.users.delete(user.id)
console.log('done')

import { AgentRepository } from './agent.repository.js'
import { UserRepository } from './user.repository.js'
import { SessionRepository } from './session.repository.js'
import { MessageRepository } from './message.repository.js'
import { MemoryRepository } from './memory.repository.js'
import { ContextRepository } from './context.repository.js'

/**
 * Every repository a Db has, by the name of its getter. A Db builds its getters from this list,
 * so a new repository is one line here plus its model and repository files.
 */
export const repositories = {
  /** Agents: create-or-update by name, lookups, the atomic run counter. */
  agents: AgentRepository,
  /** Users: create-or-update by email (case-insensitive), lookups. */
  users: UserRepository,
  /** Sessions of users with agents, latest activity first. */
  sessions: SessionRepository,
  /** Messages of sessions, in the order they were written. */
  messages: MessageRepository,
  /** Memories scoped to agents, users and sessions. */
  memories: MemoryRepository,
  /** The context of a turn (session, agent, user, memories, newest messages) in one statement. */
  context: ContextRepository,
} as const

/** The repository getters of a Db: `agents: AgentRepository`, … */
export type Repositories = { readonly [K in keyof typeof repositories]: InstanceType<(typeof repositories)[K]> }

/** The name of one repository getter. */
export type RepositoryName = keyof typeof repositories

import 'reflect-metadata'

export { Db } from './db.js'
export type { DbOptions } from './connect-options.js'
export type { Logger } from './logger.js'
export type { TelemetryOption, TelemetryProviders } from './telemetry/options.js'
export type { TransactionHandle } from './db.js'
export type { RepositoryClass } from './db-types.js'
export type { TransactionOptions, IsolationLevel } from './execution/transaction.js'
export type { Features } from './execution/extensions.js'
export { kyselyContext, type QueryContext } from './execution/query-context.js'
export { repositories, type Repositories } from './repositories/registry.js'
export type { MigrationStatus } from './migrator.js'
export { loadAppMigrations, type AppMigrations, type MigrationOwner } from './migration-sources.js'
export * from './errors.js'
export { translateError } from './pg-errors.js'
export type { Database } from './generated/database.js'
export type { JsonObject, JsonArray, JsonValue } from './models/entity.js'
export type { Entity } from './models/entity.js'
export { Agent, CreateAgentInput, UpdateAgentInput } from './models/agent.model.js'
export { User, CreateUserInput, UpdateUserInput } from './models/user.model.js'
export { Session, CreateSessionInput, UpdateSessionInput } from './models/session.model.js'
export { Message, CreateMessageInput, UpdateMessageInput, MESSAGE_ROLES, type MessageRole } from './models/message.model.js'
export {
  Memory,
  CreateMemoryInput,
  UpdateMemoryInput,
  READ_MODES,
  ACCESS_MODES,
  type ReadMode,
  type Access,
} from './models/memory.model.js'
export {
  BaseRepository,
  type TableSpec,
  type Page,
  type ListPage,
  type Keyset,
  asListPage,
  type ListOptions,
  DEFAULT_LIMIT,
  MAX_LIMIT,
} from './repositories/base.repository.js'
export { AgentRepository, type AgentListOptions } from './repositories/agent.repository.js'
export { UserRepository } from './repositories/user.repository.js'
export { SessionRepository, type SessionFilter } from './repositories/session.repository.js'
export { MessageRepository, type ListBySessionOptions, type MessageList, type PruneOptions } from './repositories/message.repository.js'
export { MemoryRepository, type MemoryScope, type MemoryFilter, type MemorySearchOptions } from './repositories/memory.repository.js'
export type { MessageSearchOptions } from './repositories/message.repository.js'
export type { ResolveScope, EffectiveOptions } from './repositories/memory-scope.js'
export {
  ContextRepository,
  DEFAULT_CONTEXT_MESSAGES,
  MAX_CONTEXT_MESSAGES,
  type ContextOptions,
  type TurnContext,
} from './repositories/context.repository.js'
export type { SearchHit, SearchHits } from './search/hits.js'
export { EmbeddingInput } from './search/embedding-input.js'
export type { SearchOptionsBase } from './search/search-options.js'

import { MESSAGE_ROLES, messageColumns, toMessage, type Message } from '../models/message.model.js'
import { memoryColumns, READ_MODES, toMemory, type Memory } from '../models/memory.model.js'
import { liveMemory } from '../repositories/memory-expiry.js'
import type { SearchTarget } from './search-target.js'

/** Search over messages: full text, vector, hybrid; filters sessionId, userId, agentId, role. */
export const messageSearchTarget: SearchTarget<Message> = {
  table: 'messages',
  columns: messageColumns,
  toEntity: toMessage,
  embeddings: 'message_embeddings',
  owner: 'message_id',
  modes: ['fulltext', 'vector', 'hybrid'],
  filters: [
    ['sessionId', 'session_id', 'uuid'],
    ['userId', 'user_id', 'id'],
    ['agentId', 'agent_id', 'id'],
    ['role', 'role', MESSAGE_ROLES],
  ],
}

/** Search over memories: full text, fuzzy, vector, hybrid; filters agentId, userId, sessionId, readMode. */
export const memorySearchTarget: SearchTarget<Memory> = {
  table: 'memories',
  columns: memoryColumns,
  toEntity: toMemory,
  embeddings: 'memory_embeddings',
  owner: 'memory_id',
  modes: ['fulltext', 'fuzzy', 'vector', 'hybrid'],
  filters: [
    ['agentId', 'agent_id', 'id'],
    ['userId', 'user_id', 'id'],
    ['sessionId', 'session_id', 'uuid'],
    ['readMode', 'read_mode', READ_MODES],
  ],
  live: liveMemory('t'),
}

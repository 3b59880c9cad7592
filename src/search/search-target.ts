import type { RawBuilder, SqlBool } from 'kysely'

/** How a scope filter's value is checked: a database id, a UUID, or one of some values. */
export type FilterKind = 'id' | 'uuid' | readonly string[]

/**
 * What search needs to know of a table: its columns and entity mapping, its embeddings table,
 * the modes it supports and its scope filters (option key → column).
 */
export interface SearchTarget<T> {
  /** `messages` or `memories`: also the name in error messages and cursors. */
  readonly table: 'messages' | 'memories'
  readonly columns: readonly string[]
  toEntity(row: any): T
  readonly embeddings: 'message_embeddings' | 'memory_embeddings'
  /** The embeddings table's column pointing at the row. */
  readonly owner: 'message_id' | 'memory_id'
  readonly modes: readonly SearchMode[]
  readonly filters: readonly (readonly [key: string, column: string, kind: FilterKind])[]
  /** The rows that exist, over alias `t` (memories: not expired); left out: every row. */
  readonly live?: RawBuilder<SqlBool>
}

/** The search modes; `fuzzy` is for memories only. */
export const SEARCH_MODES = ['fulltext', 'fuzzy', 'vector', 'hybrid'] as const
export type SearchMode = (typeof SEARCH_MODES)[number]

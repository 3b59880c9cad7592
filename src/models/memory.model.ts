import { Type } from 'class-transformer'
import { IsIn, IsOptional, MaxLength, MinLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Memories } from '../generated/database.js'
import { IsDbId, IsJsonObject, IsSafeText, IsTimestamp, IsUuidText } from '../validation.js'
import { entityFromPlain, entityToPlain, type Entity, type JsonObject } from './entity.js'


/** A row as the repositories read it: every column but the search index's `search_vector`. */
export type MemoryRow = Omit<Selectable<Memories>, 'search_vector'>
export const READ_MODES = ['system_prompt', 'tool'] as const
export type ReadMode = (typeof READ_MODES)[number]
export const ACCESS_MODES = ['read', 'write', 'read_write'] as const
export type Access = (typeof ACCESS_MODES)[number]

/**
 * A named piece of knowledge. Its scope is (agentId, userId, sessionId): an agent-global memory
 * has userId null; a user's memory across agents has agentId null. At least one is set.
 * `expiresAt`: when it stops existing for every read (null: never); see `memories.sweepExpired`.
 */
export class Memory implements Entity {
  id!: string
  name!: string
  description!: string | null
  content!: string | null
  sessionId!: string | null
  userId!: number | null
  agentId!: number | null
  readMode!: ReadMode | null
  access!: Access | null
  metadata!: JsonObject
  @Type(() => Date) expiresAt!: Date | null
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date

  /** Builds the entity from a row (with no row: an empty entity, as class-transformer needs). */
  constructor(row?: MemoryRow) {
    if (row === undefined) return
    this.id = row.id
    this.name = row.name
    this.description = row.description
    this.content = row.content
    this.sessionId = row.session_id
    this.userId = row.user_id
    this.agentId = row.agent_id
    this.readMode = row.read_mode as ReadMode | null
    this.access = row.access as Access | null
    this.metadata = row.metadata as JsonObject
    this.expiresAt = row.expires_at
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
  }

  /**
   * The seed's `model_dump()`: a plain object; dates stay Date objects.
   *
   * @example
   * ```ts
   * const dict = memory.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return entityToPlain(this)
  }

  /**
   * The seed's `Memory(**dict)`: from a plain object, e.g. one that went through JSON.
   *
   * @example
   * ```ts
   * const copy = Memory.fromPlain(JSON.parse(JSON.stringify(memory.toPlain())))
   * ```
   */
  static fromPlain(plain: object): Memory {
    return entityFromPlain(Memory, plain)
  }
}

/** The columns every memory query reads. */
export const memoryColumns = [
  'id', 'name', 'description', 'content', 'session_id', 'user_id', 'agent_id', 'read_mode', 'access',
  'metadata', 'expires_at', 'created_at', 'updated_at',
] as const

/** Row → Memory: one constructor call, no reflection (the hot path of every read). */
export function toMemory(row: MemoryRow): Memory {
  return new Memory(row)
}

/** The memory fields that are optional both when creating and when updating. */
class MemoryOptionalFields {
  @IsOptional() @IsSafeText() description?: string | null
  @IsOptional() @IsSafeText() content?: string | null
  @IsOptional() @IsUuidText() sessionId?: string | null
  @IsOptional() @IsDbId() userId?: number | null
  @IsOptional() @IsDbId() agentId?: number | null
  @IsOptional() @IsIn(READ_MODES) readMode?: ReadMode | null
  @IsOptional() @IsIn(ACCESS_MODES) access?: Access | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() metadata?: JsonObject
  /** When the memory expires (every read leaves it out from then on); null: never. */
  @IsOptional() @IsTimestamp() expiresAt?: Date | null
}

/**
 * Input of `memories.create`: creates the memory or updates the one with this name and scope.
 * At least one of `agentId` and `userId` is required.
 */
export class CreateMemoryInput extends MemoryOptionalFields {
  @IsOptional() @IsUuidText() id?: string
  @IsSafeText() @MinLength(1) @MaxLength(255) name!: string
}

/** Input of `memories.update`: only the fields given are changed. */
export class UpdateMemoryInput extends MemoryOptionalFields {
  @ValidateIf((_, v) => v !== undefined) @IsSafeText() @MinLength(1) @MaxLength(255) name?: string
}

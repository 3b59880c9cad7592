import { Type } from 'class-transformer'
import { IsOptional, MaxLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Sessions } from '../generated/database.js'
import { IsDbId, IsJsonObject, IsSafeText, IsTimestamp, IsUuidText } from '../validation.js'
import { entityFromPlain, entityToPlain, type Entity, type JsonObject } from './entity.js'

/** A conversation between a user and an agent. */
export class Session implements Entity {
  id!: string
  userId!: number | null
  agentId!: number | null
  name!: string | null
  platform!: string | null
  metadata!: JsonObject
  @Type(() => Date) runFinishedAt!: Date | null
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date

  /** Builds the entity from a row (with no row: an empty entity, as class-transformer needs). */
  constructor(row?: Selectable<Sessions>) {
    if (row === undefined) return
    this.id = row.id
    this.userId = row.user_id
    this.agentId = row.agent_id
    this.name = row.name
    this.platform = row.platform
    this.metadata = row.metadata as JsonObject
    this.runFinishedAt = row.run_finished_at
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
  }

  /**
   * The seed's `model_dump()`: a plain object; dates stay Date objects.
   *
   * @example
   * ```ts
   * const dict = session.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return entityToPlain(this)
  }

  /**
   * The seed's `Session(**dict)`: from a plain object, e.g. one that went through JSON.
   *
   * @example
   * ```ts
   * const copy = Session.fromPlain(JSON.parse(JSON.stringify(session.toPlain())))
   * ```
   */
  static fromPlain(plain: object): Session {
    return entityFromPlain(Session, plain)
  }
}

/** The columns every session query reads. */
export const sessionColumns = [
  'id', 'user_id', 'agent_id', 'name', 'platform', 'metadata', 'run_finished_at', 'created_at', 'updated_at',
] as const

/** Row → Session: one constructor call, no reflection (the hot path of every read). */
export function toSession(row: Selectable<Sessions>): Session {
  return new Session(row)
}

/** Input of `sessions.update`: only the fields given are changed. */
export class UpdateSessionInput {
  @IsOptional() @IsDbId() userId?: number | null
  @IsOptional() @IsDbId() agentId?: number | null
  @IsOptional() @IsSafeText() @MaxLength(255) name?: string | null
  @IsOptional() @IsSafeText() @MaxLength(255) platform?: string | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() metadata?: JsonObject
  @IsOptional() @IsTimestamp() runFinishedAt?: Date | null
}

/** Input of `sessions.create`; `id` is generated unless given. */
export class CreateSessionInput extends UpdateSessionInput {
  @IsOptional() @IsUuidText() id?: string
}

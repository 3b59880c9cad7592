import { Type } from 'class-transformer'
import { IsOptional, MaxLength, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Sessions } from '../generated/database.js'
import { IsDbId, IsJsonObject, IsSafeText, IsTimestamp, IsUuidText } from '../validation.js'
import { Entity, type JsonObject } from './entity.js'

/** A conversation between a user and an agent. */
export class Session extends Entity {
  id!: string
  userId!: number | null
  agentId!: number | null
  name!: string | null
  platform!: string | null
  metadata!: JsonObject
  @Type(() => Date) runFinishedAt!: Date | null
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date
}

/** The columns every session query reads. */
export const sessionColumns = [
  'id', 'user_id', 'agent_id', 'name', 'platform', 'metadata', 'run_finished_at', 'created_at', 'updated_at',
] as const

/** Row → Session, by hand. */
export function toSession(row: Selectable<Sessions>): Session {
  const s = new Session()
  s.id = row.id
  s.userId = row.user_id
  s.agentId = row.agent_id
  s.name = row.name
  s.platform = row.platform
  s.metadata = row.metadata as JsonObject
  s.runFinishedAt = row.run_finished_at
  s.createdAt = row.created_at
  s.updatedAt = row.updated_at
  return s
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

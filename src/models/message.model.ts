import { Type } from 'class-transformer'
import { IsIn, IsInt, IsOptional, Max, MaxLength, Min, ValidateIf } from 'class-validator'
import type { Selectable } from 'kysely'
import type { Messages } from '../generated/database.js'
import { IsDbId, IsJsonContainer, IsJsonObject, IsSafeText, IsTimestamp, IsUuidText, MAX_INT4 } from '../validation.js'
import { entityFromPlain, entityToPlain, type Entity, type JsonArray, type JsonObject } from './entity.js'
import { EmbeddingInput, IsEmbedding } from '../search/embedding-input.js'


/** A row as the repositories read it: every column but the search index's `search_vector`. */
export type MessageRow = Omit<Selectable<Messages>, 'search_vector'>
export const MESSAGE_ROLES = ['user', 'assistant', 'system', 'tool'] as const
export type MessageRole = (typeof MESSAGE_ROLES)[number]

/** One message of a session. `seq` is its position in the session's history. */
export class Message implements Entity {
  id!: string
  /**
   * Position in its session: 1, 2, 3… in commit order (a message takes its number under the
   * session's lock, held until its transaction ends), also for the rows of one `createMany`
   * (input order) or one transaction, where `createdAt` is the same. Unique per session, not
   * across sessions; a deleted message's number is not reused. Messages written before
   * migration 0002 keep their earlier numbers: increasing within the session, with gaps.
   */
  seq!: number
  sessionId!: string
  userId!: number | null
  agentId!: number | null
  role!: MessageRole
  textContent!: string | null
  mediaUrl!: string | null
  mimeType!: string | null
  messageType!: string | null
  systemPrompt!: string | null
  userFeedback!: string | null
  flagged!: string | null
  rawPayload!: JsonObject
  /**
   * The tool calls of the message, as given: an object, or an array such as the OpenAI / AI SDK
   * `[{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }]`. `{}` when none.
   */
  toolCalls!: JsonObject | JsonArray
  /** The tool outputs of the message, as given: an object or an array. `{}` when none. */
  toolOutputs!: JsonObject | JsonArray
  context!: JsonObject
  channelPayload!: JsonObject
  /**
   * How many tokens the message counts for in a context window: as given by its writer, or
   * estimated when it was written (ceil(characters / 4) over the text and the JSON text of the
   * tool calls and outputs when not `{}`), and re-estimated when those change.
   */
  @Type(() => Number) tokenCount!: number
  @Type(() => Date) createdAt!: Date
  @Type(() => Date) updatedAt!: Date

  /** Builds the entity from a row (with no row: an empty entity, as class-transformer needs). */
  constructor(row?: MessageRow) {
    if (row === undefined) return
    this.id = row.id
    this.seq = Number(row.seq)
    this.sessionId = row.session_id
    this.userId = row.user_id
    this.agentId = row.agent_id
    this.role = row.role as MessageRole
    this.textContent = row.text_content
    this.mediaUrl = row.media_url
    this.mimeType = row.mime_type
    this.messageType = row.message_type
    this.systemPrompt = row.system_prompt
    this.userFeedback = row.user_feedback
    this.flagged = row.flagged
    this.rawPayload = row.raw_payload as JsonObject
    this.toolCalls = row.tool_calls as JsonObject | JsonArray
    this.toolOutputs = row.tool_outputs as JsonObject | JsonArray
    this.context = row.context as JsonObject
    this.channelPayload = row.channel_payload as JsonObject
    this.tokenCount = row.token_count
    this.createdAt = row.created_at
    this.updatedAt = row.updated_at
  }

  /**
   * The seed's `model_dump()`: a plain object; dates stay Date objects.
   *
   * @example
   * ```ts
   * const dict = message.toPlain()
   * ```
   */
  toPlain(): Record<string, unknown> {
    return entityToPlain(this)
  }

  /**
   * The seed's `Message(**dict)`: from a plain object, e.g. one that went through JSON.
   *
   * @example
   * ```ts
   * const copy = Message.fromPlain(JSON.parse(JSON.stringify(message.toPlain())))
   * ```
   */
  static fromPlain(plain: object): Message {
    return entityFromPlain(Message, plain)
  }
}

/** The columns every message query reads. */
export const messageColumns = [
  'id', 'seq', 'session_id', 'user_id', 'agent_id', 'role', 'text_content', 'media_url', 'mime_type',
  'message_type', 'system_prompt', 'user_feedback', 'flagged', 'raw_payload', 'tool_calls',
  'tool_outputs', 'context', 'channel_payload', 'token_count', 'created_at', 'updated_at',
] as const

/** Row → Message: one constructor call, no reflection (the hot path of every read). */
export function toMessage(row: MessageRow): Message {
  return new Message(row)
}

/** The message fields that are optional both when creating and when updating. */
class MessageOptionalFields {
  @IsOptional() @IsDbId() userId?: number | null
  @IsOptional() @IsDbId() agentId?: number | null
  @IsOptional() @IsSafeText() textContent?: string | null
  @IsOptional() @IsSafeText() mediaUrl?: string | null
  @IsOptional() @IsSafeText() @MaxLength(255) mimeType?: string | null
  @IsOptional() @IsSafeText() @MaxLength(255) messageType?: string | null
  @IsOptional() @IsSafeText() systemPrompt?: string | null
  @IsOptional() @IsSafeText() userFeedback?: string | null
  @IsOptional() @IsSafeText() flagged?: string | null
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() rawPayload?: JsonObject
  /** An object or an array (e.g. OpenAI / AI SDK tool calls), stored and returned as given. */
  @ValidateIf((_, v) => v !== undefined) @IsJsonContainer() toolCalls?: JsonObject | JsonArray
  /** An object or an array, stored and returned as given. */
  @ValidateIf((_, v) => v !== undefined) @IsJsonContainer() toolOutputs?: JsonObject | JsonArray
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() context?: JsonObject
  @ValidateIf((_, v) => v !== undefined) @IsJsonObject() channelPayload?: JsonObject
}

/** Input of `messages.create`; `id` and `createdAt` default to a new UUID and now(). */
export class CreateMessageInput extends MessageOptionalFields {
  @IsOptional() @IsUuidText() id?: string
  @IsUuidText() sessionId!: string
  @IsIn(MESSAGE_ROLES) role!: MessageRole
  @ValidateIf((_, v) => v !== undefined) @IsTimestamp() createdAt?: Date
  /**
   * An embedding to store with the message, `{ model, vector }`: written by the same statement
   * as the message (see `messages.setEmbedding` for the rules).
   */
  @ValidateIf((_, v) => v !== undefined) @IsEmbedding() @Type(() => EmbeddingInput) embedding?: EmbeddingInput
  /** Tokens the message counts for; left out (or null), the database estimates it. */
  @IsOptional() @IsInt() @Min(0) @Max(MAX_INT4) tokenCount?: number | null
}

/** Input of `messages.update`: only the fields given are changed. */
export class UpdateMessageInput extends MessageOptionalFields {
  @ValidateIf((_, v) => v !== undefined) @IsIn(MESSAGE_ROLES) role?: MessageRole
  /** Sets the token count; left out, a change of the text or tool calls/outputs re-estimates it. */
  @ValidateIf((_, v) => v !== undefined) @IsInt() @Min(0) @Max(MAX_INT4) tokenCount?: number
}

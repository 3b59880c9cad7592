import 'reflect-metadata'
import {
  getMetadataStorage,
  maxLength,
  registerDecorator,
  validateSync,
  ValidationTypes,
  type ValidationError as ClassValidatorError,
  type ValidationOptions,
} from 'class-validator'
import { ValidationError, type FieldIssue } from './errors.js'
import { compileAcceptor, type Acceptor } from './fast-validation.js'

/** Largest value of a PostgreSQL `integer` column. */
export const MAX_INT4 = 2_147_483_647
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Deepest nesting accepted in a JSON column. */
const MAX_JSON_DEPTH = 64
/** The earliest instant a PostgreSQL `timestamptz` holds (4714-11-24 BC); JS dates reach further back. */
export const MIN_TIMESTAMP_MS = Date.UTC(-4713, 10, 24)

/**
 * Why a string can't be stored exactly, or undefined when it can. PostgreSQL text and jsonb
 * reject NUL, and a lone UTF-16 surrogate would be stored as U+FFFD (silently changed).
 */
export function unsafeTextReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL (\\u0000) characters'
  if (!value.isWellFormed()) return 'must not contain unpaired UTF-16 surrogates'
  return undefined
}

/** Why `value` is not a JSON object that round-trips exactly, or undefined when it is. */
export function jsonObjectReason(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'must be a plain JSON object'
  return jsonValueReason(value, 0)
}

/**
 * Why `value` is not a JSON object or array that round-trips exactly (e.g. an OpenAI / AI SDK
 * list of tool calls), or undefined when it is.
 */
export function jsonContainerReason(value: unknown): string | undefined {
  if (!isPlainObject(value) && !Array.isArray(value)) return 'must be a JSON object or array'
  return jsonValueReason(value, 0)
}

function jsonValueReason(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `must not nest deeper than ${MAX_JSON_DEPTH} levels`
  switch (typeof value) {
    case 'string':
      return unsafeTextReason(value)
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : 'must not contain NaN or Infinity'
    case 'object': {
      if (value === null) return undefined
      if (Array.isArray(value)) {
        for (const item of value) {
          const reason = jsonValueReason(item, depth + 1)
          if (reason) return reason
        }
        return undefined
      }
      if (!isPlainObject(value)) return 'must contain only JSON values (no Date, Map, class instances)'
      for (const key of Object.keys(value)) {
        const keyReason = unsafeTextReason(key)
        if (keyReason) return `keys ${keyReason}`
        const reason = jsonValueReason((value as Record<string, unknown>)[key], depth + 1)
        if (reason) return reason
      }
      return undefined
    }
    default:
      return `must contain only JSON values (found ${typeof value})`
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** The rules of this file: synchronous and pure, so the fast path calls them directly. */
export const TRUSTED_VALIDATORS: ReadonlySet<string> = new Set([
  'isSafeText', 'isJsonObject', 'isJsonContainer', 'isDbId', 'isUuidText', 'isTimestamp',
  // src/search/embedding-input.ts: synchronous and pure too.
  'isEmbedding',
])

function decorator(name: string, check: (value: unknown) => string | undefined, options?: ValidationOptions) {
  return (target: object, propertyName: string) => {
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: options ?? {},
      validator: {
        validate: (value: unknown) => check(value) === undefined,
        defaultMessage: (args) => `${args?.property} ${check(args?.value) ?? 'is invalid'}`,
      },
    })
  }
}

/** A string PostgreSQL stores exactly (no NUL, no lone surrogates). */
export const IsSafeText = (options?: ValidationOptions) =>
  decorator('isSafeText', (v) => (typeof v === 'string' ? unsafeTextReason(v) : 'must be a string'), options)

/** A plain JSON object whose every value round-trips through jsonb. */
export const IsJsonObject = (options?: ValidationOptions) => decorator('isJsonObject', jsonObjectReason, options)

/** A JSON object or a JSON array (kept as given) whose every value round-trips through jsonb. */
export const IsJsonContainer = (options?: ValidationOptions) => decorator('isJsonContainer', jsonContainerReason, options)

/** A database id: an integer from 1 to 2 147 483 647. */
export const IsDbId = (options?: ValidationOptions) => decorator('isDbId', idReason, options)

/** A UUID in its canonical text form. */
export const IsUuidText = (options?: ValidationOptions) => decorator('isUuidText', uuidReason, options)

/**
 * A valid Date that PostgreSQL's `timestamptz` can hold (from 4714-11-24 BC; every later JS date
 * fits). `@IsDate()` alone lets through dates the server refuses after the SQL was sent.
 */
export const IsTimestamp = (options?: ValidationOptions) => decorator('isTimestamp', timestampReason, options)

/** Why `v` is not a storable timestamp, or undefined when it is. */
export function timestampReason(v: unknown): string | undefined {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) return 'must be a valid Date'
  if (v.getTime() < MIN_TIMESTAMP_MS) return 'must not be earlier than 4714-11-24 BC (the range of timestamptz)'
  return undefined
}

function idReason(v: unknown): string | undefined {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_INT4
    ? undefined
    : `must be an integer id from 1 to ${MAX_INT4}`
}

function uuidReason(v: unknown): string | undefined {
  return typeof v === 'string' && UUID_RE.test(v) ? undefined : 'must be a UUID'
}

/** What validateInput needs of a class, worked out once. */
interface InputPlan {
  readonly allowed: ReadonlySet<string>
  /** Properties validated even when left out: a missing one reads `<field> is required`. */
  readonly required: ReadonlySet<string>
  readonly accept: Acceptor
}

/** Where an input class keeps its plan (state owned by the class it describes). */
const PLAN = Symbol('automagik-db.input-plan')

function planOf(cls: Function): InputPlan {
  const holder = cls as Function & { [PLAN]?: InputPlan }
  let plan = Object.hasOwn(holder, PLAN) ? holder[PLAN] : undefined
  if (plan === undefined) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false)
    plan = {
      allowed: new Set(metadata.map((m) => m.propertyName)),
      required: requiredOf(metadata),
      accept: compileAcceptor(cls, TRUSTED_VALIDATORS),
    }
    Object.defineProperty(holder, PLAN, { value: plan })
  }
  return plan
}

/**
 * The properties class-validator checks when they are left out: those whose every condition
 * (`@IsOptional()`, `@ValidateIf()`) holds for an object without them.
 */
function requiredOf(metadata: ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>): Set<string> {
  const required = new Set(metadata.map((m) => m.propertyName))
  for (const m of metadata) {
    if (m.type !== ValidationTypes.CONDITIONAL_VALIDATION) continue
    const condition: unknown = m.constraints?.[0]
    let holds = false
    try {
      holds = typeof condition === 'function' && Boolean(condition({}, undefined))
    } catch {
      holds = false
    }
    if (!holds) required.delete(m.propertyName)
  }
  return required
}

const VALIDATOR_OPTIONS = { forbidUnknownValues: true, validationError: { target: false, value: false } } as const

/**
 * Checks `input` against the class-validator rules of `cls` and returns a typed copy. Unknown
 * properties are rejected (they are usually typos such as `user_id` for `userId`). Throws
 * {@link ValidationError} naming every bad field; runs before any SQL.
 *
 * @example
 * ```ts
 * const input = validateInput(CreateAgentInput, { name: 'a', type: 't', model: 'm' }, 'agents.create')
 * ```
 */
export function validateInput<T extends object>(cls: new () => T, input: unknown, context: string): T {
  if (!isPlainObject(input) && !(input instanceof cls)) {
    throw new ValidationError([{ field: 'input', messages: ['must be an object'] }], context)
  }
  const { allowed, required, accept } = planOf(cls)
  const instance = new cls() as Record<string, unknown>
  const unknownKeys: FieldIssue[] = []
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) unknownKeys.push({ field: key, messages: [`${key} is not a known field`] })
    else instance[key] = (input as Record<string, unknown>)[key]
  }
  if (unknownKeys.length > 0) throw new ValidationError(unknownKeys, context)
  // No field of any input may carry a string PostgreSQL can't store exactly. Checked first:
  // some class-validator rules (IsEmail) throw a URIError on a lone surrogate instead of failing.
  const unsafe: FieldIssue[] = []
  for (const key of Object.keys(instance)) {
    const value = instance[key]
    const reason = typeof value === 'string' ? unsafeTextReason(value) : undefined
    if (reason !== undefined) unsafe.push({ field: key, messages: [`${key} ${reason}`] })
  }
  if (unsafe.length > 0) throw new ValidationError(unsafe, context)
  // The compiled acceptor says yes only when class-validator would; otherwise class-validator
  // runs and produces the errors.
  if (accept(instance)) return instance as T
  let errors: ClassValidatorError[]
  try {
    errors = validateSync(instance, VALIDATOR_OPTIONS)
  } catch (err) {
    // A rule crashed on a value it did not expect: that value is invalid, whatever it is.
    const message = err instanceof Error ? err.message : String(err)
    throw new ValidationError([{ field: 'input', messages: [`could not be validated (${message})`] }], context)
  }
  if (errors.length > 0) {
    // A required field left out (or null) reads `<field> is required`, not one message per rule.
    const missing = (e: ClassValidatorError) => required.has(e.property) && instance[e.property] == null
    throw new ValidationError(
      errors.flatMap((e) => (missing(e) ? [{ field: e.property, messages: [`${e.property} is required`] }] : flatten([e]))),
      context,
    )
  }
  return instance as T
}

function flatten(errors: readonly ClassValidatorError[], prefix = ''): FieldIssue[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property
    const own = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : []
    return [...own, ...flatten(e.children ?? [], field)]
  })
}

/** Throws ValidationError unless `value` is a database id (integer 1 … 2 147 483 647). */
export function assertId(value: unknown, field: string, context: string): asserts value is number {
  const reason = idReason(value)
  if (reason) throw new ValidationError([{ field, messages: [`${field} ${reason}`] }], context)
}

/** Throws ValidationError unless `value` is a UUID string. */
export function assertUuid(value: unknown, field: string, context: string): asserts value is string {
  const reason = uuidReason(value)
  if (reason) throw new ValidationError([{ field, messages: [`${field} ${reason}`] }], context)
}

/** Throws ValidationError unless `value` is a non-empty safe string of at most `max` characters. */
export function assertText(value: unknown, field: string, context: string, max = 255): asserts value is string {
  const reason =
    typeof value !== 'string' || value.length === 0
      ? 'must be a non-empty string'
      : !maxLength(value, max)
        ? `must be at most ${max} characters`
        : unsafeTextReason(value)
  if (reason) throw new ValidationError([{ field, messages: [`${field} ${reason}`] }], context)
}

/** Checks an options object: only `keys` may appear. */
export function assertOptions(value: unknown, keys: readonly string[], context: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw new ValidationError([{ field: 'options', messages: ['must be an object'] }], context)
  const bad = Object.keys(value).filter((k) => !keys.includes(k))
  if (bad.length > 0) {
    throw new ValidationError(
      bad.map((k) => ({ field: k, messages: [`${k} is not an option here (expected ${keys.join(', ')})`] })),
      context,
    )
  }
  return value
}

/** Reads an optional boolean option; throws ValidationError when it is not a boolean. */
export function readBoolean(value: unknown, fallback: boolean, field: string, context: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new ValidationError([{ field, messages: [`${field} must be a boolean`] }], context)
  }
  return value
}

/** A raw SQL string `db.query` / `db.batch` can run: non-empty, and no COPY that needs a stream. */
export function checkSql(text: unknown, context: string): void {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ValidationError([{ field: 'sql', messages: ['must be a non-empty SQL string'] }], context)
  }
  if (/^\s*copy\b/i.test(text) && /\b(from\s+stdin|to\s+stdout)\b/i.test(text)) {
    // The protocol would wait for a data stream this API has no way to give.
    throw new ValidationError(
      [{ field: 'sql', messages: ['COPY … FROM STDIN / TO STDOUT needs a stream: use messages.insertMany, or a file/program COPY'] }],
      context,
    )
  }
}

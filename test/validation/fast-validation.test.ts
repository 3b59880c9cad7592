import 'reflect-metadata'
import { readdirSync } from 'node:fs'
import { inspect, isDeepStrictEqual } from 'node:util'
import {
  Contains,
  getMetadataStorage,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  Max,
  MaxLength,
  Min,
  MinLength,
  registerDecorator,
  ValidateIf,
  ValidateNested,
  validateSync,
  type ValidationError as ClassValidatorError,
} from 'class-validator'
import { describe, expect, test } from 'vitest'
import { ValidationError, type FieldIssue } from '../../src/errors.js'
import { compileAcceptor } from '../../src/fast-validation.js'
import { MIN_TIMESTAMP_MS, TRUSTED_VALIDATORS, unsafeTextReason, validateInput } from '../../src/validation.js'
import {
  BAD_IDS,
  BAD_UUIDS,
  NOT_STRINGS,
  STORABLE_TEXT,
  storableJson,
  UNSTORABLE_TEXT,
  unstorableJson,
} from '../faults/support/hostile.js'

// The fast path of validateInput must accept exactly what class-validator accepts: for every
// Create*/Update* input class of src/models, thousands of generated inputs (seeded, so every run
// sees the same ones) are judged by the compiled acceptor and by validateSync, and must agree.

type InputClass = new () => object

const modelsDir = new URL('../../src/models/', import.meta.url)
const classes: [string, InputClass][] = []
for (const file of readdirSync(modelsDir).filter((f) => f.endsWith('.model.ts')).sort()) {
  const mod = (await import(new URL(file, modelsDir).href)) as Record<string, unknown>
  for (const [name, value] of Object.entries(mod)) {
    if (/^(Create|Update)\w*Input$/.test(name) && typeof value === 'function') classes.push([name, value as InputClass])
  }
}

/** Every built-in rule the fast path inlines, at limits and with options the models don't use. */
class EveryBuiltin {
  @IsOptional() @MinLength(3) min3?: string
  @IsOptional() @MaxLength(3) max3?: string
  @IsOptional() @Min(-1.5) atLeast?: number
  @IsOptional() @Max(10) atMost?: number
  @IsOptional() @IsIn([Number.NaN, 0, 'a', '']) choice?: unknown
  @IsOptional() @IsBoolean() flag?: boolean
  @IsOptional() @IsEmail({ allow_display_name: true }) email?: string
  @ValidateIf((o: EveryBuiltin) => o.flag === true) @IsInt() ifFlag?: number
  @IsOptional() @IsInt({ validateIf: (_o: object, v: unknown) => v !== 'skip' }) perRule?: unknown
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const OMIT = Symbol('omit')
const s = (n: number, unit = 'a') => unit.repeat(n)
const email = (local: string, domain = 'example.com') => `${local}@${domain}`

/** Every value a field may be given: right, wrong and borderline for every rule the models use. */
function corpus(cls: InputClass): unknown[] {
  const enums = getMetadataStorage()
    .getTargetValidationMetadatas(cls, '', true, false)
    .filter((m) => m.name === 'isIn')
    .flatMap((m) => (m.constraints[0] as unknown[]).flatMap((v) => [v, String(v).toUpperCase(), ` ${String(v)}`]))
  return [
    OMIT, undefined, null, ...enums, 'user', 'nope', '', 'skip', 'Joe <joe@example.com>',
    // lengths around 0/1/50/255/320 limits, counted as validator.js counts them
    s(1), s(2), s(50), s(51), s(255), s(256), s(320), s(321), s(1000),
    s(255, '😀'), s(256, '😀'), s(255, 'a\uFE0F'), s(256, 'a\uFE0F'), '\uFE0F', s(3, '\uFE0F'), '😀', 'é', '\u0301',
    s(2, 'a\uFE0F'), s(3, 'a\uFE0F'), s(4, 'a\uFE0F'), s(2, '😀'), s(3, '😀'), s(4, '😀'), 'a\uFE0F\uFE0F', '😀\uFE0F😀',
    '\uD83D\uFE0Fx', 'a\uFE0Eb\uFE0E',
    ...STORABLE_TEXT.map(([, v]) => v), ...UNSTORABLE_TEXT.map(([, v]) => v), ...NOT_STRINGS.map(([, v]) => v),
    // ids and integers
    0, 1, 2, -1, -0, 5, -1.5, -2, 10, 10.5, 11, 2 ** 31 - 1, 2 ** 31, 1.5,
    Number.NaN, Number.POSITIVE_INFINITY, '1', Object(1),
    ...BAD_IDS.map(([, v]) => v),
    // booleans
    true, false, Object(false), 'true',
    // UUIDs
    '6f1c7a9e-1b2c-4d3e-8f40-123456789abc', '6F1C7A9E-1B2C-4D3E-8F40-123456789ABC',
    '00000000-0000-0000-0000-000000000000', ...BAD_UUIDS.map(([, v]) => v),
    // dates
    new Date(), new Date(0), new Date(Number.NaN), new Date(MIN_TIMESTAMP_MS), new Date(MIN_TIMESTAMP_MS - 1),
    '2024-01-01T00:00:00Z', 1_700_000_000_000,
    // emails
    email('a'), email('user.name+tag'), email(s(64)), email(s(65)), email(s(40), `${s(300)}.com`), 'no-at',
    'a@b', '@example.com', 'a@example.com ', email('ü'), email('a\uD800'), email('a\u0000'), email('a b'),
    // JSON
    ...storableJson().map(([, v]) => v), ...unstorableJson().map(([, v]) => v),
    { d: new Date(0) }, { f() {} }, { n: Number.NaN }, [{}], Object.create(null) as object,
    {
      get boom(): number {
        throw new Error('getter')
      },
    },
  ]
}

/** class-validator's verdict: no errors (a rule that throws means rejected, as in validateInput). */
function classValidatorAccepts(instance: object): boolean {
  try {
    return validateSync(instance, { forbidUnknownValues: true }).length === 0
  } catch {
    return false
  }
}

const fieldsOf = (cls: InputClass) => [
  ...new Set(getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).map((m) => m.propertyName)),
]

function build(cls: InputClass, input: Record<string, unknown>): object {
  return Object.assign(new cls(), input)
}

/**
 * Generated inputs: a valid base (each field from the values class-validator accepts for it on
 * its own), then 0–3 fields set to any value of the corpus.
 */
function* inputs(cls: InputClass, count: number, seed: number): Generator<Record<string, unknown>> {
  const random = prng(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
  const values = corpus(cls)
  const fields = fieldsOf(cls)
  // The values class-validator accepts for each field on its own (its errors are per field).
  const good = new Map(
    fields.map((f) => [
      f,
      values.filter((v) => {
        const errors = validateSyncSafe(build(cls, v === OMIT ? {} : { [f]: v }))
        return errors !== undefined && !errors.some((e) => e.property === f)
      }),
    ]),
  )
  for (let i = 0; i < count; i++) {
    const input: Record<string, unknown> = {}
    const set = (f: string, v: unknown) => {
      if (v === OMIT) delete input[f]
      else input[f] = v
    }
    for (const f of fields) set(f, pick(good.get(f)!.length > 0 ? good.get(f)! : values))
    for (let k = pick([0, 0, 1, 1, 2, 3]); k > 0; k--) set(pick(fields), pick(values))
    yield input
  }
}

function validateSyncSafe(instance: object): ClassValidatorError[] | undefined {
  try {
    return validateSync(instance, { forbidUnknownValues: true })
  } catch {
    return undefined
  }
}

const show = (v: unknown) => inspect(v, { depth: 3, maxStringLength: 40, breakLength: Infinity })

/** validateInput as it was before the fast path: unknown keys, unstorable text, then class-validator. */
function referenceValidate(cls: InputClass, input: Record<string, unknown>, context: string): object {
  const allowed = new Set(fieldsOf(cls))
  const instance = new cls() as Record<string, unknown>
  const unknownKeys = Object.keys(input).filter((k) => !allowed.has(k))
  if (unknownKeys.length > 0) {
    throw new ValidationError(unknownKeys.map((k) => ({ field: k, messages: [`${k} is not a known field`] })), context)
  }
  Object.assign(instance, input)
  const unsafe = Object.entries(instance).flatMap(([k, v]) => {
    const reason = typeof v === 'string' ? unsafeTextReason(v) : undefined
    return reason === undefined ? [] : [{ field: k, messages: [`${k} ${reason}`] }]
  })
  if (unsafe.length > 0) throw new ValidationError(unsafe, context)
  let errors: ClassValidatorError[]
  try {
    errors = validateSync(instance, { forbidUnknownValues: true, validationError: { target: false, value: false } })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    throw new ValidationError([{ field: 'input', messages: [`could not be validated (${message})`] }], context)
  }
  if (errors.length > 0) {
    // Issue 9: a required field left out or null reads `<field> is required`, one message.
    const required = new Set(validateSync(new cls(), { forbidUnknownValues: true }).map((e) => e.property))
    const missing = (e: ClassValidatorError) => required.has(e.property) && instance[e.property] == null
    throw new ValidationError(
      errors.flatMap((e) => (missing(e) ? [{ field: e.property, messages: [`${e.property} is required`] }] : flatten([e]))),
      context,
    )
  }
  return instance
}

function flatten(errors: readonly ClassValidatorError[], prefix = ''): FieldIssue[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property
    const own = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : []
    return [...own, ...flatten(e.children ?? [], field)]
  })
}

function outcome(run: () => object): unknown {
  try {
    return { ok: run() }
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    return { message: err.message, issues: err.issues }
  }
}

const COUNT = 3000

describe('compiled acceptor agrees with class-validator', () => {
  test('every Create*/Update* input class of src/models is covered', () => {
    const names = classes.map(([name]) => name)
    for (const model of ['Agent', 'User', 'Session', 'Message', 'Memory']) {
      expect(names).toContain(`Create${model}Input`)
      expect(names).toContain(`Update${model}Input`)
    }
  })

  const fuzzed: [string, InputClass][] = [
    ...classes,
    ['EveryBuiltin (test class)', EveryBuiltin],
  ]

  test.each(fuzzed)('%s: accepts exactly what validateSync accepts', (_name, cls) => {
    const accept = compileAcceptor(cls, TRUSTED_VALIDATORS)
    const mismatches: string[] = []
    let accepted = 0
    for (const input of inputs(cls, COUNT, 0x5eed)) {
      const instance = build(cls, input)
      const expected = classValidatorAccepts(instance)
      const actual = accept(instance)
      if (actual !== expected) mismatches.push(`acceptor ${actual}, class-validator ${expected}: ${show(input)}`)
      if (expected) accepted++
    }
    expect(mismatches.slice(0, 10)).toEqual([])
    // Both verdicts are well represented, so the comparison means something.
    expect(accepted).toBeGreaterThan(COUNT * 0.15)
    expect(accepted).toBeLessThan(COUNT * 0.85)
  })

  test.each(classes)('%s: validateInput returns or throws exactly as before', (name, cls) => {
    const differences: string[] = []
    for (const input of inputs(cls, 500, 0xbeef)) {
      const actual = outcome(() => validateInput(cls, input, name))
      const expected = outcome(() => referenceValidate(cls, input, name))
      if (!isDeepStrictEqual(actual, expected)) differences.push(`${show(input)}: ${show(actual)} ≠ ${show(expected)}`)
    }
    expect(differences.slice(0, 10)).toEqual([])
  })
})

describe('compiled acceptor falls back on what it does not know', () => {
  function IsEven() {
    return (target: object, propertyName: string) =>
      registerDecorator({
        name: 'isEven',
        target: target.constructor,
        propertyName,
        validator: { validate: (v: unknown) => typeof v === 'number' && v % 2 === 0 },
      })
  }

  /** A decorator that borrows a built-in's name but not its rule (it is stricter). */
  function FakeIsInt() {
    return (target: object, propertyName: string) =>
      registerDecorator({
        name: 'isInt',
        target: target.constructor,
        propertyName,
        validator: { validate: (v: unknown) => v === 42, defaultMessage: () => '$property must be 42' },
      })
  }

  class UnknownCustom {
    @IsInt() n!: number
    @IsEven() even!: number
  }
  class UnknownBuiltin {
    @Contains('x') text!: string
  }
  class EachOption {
    @IsInt({ each: true }) list!: number[]
  }
  class Nested {
    @ValidateNested() child!: object
  }
  class Impostor {
    @FakeIsInt() n!: unknown
  }
  class NoRules {
    n = 1
  }

  test.each([
    ['unknown registerDecorator rule', UnknownCustom, { n: 1, even: 2 }],
    ['built-in rule without a fast equivalent', UnknownBuiltin, { text: 'xyz' }],
    ['each: true', EachOption, { list: [1, 2] }],
    ['ValidateNested', Nested, { child: Object.assign(new UnknownBuiltin(), { text: 'x' }) }],
    ['a rule named like a built-in', Impostor, { n: 42 }],
  ] as const)('%s: always false, class-validator decides', (_label, cls, valid) => {
    const instance = Object.assign(new (cls as InputClass)(), valid)
    expect(validateSync(instance)).toEqual([]) // class-validator accepts it…
    expect(compileAcceptor(cls, TRUSTED_VALIDATORS)(instance)).toBe(false) // …the acceptor leaves it to class-validator
    expect(validateInput(cls as InputClass, valid, 'test')).toEqual(instance)
  })

  test('a rule named like a built-in is not taken for it', () => {
    const instance = Object.assign(new Impostor(), { n: 7 })
    expect(validateSync(instance)).not.toEqual([])
    expect(compileAcceptor(Impostor, TRUSTED_VALIDATORS)(instance)).toBe(false)
  })

  test('a class with no rules: never accepted (forbidUnknownValues)', () => {
    expect(compileAcceptor(NoRules, TRUSTED_VALIDATORS)(new NoRules())).toBe(false)
  })

  test('an instance of another class is left to class-validator', () => {
    const [, cls] = classes.find(([name]) => name === 'UpdateUserInput')!
    expect(compileAcceptor(cls, TRUSTED_VALIDATORS)(new cls())).toBe(true)
    expect(compileAcceptor(cls, TRUSTED_VALIDATORS)({})).toBe(false)
  })
})

import {
  getMetadataStorage,
  isEmail,
  maxLength,
  minLength,
  ValidationTypes,
  type MetadataStorage,
} from 'class-validator'

/**
 * Fast accept-only checks compiled from class-validator's metadata. An acceptor returns true only
 * when `validateSync(instance)` would return no errors; false means "ask class-validator", which
 * then produces the real errors. Whatever it does not know (a metadata type, a decorator, an
 * option such as `each`) makes the acceptor of that class always return false.
 */
export type Acceptor = (instance: object) => boolean

type Metadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number]
type Check = (value: unknown, object: object) => boolean
type Condition = (object: object, value: unknown) => unknown

interface PropertyPlan {
  readonly name: string
  /** `@IsOptional()`: null and undefined skip the property. */
  readonly optional: boolean
  /** `@ValidateIf()` conditions; every one is evaluated, as class-validator does. */
  readonly conditions: readonly Condition[]
  readonly checks: readonly Check[]
}

/**
 * class-validator's built-in rules, each with its default-message template (a user decorator could
 * reuse a built-in's name: only the real one prints this template) and an inlined equivalent of
 * its test. Returns undefined for constraints the inlined test doesn't cover.
 */
const BUILTINS: Record<string, { message: string; compile(c: readonly unknown[]): Check | undefined }> = {
  isBoolean: {
    message: '$property must be a boolean value',
    compile: () => (v) => typeof v === 'boolean' || v instanceof Boolean,
  },
  isInt: {
    message: '$property must be an integer number',
    compile: () => (v) => typeof v === 'number' && Number.isInteger(v),
  },
  min: {
    message: '$property must not be less than $constraint1',
    compile: ([n]) => (typeof n === 'number' ? (v) => typeof v === 'number' && v >= n : undefined),
  },
  max: {
    message: '$property must not be greater than $constraint1',
    compile: ([n]) => (typeof n === 'number' ? (v) => typeof v === 'number' && v <= n : undefined),
  },
  // validator.js counts a surrogate pair or a character + variation selector as one, so its
  // length lies between `length / 4` and `length`: only strings near the limit need its count.
  minLength: {
    message: '$property must be longer than or equal to $constraint1 characters',
    compile: ([n]) =>
      typeof n === 'number' && Number.isFinite(n)
        ? (v) => typeof v === 'string' && (v.length >= 4 * n || minLength(v, n))
        : undefined,
  },
  maxLength: {
    message: '$property must be shorter than or equal to $constraint1 characters',
    compile: ([n]) =>
      typeof n === 'number' && Number.isFinite(n)
        ? (v) => typeof v === 'string' && (v.length <= n || maxLength(v, n))
        : undefined,
  },
  isIn: {
    message: '$property must be one of the following values: $constraint1',
    // indexOf compares with ===, like class-validator (includes() would match NaN).
    compile: ([list]) => (Array.isArray(list) ? (v) => list.indexOf(v) !== -1 : undefined),
  },
  isEmail: {
    message: '$property must be an email',
    compile: ([options]) => (v) => isEmail(v, options as Parameters<typeof isEmail>[1]),
  },
}

const never: Acceptor = () => false
/** Where a class keeps its compiled acceptor (state owned by the class it describes). */
const ACCEPTOR = Symbol('automagik-db.acceptor')

/**
 * The acceptor of `cls`, compiled on first use from class-validator's metadata and kept on the
 * class. `trusted` names the registerDecorator rules whose validator is synchronous, pure and
 * returns a boolean: the acceptor calls those directly.
 *
 * @example
 * ```ts
 * const accept = compileAcceptor(CreateAgentInput, new Set(['isSafeText']))
 * if (!accept(instance)) errors = validateSync(instance)
 * ```
 */
export function compileAcceptor(cls: Function, trusted: ReadonlySet<string>): Acceptor {
  const holder = cls as Function & { [ACCEPTOR]?: Acceptor }
  let accept = Object.hasOwn(holder, ACCEPTOR) ? holder[ACCEPTOR] : undefined
  if (accept === undefined) {
    accept = compile(cls, trusted)
    Object.defineProperty(holder, ACCEPTOR, { value: accept })
  }
  return accept
}

function compile(cls: Function, trusted: ReadonlySet<string>): Acceptor {
  const storage = getMetadataStorage()
  // What validateSync(instance) reads: no groups given, so `always` and `strictGroups` change nothing.
  const metadata = storage.getTargetValidationMetadatas(cls, '', false, false)
  if (metadata.length === 0) return never // forbidUnknownValues rejects a class with no rules
  const byProperty = new Map<string, Metadata[]>()
  for (const m of metadata) byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m])
  const plans: PropertyPlan[] = []
  for (const [name, list] of byProperty) {
    let optional = false
    const conditions: Condition[] = []
    const checks: Check[] = []
    for (const m of list) {
      if (m.type === ValidationTypes.CONDITIONAL_VALIDATION) {
        const condition: unknown = m.constraints?.[0]
        if (typeof condition !== 'function') return never
        if (m.name === 'isOptional') optional = true
        else conditions.push(condition as Condition)
        continue
      }
      const check = m.type === ValidationTypes.CUSTOM_VALIDATION ? compileRule(storage, cls, m, trusted) : undefined
      if (check === undefined) return never
      checks.push(check)
    }
    plans.push({ name, optional, conditions, checks })
  }
  return interpret(cls, plans)
}

/**
 * Runs the plans: for each property, its conditions, then its checks. Any rule that throws means
 * "ask class-validator", which reports it.
 */
function interpret(cls: Function, plans: readonly PropertyPlan[]): Acceptor {
  return (o) => {
    if (o.constructor !== cls) return false
    try {
      for (const p of plans) {
        const v = (o as Record<string, unknown>)[p.name]
        let go = !p.optional || (v !== null && v !== undefined)
        for (const condition of p.conditions) if (!condition(o, v)) go = false
        if (go && p.checks.some((check) => !check(v, o))) return false
      }
      return true
    } catch {
      return false
    }
  }
}

/** One `customValidation` metadata as a check, or undefined when it is not one we know. */
function compileRule(storage: MetadataStorage, cls: Function, m: Metadata, trusted: ReadonlySet<string>): Check | undefined {
  const constraints = storage.getTargetValidatorConstraints(m.constraintCls)
  const constraint = constraints[0]
  if (constraints.length !== 1 || constraint === undefined || constraint.async || m.each) return undefined
  const name = constraint.name
  const instance = constraint.instance
  const args = m.constraints ?? []
  let check: Check | undefined
  const builtin = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined
  if (builtin !== undefined) {
    const probe = { property: '$property', constraints: args, value: undefined, targetName: '', object: {} }
    const template = instance.defaultMessage?.(probe)
    if (template !== builtin.message) return undefined
    check = builtin.compile(args)
  } else if (trusted.has(name)) {
    const property = m.propertyName
    check = (value, object) =>
      instance.validate(value, { targetName: cls.name, property, object, value, constraints: m.constraints }) === true
  }
  const validateIf = m.validateIf
  if (check === undefined || !validateIf) return check
  const inner = check
  return (value, object) => !validateIf(object, value) || inner(value, object)
}

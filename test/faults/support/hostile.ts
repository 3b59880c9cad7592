import type { JsonObject } from '../../../src/index.js'

/**
 * The hostile-input corpus of issue 5, item 8: values an attacker, a buggy client or a fuzzer
 * sends. Split by what the data layer must do with them: store exactly, or reject before SQL.
 */

/** 1 MiB of mixed-width characters (1-, 2-, 3- and 4-byte UTF-8), plus quotes and backslashes. */
export const ONE_MB = ("a'\\é€🧠\"" as string).repeat(Math.ceil((1 << 20) / 8)).slice(0, 1 << 20)

/** Strings that PostgreSQL stores exactly: each must come back byte for byte. */
export const STORABLE_TEXT: readonly (readonly [label: string, value: string])[] = [
  ['single quotes', "O'Brien's 'quoted' ''"],
  ['double quotes', 'say "hi" "" "'],
  ['SQL injection', "'; DROP TABLE agents; --"],
  ['identifier injection', '"; DROP TABLE users CASCADE; --'],
  ['comment and union', "x' UNION SELECT password FROM pg_shadow /* */ --"],
  ['backslashes', 'C:\\path\\to\\file \\x00 \\\\ \\\' \\"'],
  ['escape-string look-alikes', "E'\\x41' U&'\\0041' $$ $tag$ $1 ? :name"],
  ['LIKE wildcards', '100% _match_ [a-z]* \\%'],
  ['emoji and ZWJ sequences', '🧠🤖 👩‍💻 🏳️‍🌈 👍🏽'],
  ['combining marks and bidi controls', 'e\u0301 \u202Eevil\u202C עברית العربية'],
  ['control characters', '\t\r\n\u0001\u001b[31m\u007f\u0085'],
  ['non-characters and the last code point', '\uFFFE\uFFFF \u{10FFFF} \u{1D11E}'],
  ['number-like string', '12345'],
  ['JSON-like string', '{"a": 1, "__proto__": {}}'],
  ['null-like string', 'null'],
  ['whitespace only', '   '],
  ['HTML/script', '<script>alert(1)</script>&amp;'],
]

/** Strings PostgreSQL cannot store exactly (NUL is refused; a lone surrogate becomes U+FFFD). */
export const UNSTORABLE_TEXT: readonly (readonly [label: string, value: string])[] = [
  ['NUL byte', 'a\u0000b'],
  ['NUL only', '\u0000'],
  ['lone high surrogate', 'x\uD800'],
  ['lone low surrogate', '\uDC00y'],
  ['reversed surrogate pair', '\uDC00\uD800'],
]

class Money {
  amount = 1
}

/** Values that are not strings, where a string belongs. */
export const NOT_STRINGS: readonly (readonly [label: string, value: unknown])[] = [
  ['number', 42],
  ['boolean', true],
  ['object', {}],
  ['array', []],
  ['array of one string', ['a']],
  ['object with toString', { toString: () => 'x' }],
  ['boxed string', Object('x')],
  ['bigint', 1n],
  ['function', () => 'x'],
  ['Date', new Date(0)],
]

/** Values that are not database ids (integers 1 … 2 147 483 647). */
export const BAD_IDS: readonly (readonly [label: string, value: unknown])[] = [
  ['zero', 0],
  ['negative', -1],
  ['fractional', 1.5],
  ['tiny fraction', 1 + Number.EPSILON * 4],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['int4 overflow', 2 ** 31],
  ['unsafe integer', Number.MAX_SAFE_INTEGER + 2],
  ['number as string', '1'],
  ['hex string', '0x1'],
  ['injection string', '1; DROP TABLE agents; --'],
  ['boolean-ish injection', '1 OR 1=1'],
  ['bigint', 1n],
  ['array', [1]],
  ['object', { id: 1 }],
  ['boolean', true],
]

/** Values that are not UUIDs in canonical form. */
export const BAD_UUIDS: readonly (readonly [label: string, value: unknown])[] = [
  ['word', 'not-a-uuid'],
  ['empty', ''],
  ['bad hex digit', '00000000-0000-0000-0000-00000000000g'],
  ['too short', '00000000-0000-0000-0000-00000000000'],
  ['injection', "'; DROP TABLE sessions; --"],
  ['uuid plus injection', "00000000-0000-0000-0000-000000000000' OR '1'='1"],
  ['braces (PostgreSQL would accept)', '{00000000-0000-0000-0000-000000000000}'],
  ['no hyphens (PostgreSQL would accept)', '00000000000000000000000000000000'],
  ['trailing space', '00000000-0000-0000-0000-000000000000 '],
  ['number', 123],
  ['object', {}],
  ['array', ['00000000-0000-0000-0000-000000000000']],
]

/** JSON objects that jsonb stores exactly (value for value; jsonb may reorder keys). */
export function storableJson(): readonly (readonly [label: string, value: JsonObject])[] {
  return [
    ['__proto__ and constructor keys (JSON.parse)', JSON.parse(
      '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "nested": {"__proto__": [1, 2]}}',
    ) as JsonObject],
    ['hostile keys', { "'; DROP TABLE agents; --": 'x', 'a"b': 1, 'back\\slash': 2, 'emoji🧠': '🤖', '': 'empty key' }],
    ['hostile values', Object.fromEntries(STORABLE_TEXT.map(([label, value]) => [label, value]))],
    ['numbers as strings stay strings', { n: '1', f: '1.50', e: '1e3', neg: '-0' }],
    ['extreme numbers', { big: 1e308, tiny: 5e-324, neg: -1.5e-300, max: Number.MAX_SAFE_INTEGER, zero: 0 }],
    ['nesting, arrays, null and booleans', { a: [1, 'two', null, true, { b: [[[]]] }], c: {}, d: [], e: false, f: null }],
    ['empty object', {}],
  ]
}

/** Values that must never be stored in a JSON column (not a plain object, or not exact JSON). */
export function unstorableJson(): readonly (readonly [label: string, value: unknown])[] {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  let deep: Record<string, unknown> = {}
  for (let i = 0; i < 100; i++) deep = { d: deep }
  return [
    ['array', [1, 2]],
    ['string', '{"a": 1}'],
    ['number', 42],
    ['null', null],
    ['NUL in a value', { a: 'x\u0000y' }],
    ['NUL in a key', { 'x\u0000y': 1 }],
    ['lone surrogate in a value', { a: '\uD800' }],
    ['lone surrogate in a key', { '\uDFFF': 1 }],
    ['NaN', { a: Number.NaN }],
    ['Infinity', { a: Number.NEGATIVE_INFINITY }],
    ['undefined value (JSON would drop it)', { a: undefined }],
    ['function value', { a: () => 1 }],
    ['toJSON trick', { toJSON: () => ({ admin: true }) }],
    ['Date value', { a: new Date(0) }],
    ['Map', new Map([['a', 1]])],
    ['class instance', new Money()],
    ['class instance nested', { m: new Money() }],
    ['object with a prototype', Object.create({ inherited: true }) as object],
    ['prototype set by literal __proto__', { __proto__: { admin: true } }],
    ['bigint value', { a: 1n }],
    ['symbol value', { a: Symbol('s') }],
    ['nested 100 deep', deep],
    ['cyclic', cyclic],
  ]
}

/** JSON with keys sorted, to compare two JSON values exactly whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  )
}

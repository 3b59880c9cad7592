import pg, { type CustomTypesConfig } from 'pg'

const TIMESTAMPTZ = 1184
const driverParser = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number

/**
 * timestamptz text → Date through V8's own parser (~0.2 µs instead of the driver's ~1 µs), for
 * the common shape `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM]` with a four-digit year from 1000 on.
 * V8 reads years below 1000 as two-digit years and cannot read BC, `infinity` or offsets with
 * seconds (local mean time): those, and anything it cannot read, go to the driver's parser.
 */
export function parseTimestamptz(text: string): Date | number {
  const first = text.charCodeAt(0)
  if (first >= 49 && first <= 57 && text.charCodeAt(4) === 45 && !text.endsWith('BC')) {
    const date = new Date(text)
    if (!Number.isNaN(date.getTime())) return date
  }
  return driverParser(text)
}

/**
 * The type parsers of every connection a Db opens: the driver's, but for timestamptz. Given to
 * each pool (never set on pg's global `types`, which other code in the process shares).
 */
export const typeParsers: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format ?? 'text')) as CustomTypesConfig['getTypeParser'],
}

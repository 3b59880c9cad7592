import type { Logger } from '../../../src/index.js'

/** One log call: level, the record object, and the message. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: object
  msg: string | undefined
}

/** A pino-shaped logger that keeps every line, for assertions. */
export interface RecordingLogger extends Logger {
  readonly lines: LogLine[]
  /** Every line as pino would print it (JSON), one per entry. */
  text(): string
  /** Lines whose message contains `part`. */
  matching(part: string): LogLine[]
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = []
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg })
  }
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((l) => JSON.stringify({ level: l.level, ...l.obj, msg: l.msg }, errorReplacer)).join('\n'),
    matching: (part) => lines.filter((l) => l.msg?.includes(part)),
  }
}

/** JSON.stringify drops an Error's message and stack; a real logger's serializer keeps them. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { ...value, type: value.name, message: value.message, stack: value.stack, cause: value.cause }
  }
  return value
}

import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './net.js'
import { toolMissing } from './tools.js'
import { sleep } from './wait.js'

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']

/**
 * The pgbouncer binary, or undefined when it is not installed. When it is not and
 * AMDB_REQUIRE_FAULT_TOOLS is set (CI), throws instead.
 */
export function pgbouncerBinary(): string | undefined {
  const bin = CANDIDATES.find((p) => existsSync(p))
  if (bin === undefined) toolMissing(`pgbouncer is not installed (looked for ${CANDIDATES.join(', ')}; apt-get install -y pgbouncer)`)
  return bin
}

/** `[major, minor]` of the installed pgbouncer, e.g. `[1, 18]`. */
export function pgbouncerVersion(): [number, number] | undefined {
  const bin = pgbouncerBinary()
  if (bin === undefined) return undefined
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' })
  const m = /PgBouncer (\d+)\.(\d+)/.exec(out)
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

export interface PgBouncerOptions {
  /** The server to pool (loopback only). */
  serverPort: number
  /** Server connections per (database, user). */
  poolSize: number
  /** `max_prepared_statements` (PgBouncer ≥ 1.21 rewrites named statements when > 0). */
  maxPreparedStatements?: number
  /**
   * `ignore_startup_parameters`. Default: `extra_float_digits, statement_timeout, options` — pg
   * sends `statement_timeout` at startup when the Db has a statementTimeout, and PgBouncer
   * refuses unknown startup parameters.
   */
  ignoreStartupParameters?: readonly string[]
}

/**
 * PgBouncer in transaction mode on a free loopback port, in front of a loopback server, with a
 * generated ini (auth_type trust, an auth_file listing `postgres`). Runs as the `postgres` OS user
 * (pgbouncer refuses root). {@link PgBouncer.stop} kills it and removes its temp dir.
 */
export class PgBouncer {
  readonly port: number
  readonly dir: string
  readonly #child: ChildProcess
  #stopped = false
  readonly #onExit = (): void => {
    this.#child.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port
    this.dir = dir
    this.#child = child
    process.once('exit', this.#onExit)
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  static async start(options: PgBouncerOptions): Promise<PgBouncer> {
    const bin = pgbouncerBinary()
    if (bin === undefined) throw new Error('pgbouncer is not installed')
    const dir = mkdtempSync(join(tmpdir(), 'amdb-pgbouncer-'))
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chmodSync(dir, 0o700)
    chownSync(dir, uid, gid)
    const port = await freePort()
    const ini = join(dir, 'pgbouncer.ini')
    writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n')
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=127.0.0.1 port=${options.serverPort}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize}`,
        'min_pool_size = 0',
        'reserve_pool_size = 0',
        'max_client_conn = 500',
        // pg sends statement_timeout as a startup parameter; PgBouncer accepts only a few.
        `ignore_startup_parameters = ${(options.ignoreStartupParameters ?? ['extra_float_digits', 'statement_timeout', 'options']).join(',')}`,
        ...(options.maxPreparedStatements !== undefined ? [`max_prepared_statements = ${options.maxPreparedStatements}`] : []),
        `logfile = ${join(dir, 'pgbouncer.log')}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        'admin_users = postgres',
        '',
      ].join('\n'),
    )
    chownSync(ini, uid, gid)
    const child = spawn(bin, [ini], { uid, gid, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    const bouncer = new PgBouncer(port, dir, child)
    try {
      await waitForPort(port, child, () => stderr || bouncer.log())
      return bouncer
    } catch (err) {
      await bouncer.stop()
      throw err
    }
  }

  /** PgBouncer's own log (for failure messages). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'pgbouncer.log'), 'utf8')
    } catch {
      return ''
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()))
      this.#child.kill('SIGTERM')
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(this.dir, { recursive: true, force: true })
    process.removeListener('exit', this.#onExit)
  }
}

async function waitForPort(port: number, child: ChildProcess, why: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${why()}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`pgbouncer did not listen on ${port} within 5 s: ${why()}`)
}

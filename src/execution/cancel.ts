import { connect as netConnect } from 'node:net'

/** After closeTimeout: how long cancelled statements get to wind down before sockets are cut. */
export const CANCEL_GRACE_MS = 1000

/** The protocol's CancelRequest on a new socket; resolves when sent, failed, or after `ms`. */
export function sendCancel(target: { host: string; port: number }, pid: number, key: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const path = target.host.startsWith('/') ? `${target.host}/.s.PGSQL.${target.port}` : undefined
    const socket = path ? netConnect(path) : netConnect(target.port, target.host)
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve()
    }
    const timer = setTimeout(done, ms)
    socket.once('error', done)
    socket.once('connect', () => {
      const packet = Buffer.alloc(16)
      packet.writeInt32BE(16, 0)
      packet.writeInt32BE(80877102, 4)
      packet.writeInt32BE(pid, 8)
      packet.writeInt32BE(key, 12)
      socket.end(packet, done)
    })
  })
}

/** True when `promise` settles within `ms`. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer))
}

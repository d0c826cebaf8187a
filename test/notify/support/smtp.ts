import type { AddressInfo } from 'node:net'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import type { TestCert } from './cert.js'

/**
 * A real SMTP server in the test process (the `smtp-server` package) that records every message
 * it accepts: the envelope, whether the session was TLS and authenticated, and the message parsed
 * by `mailparser`. A message is recorded before the server answers `250`, so once the client's
 * send resolved, the message is here.
 */

export interface ReceivedMail {
  from: string
  to: string[]
  /** TLS was in use (implicit or after STARTTLS). */
  secure: boolean
  /** The username the client logged in with, if it did. */
  user: string | undefined
  raw: string
  parsed: ParsedMail
  /** Header lines as sent (name as written, value unfolded). */
  rawHeaders: Array<[string, string]>
}

export interface TestSmtpServer {
  port: number
  mails: ReceivedMail[]
  /** Client connections opened so far. */
  connections: number
  /** STARTTLS upgrades done. */
  starttls: number
  /** Login attempts (user, password). */
  logins: Array<{ user: string; pass: string }>
  close(): Promise<void>
}

export interface TestSmtpOptions {
  /** Offer STARTTLS with this certificate (or implicit TLS with `implicitTls`). */
  tls?: TestCert
  implicitTls?: boolean
  /** Accept only this login (authentication then optional unless `authRequired`). */
  auth?: { user: string; pass: string }
  authRequired?: boolean
  /** Reply to DATA with this error instead of accepting. */
  rejectData?: { code: number; message: string }
  /** Refuse RCPT TO for these addresses with a temporary 451, this many times each. */
  rcptFailures?: Record<string, number>
}

function headerLines(raw: string): Array<[string, string]> {
  const end = raw.indexOf('\r\n\r\n')
  const head = (end < 0 ? raw : raw.slice(0, end)).replace(/\r\n[ \t]+/g, ' ')
  return head.split('\r\n').map((line) => {
    const i = line.indexOf(':')
    return [line.slice(0, i), line.slice(i + 1).trim()] as [string, string]
  })
}

export async function startSmtpServer(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const state: TestSmtpServer = {
    port: 0,
    mails: [],
    connections: 0,
    starttls: 0,
    logins: [],
    close: async () => undefined,
  }
  const serverOptions: SMTPServerOptions = {
    secure: options.implicitTls === true,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    disabledCommands: [...(options.tls && !options.implicitTls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    authOptional: !options.authRequired,
    allowInsecureAuth: false,
    logger: false,
    onConnect(_session, cb) {
      state.connections++
      cb()
    },
    onSecure(_socket, session, cb) {
      if (!options.implicitTls) state.starttls++
      cb()
    },
    onAuth(auth, _session, cb) {
      state.logins.push({ user: auth.username ?? '', pass: auth.password ?? '' })
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) cb(null, { user: auth.username })
      else cb(new Error('535 5.7.8 Authentication credentials invalid'))
    },
    onRcptTo(address, _session, cb) {
      const left = options.rcptFailures?.[address.address] ?? 0
      if (left > 0) {
        options.rcptFailures![address.address] = left - 1
        const err = new Error('451 4.3.0 Try again later') as Error & { responseCode: number }
        err.responseCode = 451
        cb(err)
        return
      }
      cb()
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        if (options.rejectData) {
          const err = new Error(options.rejectData.message) as Error & { responseCode: number }
          err.responseCode = options.rejectData.code
          cb(err)
          return
        }
        simpleParser(raw).then(
          (parsed) => {
            state.mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              secure: session.secure,
              user: session.user ? String(session.user) : undefined,
              raw,
              parsed,
              rawHeaders: headerLines(raw),
            })
            cb()
          },
          (err: Error) => cb(err),
        )
      })
    },
  }
  const server = new SMTPServer(serverOptions)
  server.on('error', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  state.port = (server.server.address() as AddressInfo).port
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return state
}

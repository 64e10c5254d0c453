#!/usr/bin/env node
// Drive a Nostr relay with nostr-tools exactly as a real client would, and report what happened.
//
// Usage: node client_scenario.mjs RELAY_URL [--timeout SECONDS]
//
// Prints ONE JSON object on stdout (also on failure) and exits with
//   0  every step passed
//   1  the scenario ran but at least one step failed (see "failed")
//   2  fatal error (bad usage, cannot connect, unexpected exception; see "error")
//   3  the whole scenario exceeded its time budget (see "error")
//
// Output shape:
//   { ok, exit_code, relay, nostr_tools_version, ws_version, pubkeys: {a, b},
//     steps: { <name>: { ok, ...details, frames: [...] } },   // in execution order
//     failed: [<step names>], notices: [...], warnings: [...], error }
// Each step's "frames" lists the raw relay-protocol frames exchanged while it ran
// ({conn, dir: "out"|"in", msg}); publish steps also carry the relay's raw OK frame as
// ok_frame: ["OK", id, bool, message] and what nostr-tools' publish() did with it.

import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import { finalizeEvent, generateSecretKey, getEventHash, getPublicKey, verifyEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'

// nostr-tools logs NOTICEs etc. with console.debug, which goes to stdout: keep stdout for our JSON.
for (const name of ['log', 'debug', 'info']) console[name] = (...a) => console.error(...a)

const versionOf = pkg => {
  try {
    const url = new URL(`./node_modules/${pkg}/package.json`, import.meta.url)
    return JSON.parse(readFileSync(url, 'utf8')).version
  } catch {
    return null
  }
}

const MAX_FRAMES_PER_STEP = 60
const EVENT_KEYS = ['content', 'created_at', 'id', 'kind', 'pubkey', 'sig', 'tags']

const result = {
  ok: false,
  exit_code: null,
  relay: null,
  nostr_tools_version: versionOf('nostr-tools'),
  ws_version: versionOf('ws'),
  pubkeys: {},
  steps: {},
  failed: [],
  notices: [],
  warnings: [],
  error: null,
}

let emitted = false
function emit(code, error) {
  if (emitted) return
  emitted = true
  if (error) result.error = String(error)
  result.failed = Object.entries(result.steps)
    .filter(([, s]) => !s.ok)
    .map(([name]) => name)
  if (code === 0 && result.failed.length) code = 1
  result.exit_code = code
  result.ok = code === 0
  let text
  try {
    text = JSON.stringify(result)
  } catch (err) {
    text = JSON.stringify({ ok: false, exit_code: 2, error: `cannot serialize result: ${err}` })
    code = 2
  }
  process.stdout.write(text + '\n', () => process.exit(code))
}

process.on('uncaughtException', err => emit(2, `uncaught exception: ${err && err.stack ? err.stack : err}`))
process.on('beforeExit', () => emit(2, 'event loop drained before the scenario finished'))
process.on('unhandledRejection', err => {
  result.warnings.push(`unhandled rejection: ${err && err.message ? err.message : err}`)
})

// ---------------------------------------------------------------------------------------------
// Frame recording: a ws subclass handed to nostr-tools, so every frame is seen raw.

const frames = [] // {conn, dir, msg, seq}
const okFrames = new Map() // event id -> [{conn, frame}]
let connCounter = 0
const connNames = []

class RecordingWebSocket extends WebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, options)
    this._conn = connNames[connCounter] || `c${connCounter}`
    connCounter++
    this.addEventListener('message', ev => {
      const raw = typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString('utf8')
      let msg
      try {
        msg = JSON.parse(raw)
      } catch {
        msg = { unparsable: raw }
      }
      frames.push({ conn: this._conn, dir: 'in', msg })
      if (Array.isArray(msg) && msg[0] === 'OK' && typeof msg[1] === 'string') {
        if (!okFrames.has(msg[1])) okFrames.set(msg[1], [])
        okFrames.get(msg[1]).push({ conn: this._conn, frame: msg })
      }
      if (Array.isArray(msg) && msg[0] === 'NOTICE') result.notices.push({ conn: this._conn, message: msg[1] })
    })
  }

  send(data, ...rest) {
    let msg
    try {
      msg = JSON.parse(data)
    } catch {
      msg = { unparsable: String(data) }
    }
    frames.push({ conn: this._conn, dir: 'out', msg })
    return super.send(data, ...rest)
  }
}

useWebSocketImplementation(RecordingWebSocket)

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = ms => new Promise(r => setTimeout(r, ms))
const now = () => Math.floor(Date.now() / 1000)
const randHex = n => Buffer.from(generateSecretKey()).toString('hex').slice(0, n)

function plain(ev) {
  // The 7 NIP-01 fields only, as a plain object (drops nostr-tools' verified symbol).
  return {
    id: ev.id,
    pubkey: ev.pubkey,
    created_at: ev.created_at,
    kind: ev.kind,
    tags: ev.tags,
    content: ev.content,
    sig: ev.sig,
  }
}

function canonical(ev) {
  return JSON.stringify([ev.id, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content, ev.sig])
}

function sameEvent(got, want) {
  const keys = Object.keys(got).sort()
  if (JSON.stringify(keys) !== JSON.stringify(EVENT_KEYS)) return false
  return canonical(got) === canonical(want)
}

function diffEvent(got, want) {
  const d = {}
  const keys = Object.keys(got).sort()
  if (JSON.stringify(keys) !== JSON.stringify(EVENT_KEYS)) d.keys = keys
  for (const k of EVENT_KEYS) {
    if (JSON.stringify(got[k]) !== JSON.stringify(want[k])) d[k] = { got: got[k], want: want[k] }
  }
  return d
}

function sign(sk, tpl) {
  return plain(finalizeEvent({ ...tpl, tags: tpl.tags.map(t => [...t]) }, sk))
}

async function step(name, fn) {
  const start = frames.length
  const s = { ok: false }
  result.steps[name] = s
  try {
    Object.assign(s, await fn())
  } catch (err) {
    s.ok = false
    s.error = String(err && err.message ? err.message : err)
  }
  const fr = frames.slice(start)
  s.frames = fr.slice(0, MAX_FRAMES_PER_STEP)
  if (fr.length > MAX_FRAMES_PER_STEP) s.frames_truncated = fr.length - MAX_FRAMES_PER_STEP
  return s
}

// Publish with nostr-tools' relay.publish() and look up the raw OK frame it answered to.
async function publish(relay, ev) {
  const before = (okFrames.get(ev.id) || []).length
  const startFrame = frames.length
  const r = { event_id: ev.id }
  try {
    r.nostr_tools_value = await relay.publish(ev)
    r.nostr_tools = 'resolved'
  } catch (err) {
    r.nostr_tools = 'rejected'
    r.nostr_tools_value = String(err && err.message ? err.message : err)
  }
  const got = (okFrames.get(ev.id) || []).slice(before)
  // OK frames on this connection that answered no known id (e.g. an empty id): nostr-tools
  // cannot match those to the publish, which then times out.
  const unmatched = frames
    .slice(startFrame)
    .filter(f => f.conn === connOf(relay) && f.dir === 'in' && Array.isArray(f.msg) && f.msg[0] === 'OK' && f.msg[1] !== ev.id)
    .map(f => f.msg)
  if (unmatched.length) r.other_ok_frames = unmatched
  if (got.length) {
    r.ok_frame = got[0].frame
    r.accepted = got[0].frame[2] === true
    r.message = typeof got[0].frame[3] === 'string' ? got[0].frame[3] : null
  } else {
    r.ok_frame = null
    r.accepted = null
    r.message = null
    r.error = `no OK frame received (nostr-tools: ${r.nostr_tools_value})`
  }
  return r
}

// One-shot query: REQ, collect until EOSE (or CLOSED / timeout), then CLOSE.
function query(relay, filters, timeoutMs = 5000) {
  return new Promise(resolve => {
    const events = []
    const invalid = []
    let sub
    let done = false
    const finish = how => {
      if (done) return
      done = true
      clearTimeout(timer)
      const conn = connOf(relay)
      const mine = (f, type) => f.conn === conn && f.dir === 'in' && Array.isArray(f.msg) && f.msg[0] === type && f.msg[1] === sub.id
      const eoseSeen = frames.some(f => mine(f, 'EOSE'))
      const closedFrame = frames.find(f => mine(f, 'CLOSED'))
      if (how === 'eose' && !closedFrame) sub.close()
      resolve({
        filters,
        events,
        invalid,
        eose: eoseSeen,
        closed: closedFrame ? closedFrame.msg[2] ?? '' : null,
        timed_out: how === 'timeout',
      })
    }
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    sub = relay.subscribe(filters, {
      onevent: ev => events.push(plain(ev)),
      oninvalidevent: ev => invalid.push(ev),
      oneose: () => finish('eose'),
      onclose: () => finish('closed'),
      eoseTimeout: timeoutMs + 1000, // nostr-tools fakes EOSE on timeout; we check the real frame
    })
  })
}

function checkContains(q, ev, { exactly = null, alsoNot = [] } = {}) {
  const problems = []
  if (!q.eose) problems.push('no EOSE')
  if (q.closed !== null) problems.push(`CLOSED: ${q.closed}`)
  if (q.invalid.length) problems.push(`${q.invalid.length} event(s) failing signature/filter check`)
  const match = q.events.filter(e => e.id === ev.id)
  if (match.length !== 1) problems.push(`expected the event once, got it ${match.length} times`)
  else if (!sameEvent(match[0], ev)) problems.push(`returned event differs: ${JSON.stringify(diffEvent(match[0], ev))}`)
  if (exactly !== null && q.events.length !== exactly) problems.push(`expected ${exactly} event(s), got ${q.events.length}`)
  for (const other of alsoNot) {
    if (q.events.some(e => e.id === other.id)) problems.push(`unexpected event ${other.id} returned`)
  }
  return problems
}

function querySummary(q) {
  return {
    filters: q.filters,
    returned_ids: q.events.map(e => e.id),
    eose: q.eose,
    closed: q.closed,
    timed_out: q.timed_out,
    invalid_count: q.invalid.length,
  }
}

// ---------------------------------------------------------------------------------------------

const relayConn = new WeakMap()
const connOf = relay => relayConn.get(relay)

async function connect(url, name) {
  connNames[connCounter] = name
  const relay = new Relay(url)
  relayConn.set(relay, name)
  relay.onnotice = () => {} // recorded from raw frames
  relay.publishTimeout = 6000
  await relay.connect({ timeout: 5000 })
  return relay
}

async function scenario(url) {
  const skA = generateSecretKey()
  const skB = generateSecretKey()
  const pkA = getPublicKey(skA)
  const pkB = getPublicKey(skB)
  result.pubkeys = { a: pkA, b: pkB }
  const runTag = `koinon-interop-${randHex(12)}`
  const liveTag = `${runTag}-live`
  const t0 = now()

  let relayA, relayL
  try {
    relayA = await connect(url, 'A')
    relayL = await connect(url, 'L')
  } catch (err) {
    throw new Error(`cannot connect to ${url}: ${err && err.message ? err.message : err}`)
  }

  // 1. publish a kind-1 note with a t tag, expect OK true
  const note = sign(skA, {
    kind: 1,
    created_at: t0,
    tags: [['t', runTag], ['client', 'koinon-interop']],
    content: `hello from nostr-tools ${runTag} — ünïcödé ✓ 🧑‍💻 "quoted" \\ back\nslash`,
  })
  await step('publish_note', async () => {
    const p = await publish(relayA, note)
    return { ...p, event: note, ok: p.accepted === true && p.nostr_tools === 'resolved' }
  })

  // a note by the second key with the same tag (for author filtering)
  const noteB = sign(skB, { kind: 1, created_at: t0, tags: [['t', runTag]], content: `second author ${runTag}` })
  await step('publish_note_b', async () => {
    const p = await publish(relayA, noteB)
    return { ...p, event: noteB, ok: p.accepted === true }
  })

  // 2. query it back
  await step('query_by_author', async () => {
    const q = await query(relayA, [{ authors: [pkA], kinds: [1] }])
    const problems = checkContains(q, note, { alsoNot: [noteB] })
    if (q.events.some(e => e.pubkey !== pkA)) problems.push('event by another author returned')
    return { ...querySummary(q), problems, ok: problems.length === 0 }
  })
  await step('query_by_kind', async () => {
    const q = await query(relayA, [{ kinds: [1] }])
    const problems = checkContains(q, note)
    if (q.events.some(e => e.kind !== 1)) problems.push('event of another kind returned')
    return { ...querySummary(q), problems, ok: problems.length === 0 }
  })
  await step('query_by_tag', async () => {
    const q = await query(relayA, [{ '#t': [runTag] }])
    const problems = checkContains(q, note, { exactly: 2 })
    const b = q.events.find(e => e.id === noteB.id)
    if (!b) problems.push('second author note missing')
    else if (!sameEvent(b, noteB)) problems.push('second author note differs')
    return { ...querySummary(q), problems, ok: problems.length === 0 }
  })
  await step('query_by_id', async () => {
    const q = await query(relayA, [{ ids: [note.id] }])
    const problems = checkContains(q, note, { exactly: 1 })
    return { ...querySummary(q), returned: q.events, problems, ok: problems.length === 0 }
  })

  // 3. live subscription on a second connection
  await step('live_subscription', async () => {
    const live = sign(skA, { kind: 1, created_at: now(), tags: [['t', liveTag]], content: `live ${liveTag}` })
    const r = { event: live, problems: [] }
    let eosed = false
    let eoseResolve
    const eoseP = new Promise(res => (eoseResolve = res))
    let gotResolve
    const gotP = new Promise(res => (gotResolve = res))
    const received = []
    const sub = relayL.subscribe([{ kinds: [1], '#t': [liveTag] }], {
      onevent: ev => {
        received.push({ event: plain(ev), after_eose: eosed })
        if (ev.id === live.id) gotResolve()
      },
      oneose: () => {
        eosed = true
        eoseResolve()
      },
      eoseTimeout: 6000,
    })
    await Promise.race([eoseP, sleep(6000)])
    r.real_eose = frames.some(f => f.conn === 'L' && f.dir === 'in' && Array.isArray(f.msg) && f.msg[0] === 'EOSE' && f.msg[1] === sub.id)
    if (!r.real_eose) r.problems.push('no EOSE frame before publishing')
    r.stored_before_eose = received.length
    if (received.length) r.problems.push('events delivered before EOSE for a fresh tag')
    r.publish = await publish(relayA, live)
    if (r.publish.accepted !== true) r.problems.push('live event not accepted')
    await Promise.race([gotP, sleep(5000)])
    const hit = received.filter(x => x.event.id === live.id)
    r.received = received
    r.arrived = hit.length > 0
    if (!hit.length) r.problems.push('live event did not arrive within 5 s')
    else {
      if (hit.length > 1) r.problems.push(`live event delivered ${hit.length} times`)
      if (!hit[0].after_eose) r.problems.push('live event arrived before EOSE')
      if (!sameEvent(hit[0].event, live)) r.problems.push(`live event differs: ${JSON.stringify(diffEvent(hit[0].event, live))}`)
    }
    const closedFrame = frames.find(f => f.conn === 'L' && f.dir === 'in' && Array.isArray(f.msg) && f.msg[0] === 'CLOSED' && f.msg[1] === sub.id)
    if (closedFrame) r.problems.push(`subscription CLOSED by relay: ${closedFrame.msg[2]}`)
    sub.close()
    r.ok = r.problems.length === 0
    return r
  })

  // 4. duplicate
  await step('duplicate', async () => {
    const p = await publish(relayA, note)
    const problems = []
    if (p.message === null) problems.push('no OK frame')
    else if (!p.message.startsWith('duplicate:')) problems.push(`message does not start with "duplicate:": ${JSON.stringify(p.message)}`)
    const q = await query(relayA, [{ ids: [note.id] }])
    if (q.events.length !== 1) problems.push(`event stored ${q.events.length} times after re-publish`)
    return { ...p, problems, ok: problems.length === 0 }
  })

  // Invalid events go over their own connection 'X', so that a relay penalising the sender
  // (throttling, disconnecting) does not disturb the other steps.
  let relayX = null
  await step('connect_for_invalid', async () => {
    relayX = await connect(url, 'X')
    return { ok: true }
  })
  if (!relayX) relayX = relayA

  // 5. tampered: content altered after signing, id and sig kept
  const fresh = sign(skA, { kind: 1, created_at: now(), tags: [['t', runTag]], content: `original ${runTag}` })
  await step('tampered', async () => {
    const bad = { ...fresh, tags: fresh.tags.map(t => [...t]), content: fresh.content + ' (tampered)' }
    const problems = []
    if (verifyEvent({ ...bad })) problems.push('internal: tampered event verifies locally')
    const p = await publish(relayX, bad)
    if (p.accepted !== false) problems.push(`tampered event not rejected (accepted=${p.accepted})`)
    if (p.message === null) problems.push('no OK frame')
    else if (!p.message.startsWith('invalid:')) problems.push(`message does not start with "invalid:": ${JSON.stringify(p.message)}`)
    const q = await query(relayA, [{ ids: [bad.id] }])
    if (q.events.length) problems.push('tampered event is queryable')
    return { ...p, event: bad, problems, ok: problems.length === 0 }
  })

  // 5b. content altered and id recomputed, old signature kept: bad signature
  await step('bad_signature', async () => {
    const bad = { ...fresh, tags: fresh.tags.map(t => [...t]), content: fresh.content + ' (re-hashed)' }
    bad.id = getEventHash(bad)
    const problems = []
    const p = await publish(relayX, bad)
    if (p.accepted !== false) problems.push(`event with bad signature not rejected (accepted=${p.accepted})`)
    if (p.message === null) problems.push('no OK frame')
    else if (!p.message.startsWith('invalid:')) problems.push(`message does not start with "invalid:": ${JSON.stringify(p.message)}`)
    const q = await query(relayA, [{ ids: [bad.id] }])
    if (q.events.length) problems.push('event with bad signature is queryable')
    return { ...p, event: bad, problems, ok: problems.length === 0 }
  })

  // 5c. tampered copy of an already stored event (same id): must not overwrite the stored one.
  // A relay may answer "duplicate:" (id already known) or "invalid:" (checked first); either is fine.
  await step('tampered_stored', async () => {
    const bad = { ...note, tags: note.tags.map(t => [...t]), content: note.content + ' (tampered)' }
    const problems = []
    const p = await publish(relayX, bad)
    if (p.message === null) problems.push('no OK frame')
    else if (!(p.message.startsWith('invalid:') || p.message.startsWith('duplicate:')))
      problems.push(`message starts with neither "invalid:" nor "duplicate:": ${JSON.stringify(p.message)}`)
    if (p.accepted === true && p.message !== null && !p.message.startsWith('duplicate:'))
      problems.push('tampered copy accepted')
    const q = await query(relayA, [{ ids: [note.id] }])
    const cp = checkContains(q, note, { exactly: 1 })
    problems.push(...cp.map(x => `after tampered copy: ${x}`))
    return { ...p, problems, ok: problems.length === 0 }
  })

  // 6. replaceable (kind 0): newer replaces older; an older one arriving late does not win.
  const base0 = now()
  const m1 = sign(skA, { kind: 0, created_at: base0 - 10, tags: [], content: JSON.stringify({ name: 'first', about: runTag }) })
  const m2 = sign(skA, { kind: 0, created_at: base0 - 5, tags: [], content: JSON.stringify({ name: 'second', about: runTag }) })
  const m0 = sign(skA, { kind: 0, created_at: base0 - 20, tags: [], content: JSON.stringify({ name: 'stale', about: runTag }) })
  await step('replaceable_kind0', async () => {
    const problems = []
    const p1 = await publish(relayA, m1)
    if (p1.accepted !== true) problems.push(`first metadata not accepted: ${p1.message}`)
    const p2 = await publish(relayA, m2)
    if (p2.accepted !== true) problems.push(`second metadata not accepted: ${p2.message}`)
    const q = await query(relayA, [{ kinds: [0], authors: [pkA] }])
    problems.push(...checkContains(q, m2, { exactly: 1, alsoNot: [m1] }))
    return {
      publishes: { first: p1, second: p2 },
      query: querySummary(q),
      expected_id: m2.id,
      problems,
      ok: problems.length === 0,
    }
  })

  // 6b. an older kind 0 arriving after the newer one must not replace it (NIP-01: only the
  // latest MUST be stored). The relay may answer OK true or false; only the query result counts.
  await step('replaceable_kind0_stale', async () => {
    const problems = []
    const p0 = await publish(relayA, m0)
    const q = await query(relayA, [{ kinds: [0], authors: [pkA] }])
    problems.push(...checkContains(q, m2, { exactly: 1, alsoNot: [m0, m1] }))
    return { publish: p0, query: querySummary(q), expected_id: m2.id, problems, ok: problems.length === 0 }
  })

  // 7. addressable (kind 30023): newest per (pubkey, kind, d)
  await step('addressable_kind30023', async () => {
    const base = now()
    const d = `article-${runTag}`
    const other = `other-${runTag}`
    const a1 = sign(skA, { kind: 30023, created_at: base - 10, tags: [['d', d], ['title', 'v1']], content: '# v1' })
    const a2 = sign(skA, { kind: 30023, created_at: base - 5, tags: [['d', d], ['title', 'v2']], content: '# v2' })
    const o1 = sign(skA, { kind: 30023, created_at: base - 8, tags: [['d', other], ['title', 'other']], content: '# other' })
    const problems = []
    const p1 = await publish(relayA, a1)
    if (p1.accepted !== true) problems.push(`first article not accepted: ${p1.message}`)
    const p2 = await publish(relayA, a2)
    if (p2.accepted !== true) problems.push(`second article not accepted: ${p2.message}`)
    const po = await publish(relayA, o1)
    if (po.accepted !== true) problems.push(`article with other d not accepted: ${po.message}`)
    const q = await query(relayA, [{ kinds: [30023], authors: [pkA], '#d': [d] }])
    problems.push(...checkContains(q, a2, { exactly: 1, alsoNot: [a1] }))
    const qAll = await query(relayA, [{ kinds: [30023], authors: [pkA] }])
    const all = checkContains(qAll, a2, { exactly: 2, alsoNot: [a1] })
    if (!qAll.events.some(e => e.id === o1.id)) all.push('article with the other d tag missing')
    problems.push(...all.map(x => `all articles: ${x}`))
    return {
      publishes: { first: p1, second: p2, other_d: po },
      query: querySummary(q),
      query_all: querySummary(qAll),
      expected_id: a2.id,
      problems,
      ok: problems.length === 0,
    }
  })

  for (const r of [relayA, relayL, relayX]) {
    try {
      r.close()
    } catch {}
  }
}

async function main() {
  const argv = process.argv.slice(2)
  let url = null
  let timeoutS = 90
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--timeout') timeoutS = Number(argv[++i])
    else if (!url) url = argv[i]
    else return emit(2, `unexpected argument: ${argv[i]}`)
  }
  if (!url || !/^wss?:\/\//.test(url)) return emit(2, 'usage: node client_scenario.mjs ws://HOST:PORT[/path] [--timeout SECONDS]')
  if (!(timeoutS > 0)) return emit(2, '--timeout must be a positive number')
  result.relay = url
  setTimeout(() => emit(3, `scenario did not finish within ${timeoutS} s`), timeoutS * 1000)
  await scenario(url)
  await sleep(50)
  emit(0)
}

main().catch(err => emit(2, err && err.message ? err.message : err))

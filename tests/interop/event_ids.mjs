#!/usr/bin/env node
// Event serialization / id / signing with nostr-tools, as an independent reference
// implementation for Koinon's own code (see tests/interop/test_interop.py).
//
// Usage:
//   node event_ids.mjs < templates.json
//       stdin:  JSON array of unsigned templates {pubkey, created_at, kind, tags, content}
//       stdout: JSON array, one object per template, in order:
//               {serialized, serialized_utf8_hex, id}
//               serialized          = nostr-tools serializeEvent() (the exact string hashed)
//               serialized_utf8_hex = hex of the UTF-8 bytes that are hashed
//               id                  = nostr-tools getEventHash()
//               A template nostr-tools refuses gives {error: "..."} in its place.
//
//   node event_ids.mjs --sign SECRET_HEX < templates.json
//       stdout: JSON array of signed events made by finalizeEvent() (the template's pubkey,
//               if any, is replaced by the key's public key, as finalizeEvent does).
//
// Exit codes: 0 ok, 2 usage or input error (a JSON {"error": ...} object is printed).

import { finalizeEvent, getEventHash, serializeEvent } from 'nostr-tools/pure'

const bytesToHex = bytes => Buffer.from(bytes).toString('hex')
const hexToBytes = hex => new Uint8Array(Buffer.from(hex, 'hex'))

function fail(message) {
  process.stdout.write(JSON.stringify({ error: message }) + '\n')
  process.exit(2)
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

function parseArgs(argv) {
  const args = { sign: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--sign') {
      const v = argv[++i]
      if (!v || !/^[0-9a-f]{64}$/i.test(v)) fail('--sign needs a 64-hex-digit secret key')
      args.sign = v.toLowerCase()
    } else if (a.startsWith('--sign=')) {
      const v = a.slice('--sign='.length)
      if (!/^[0-9a-f]{64}$/i.test(v)) fail('--sign needs a 64-hex-digit secret key')
      args.sign = v.toLowerCase()
    } else {
      fail(`unknown argument: ${a}`)
    }
  }
  return args
}

function pickTemplate(t) {
  // Only the NIP-01 fields; never let extra input keys leak into the result.
  return { pubkey: t.pubkey, created_at: t.created_at, kind: t.kind, tags: t.tags, content: t.content }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  let templates
  try {
    templates = JSON.parse(await readStdin())
  } catch (err) {
    fail(`stdin is not JSON: ${err.message}`)
  }
  if (!Array.isArray(templates)) fail('stdin must be a JSON array of event templates')

  const out = []
  if (args.sign) {
    const sk = hexToBytes(args.sign)
    for (const t of templates) {
      try {
        const tpl = pickTemplate(t)
        delete tpl.pubkey
        const ev = finalizeEvent(tpl, sk)
        out.push({
          id: ev.id,
          pubkey: ev.pubkey,
          created_at: ev.created_at,
          kind: ev.kind,
          tags: ev.tags,
          content: ev.content,
          sig: ev.sig,
        })
      } catch (err) {
        out.push({ error: String(err && err.message ? err.message : err) })
      }
    }
  } else {
    const enc = new TextEncoder()
    for (const t of templates) {
      try {
        const tpl = pickTemplate(t)
        const serialized = serializeEvent(tpl)
        out.push({
          serialized,
          serialized_utf8_hex: bytesToHex(enc.encode(serialized)),
          id: getEventHash(tpl),
        })
      } catch (err) {
        out.push({ error: String(err && err.message ? err.message : err) })
      }
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(err => fail(`unexpected: ${err && err.stack ? err.stack : err}`))

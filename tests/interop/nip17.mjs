#!/usr/bin/env node
// NIP-44 v2 payloads and NIP-17 gift-wrapped direct messages made and opened by nostr-tools, as an
// independent implementation for Koinon's koinon.messaging (see tests/messaging/test_nip17_interop.py).
//
// Usage: node nip17.mjs MODE < input.json ; stdout is one JSON value.
//   conversation-key  stdin [{secret, pubkey}]                    -> [{conversation_key}]
//   encrypt           stdin [{conversation_key, nonce, plaintext}] -> [{payload}]
//   decrypt           stdin [{conversation_key, payload}]          -> [{plaintext}]
//   wrap              stdin {secret, recipients: [pubkey], message, subject?, reply_to?}
//                     -> [gift wrap events] (nip17.wrapManyEvents: the sender's copy first)
//   unwrap            stdin {secret, wraps: [events]}              -> [{rumor}]
// All keys, nonces and ids are hex. An item nostr-tools refuses gives {error: "..."} in its place.
// Exit codes: 0 ok, 2 usage or input error (a JSON {"error": ...} object is printed).

import * as nip17 from 'nostr-tools/nip17'
import * as nip44 from 'nostr-tools/nip44'

const bytesToHex = bytes => Buffer.from(bytes).toString('hex')
const hexToBytes = hex => new Uint8Array(Buffer.from(hex, 'hex'))
const message = err => String(err && err.message ? err.message : err)

function fail(text) {
  process.stdout.write(JSON.stringify({ error: text }) + '\n')
  process.exit(2)
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

function each(items, fn) {
  if (!Array.isArray(items)) fail('stdin must be a JSON array')
  return items.map(item => {
    try {
      return fn(item)
    } catch (err) {
      return { error: message(err) }
    }
  })
}

const MODES = {
  'conversation-key': input =>
    each(input, ({ secret, pubkey }) => ({
      conversation_key: bytesToHex(nip44.v2.utils.getConversationKey(hexToBytes(secret), pubkey)),
    })),
  encrypt: input =>
    each(input, ({ conversation_key, nonce, plaintext }) => ({
      payload: nip44.v2.encrypt(plaintext, hexToBytes(conversation_key), hexToBytes(nonce)),
    })),
  decrypt: input =>
    each(input, ({ conversation_key, payload }) => ({
      plaintext: nip44.v2.decrypt(payload, hexToBytes(conversation_key)),
    })),
  wrap: ({ secret, recipients, message: text, subject, reply_to }) =>
    nip17.wrapManyEvents(
      hexToBytes(secret),
      recipients.map(publicKey => ({ publicKey })),
      text,
      subject,
      reply_to ? { eventId: reply_to } : undefined,
    ),
  unwrap: ({ secret, wraps }) =>
    each(wraps, wrap => ({ rumor: nip17.unwrapEvent(wrap, hexToBytes(secret)) })),
}

async function main() {
  const mode = process.argv[2]
  if (process.argv.length !== 3 || !(mode in MODES)) {
    fail(`usage: node nip17.mjs ${Object.keys(MODES).join('|')} < input.json`)
  }
  let input
  try {
    input = JSON.parse(await readStdin())
  } catch (err) {
    fail(`stdin is not JSON: ${message(err)}`)
  }
  let output
  try {
    output = MODES[mode](input)
  } catch (err) {
    fail(`${mode} failed: ${message(err)}`)
  }
  process.stdout.write(JSON.stringify(output) + '\n')
}

main().catch(err => fail(`unexpected: ${err && err.stack ? err.stack : err}`))

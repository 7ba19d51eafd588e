// @platformatic/kafka consumer group (classic protocol, only recent versions: JoinGroup v6+,
// SyncGroup v4+, Heartbeat v4, OffsetCommit v8+, OffsetFetch v8+ with the groups array, LeaveGroup
// v4+) against gregor's group coordinator. Two consumers in one group split a 3-partition topic,
// each record is seen exactly once, the autocommitted offsets are read back, and a new consumer in
// the same group after both left starts at the committed offsets.
// Stream mode 'committed' with fallbackMode 'earliest' is platformatic's auto.offset.reset=earliest
// (mode 'earliest' alone ignores committed offsets by design).
import { Producer, Consumer, stringSerializers, stringDeserializers } from '@platformatic/kafka'
import assert from 'node:assert/strict'

const broker = process.argv[2]
const topic = 'platformatic-group-' + Date.now()
const groupId = topic + '-g'
const PHASE_MS = 40000
const t0 = Date.now()
const log = msg => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`)
const streamOptions = () => ({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' })

async function waitFor (what, cond, ms = PHASE_MS) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function bounded (what, promise, ms = 20000) {
  let timer
  return Promise.race([promise, new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })]).finally(() => clearTimeout(timer))
}

function member (name) {
  const consumer = new Consumer({ clientId: 'gregor-interop-' + name, groupId, bootstrapBrokers: [broker],
                                  deserializers: stringDeserializers })
  const m = { name, consumer, stream: null, assignment: null, generation: null, got: [], error: null }
  consumer.on('consumer:group:join', p => {
    m.generation = p.generationId
    m.assignment = (p.assignments?.find(x => x.topic === topic)?.partitions ?? []).slice().sort()
    log(`${name} joined generation ${p.generationId}: member ${p.memberId} leader=${p.isLeader} partitions ${JSON.stringify(m.assignment)}`)
  })
  consumer.on('consumer:heartbeat:error', p => log(`${name} heartbeat error: ${p.error?.message ?? p.error}`))
  return m
}

async function start (m) {
  m.stream = await m.consumer.consume(streamOptions())
  m.stream.on('data', msg => m.got.push({ partition: msg.partition, offset: Number(msg.offset), value: msg.value }))
  m.stream.on('error', e => { m.error = e; log(`${m.name} stream error: ${e.stack ?? e}`) })
}

async function stop (m) {
  await bounded(m.name + ' stream close', m.stream.close()) // waits for the pending autocommit
  await bounded(m.name + ' consumer close', m.consumer.close()) // LeaveGroup
}

const checkErrors = ms => { for (const m of ms) if (m.error) throw new Error(`${m.name} failed: ${m.error.stack ?? m.error}`) }
const describe = e => [e.stack ?? String(e), ...(e.errors ?? []).map(x => '  caused by: ' + (x.stack ?? x))].join('\n')

const producer = new Producer({ clientId: 'gregor-interop', bootstrapBrokers: [broker], serializers: stringSerializers,
                                autocreateTopics: true, acks: -1, timeout: 10000, retries: 2 })
const all = []
let failed = false
try {
  const md = await producer.metadata({ topics: [topic] }) // auto-creates it (num.partitions=3)
  assert.equal(md.topics.get(topic).partitionsCount ?? md.topics.get(topic).partitions.length, 3)

  // Phase 1+2: platformatic reads from the positions it had before a rebalance (nothing is
  // committed yet), so the records are produced once both members are in one generation.
  const a = member('A')
  const b = member('B')
  all.push(a, b)
  await bounded('both members joining', Promise.all([start(a), start(b)]), PHASE_MS)
  await waitFor('both members assigned disjoint partitions covering 0..2 in one generation', () => {
    checkErrors(all)
    if (!a.assignment?.length || !b.assignment?.length || a.generation !== b.generation) return false
    const union = new Set([...a.assignment, ...b.assignment])
    return union.size === 3 && a.assignment.length + b.assignment.length === 3
  })
  log(`group stable: generation ${a.generation} A ${JSON.stringify(a.assignment)} B ${JSON.stringify(b.assignment)}`)

  const r = await producer.send({
    messages: Array.from({ length: 30 }, (_, i) => ({ topic, key: 'k' + i, value: 'r-' + i, partition: i % 3 }))
  })
  assert.deepEqual(r.offsets.map(x => [x.partition, Number(x.offset)]).sort(), [[0, 0], [1, 0], [2, 0]])

  const seen = () => new Set([...a.got, ...b.got].map(x => x.value))
  await waitFor('all 30 records', () => { checkErrors(all); return seen().size >= 30 })
  await new Promise(resolve => setTimeout(resolve, 1000)) // let any duplicate show up
  const values = [...a.got, ...b.got].map(x => x.value).sort()
  assert.deepEqual(values, Array.from({ length: 30 }, (_, i) => 'r-' + i).sort(), 'each of r-0..r-29 exactly once')
  const pa = new Set(a.got.map(x => x.partition))
  const pb = new Set(b.got.map(x => x.partition))
  assert.ok(a.got.length > 0 && b.got.length > 0, `both members should get records (A ${a.got.length}, B ${b.got.length})`)
  assert.ok([...pa].every(p => !pb.has(p)), `members read overlapping partitions: A ${[...pa]} B ${[...pb]}`)
  assert.deepEqual([...pa].sort(), a.assignment)
  assert.deepEqual([...pb].sort(), b.assignment)
  for (const m of [a, b]) {
    for (const p of m.assignment) {
      const offs = m.got.filter(x => x.partition === p).map(x => x.offset)
      assert.deepEqual(offs, Array.from({ length: 10 }, (_, i) => i), `${m.name} partition ${p} offsets in order`)
    }
  }
  log(`phase 2 ok: A read partitions ${[...pa]} (${a.got.length} records), B read ${[...pb]} (${b.got.length})`)

  // Phase 3: autocommit (after each fetched batch; close waits for it), then LeaveGroup.
  await stop(a)
  await stop(b)

  // Phase 4: new records; a new member in the same group starts at the committed offsets.
  const s = await producer.send({
    messages: Array.from({ length: 5 }, (_, i) => ({ topic, key: 'k' + i, value: 's-' + i, partition: i % 3 }))
  })
  assert.equal(s.offsets.length, 3)
  const c = member('C')
  all.push(c)
  const committed = await c.consumer.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2] }] })
  assert.deepEqual(committed.get(topic), [10n, 10n, 10n], 'committed offsets (OffsetFetch)')
  log(`phase 3 ok: committed ${committed.get(topic)}`)
  await bounded('C joining', start(c), PHASE_MS)
  await waitFor('the 5 new records', () => {
    checkErrors(all)
    return c.got.some(x => x.value.startsWith('r-')) || c.got.length >= 5
  })
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.deepEqual(c.assignment, [0, 1, 2])
  assert.deepEqual(c.got.map(x => x.value).sort(), ['s-0', 's-1', 's-2', 's-3', 's-4'],
    'new member should get exactly s-0..s-4 (committed offsets honoured); got ' + JSON.stringify(c.got))
  assert.deepEqual(c.got.map(x => [x.partition, x.offset]).sort(), [[0, 10], [0, 11], [1, 10], [1, 11], [2, 10]])
  await stop(c)
  log('phase 4 ok: new member read exactly s-0..s-4 from offset 10')
  console.log('platformatic-group ok')
} catch (e) {
  failed = true
  console.error('platformatic-group FAILED:', describe(e))
  for (const m of all) console.error(`${m.name}: generation ${m.generation} assignment ${JSON.stringify(m.assignment)} got ${JSON.stringify(m.got)}`)
} finally {
  for (const m of all) await bounded(m.name + ' close', m.consumer.close(true), 5000).catch(() => {})
  await bounded('producer close', producer.close(), 5000).catch(() => {})
}
process.exit(failed ? 1 : 0)

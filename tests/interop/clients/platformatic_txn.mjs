// @platformatic/kafka transactions against gregor (its own protocol code, only recent versions;
// against gregor it sends FindCoordinator v5 (key_type 1), InitProducerId v5, AddPartitionsToTxn v5
// (the batched layout), AddOffsetsToTxn v4, TxnOffsetCommit v4 (with the consumer's generation and
// member id), EndTxn v4, Produce v11, Fetch v16, ListOffsets v8 with isolation levels, OffsetFetch v9
// with require_stable; the versions seen are printed at the end).
//  1. A transactional producer commits, aborts and commits batches interleaved over the 2
//     partitions of a topic, then a committed "end-<p>" per partition; the last stable offset
//     (ListOffsets read_committed) stays at an open transaction's first record.
//  2. A read_committed consumer (platformatic's default) reads both partitions from the beginning
//     until both end records: exactly the committed values, in order; a read_uncommitted one sees
//     all. (One aborted transaction per partition on purpose: platformatic 1.35's read_committed
//     filter keys aborted ranges by producer id, so a second aborted transaction of the same
//     producer in one fetch response would show through; kafkajs_txn.mjs covers two.)
//  3. Offsets in transactions, platformatic's way: a group member's consumed message goes into the
//     transaction (addConsumer + addOffset = AddOffsetsToTxn + TxnOffsetCommit); committed moves
//     the group's offset, aborted does not, an open one is UNSTABLE_OFFSET_COMMIT for require_stable.
//  4. Zombie fencing: B inits with A's transactional id while A's transaction is open, which aborts
//     it; A's produce then fails with INVALID_PRODUCER_EPOCH, A's commit with PRODUCER_FENCED
//     (EndTxn v4); B's transaction commits.
//     platformatic sends InitProducerId with producer id/epoch 0/0 unless told otherwise, which a
//     Kafka coordinator reads as "my current id is 0" (KIP-360) and answers PRODUCER_FENCED once it
//     knows another id or epoch; so both producers here say -1/-1 (a fresh instance), as the Java
//     client does. The 0/0 default is checked too: it is refused PRODUCER_FENCED.
import { Admin, Producer, Consumer, stringSerializers, stringDeserializers, FetchIsolationLevels } from '@platformatic/kafka'
import { tracingChannel } from 'node:diagnostics_channel'
import assert from 'node:assert/strict'

if (typeof Producer.prototype.beginTransaction !== 'function') {
  console.log('this @platformatic/kafka has no transactions (Producer.beginTransaction): skipped')
  process.exit(77)
}

const broker = process.argv[2]
const topic = 'platformatic-txn-' + Date.now()
const outTopic = topic + '-out'
const fenceTopic = topic + '-fence'
const PHASE_MS = 30000
const t0 = Date.now()
const log = msg => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`)
const common = { clientId: 'gregor-interop-txn', bootstrapBrokers: [broker], timeout: 10000, retries: 3, retryDelay: 200 }

// Every request platformatic sends passes the connections:api tracing channel with its key and version.
const apiNames = { 0: 'Produce', 1: 'Fetch', 2: 'ListOffsets', 3: 'Metadata', 8: 'OffsetCommit', 9: 'OffsetFetch', 10: 'FindCoordinator', 11: 'JoinGroup', 12: 'Heartbeat', 13: 'LeaveGroup', 14: 'SyncGroup', 18: 'ApiVersions', 19: 'CreateTopics', 22: 'InitProducerId', 24: 'AddPartitionsToTxn', 25: 'AddOffsetsToTxn', 26: 'EndTxn', 28: 'TxnOffsetCommit' }
const sent = new Map()
const fetchesOf = new Map()
const noop = () => {}
tracingChannel('plt:kafka:connections:api').subscribe({
  start (c) {
    if (c.operation !== 'send') return
    const k = `${apiNames[c.apiKey] ?? 'key'}(${c.apiKey})`
    if (!sent.has(k)) sent.set(k, new Set())
    sent.get(k).add(c.apiVersion)
  },
  end: noop, asyncStart: noop, asyncEnd: noop, error: noop
})
tracingChannel('plt:kafka:consumer:fetches').subscribe({
  start: noop, end: noop, asyncStart: noop, error: noop,
  asyncEnd (c) { fetchesOf.set(c.client, (fetchesOf.get(c.client) ?? 0) + 1) }
})

async function waitFor (what, cond, ms = PHASE_MS) {
  const end = Date.now() + ms
  for (;;) {
    if (await cond()) return
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

// Every Kafka error id (apiId, e.g. PRODUCER_FENCED) in an error and the errors it wraps.
const errorIds = (e, seen = new Set()) => {
  if (!e || typeof e !== 'object' || seen.has(e)) return []
  seen.add(e)
  return [e.apiId, ...(e.errors ?? []).flatMap(x => errorIds(x, seen)), ...errorIds(e.cause, seen)].filter(Boolean)
}
async function expectError (what, promise, id) {
  let error = null
  try { await bounded(what, promise) } catch (e) { error = e }
  assert.ok(error, `${what} should have failed with ${id}`)
  const ids = errorIds(error)
  assert.ok(ids.includes(id), `${what} failed, but not with ${id}: ${error.stack} ids ${JSON.stringify(ids)}`)
  log(`${what} failed as expected: ${error.message} (ids ${JSON.stringify(ids)})`)
}

const txProducer = (transactionalId, extra = {}) =>
  new Producer({ ...common, serializers: stringSerializers, idempotent: true, transactionalId, ...extra })
const fresh = { producerId: -1n, producerEpoch: -1 }

function reader (name, isolationLevel, topics, extra = {}) {
  const consumer = new Consumer({ ...common, groupId: `${topic}-${name}`, deserializers: stringDeserializers, isolationLevel,
                                  maxWaitTime: 200, ...extra })
  const r = { name, consumer, topics, stream: null, got: [], error: null }
  r.values = (t, p) => r.got.filter(x => x.topic === t && (p === undefined || x.partition === p)).map(x => x.value)
  r.has = (t, v) => r.got.some(x => x.topic === t && x.value === v)
  r.find = (t, v) => r.got.find(x => x.topic === t && x.value === v)?.message
  r.fetches = () => fetchesOf.get(consumer) ?? 0
  return r
}

async function startReader (r) {
  r.stream = await r.consumer.consume({ topics: r.topics, mode: 'earliest' })
  r.stream.on('data', m => r.got.push({ topic: m.topic, partition: m.partition, offset: Number(m.offset), value: m.value, message: m }))
  r.stream.on('error', e => { r.error = e; log(`${r.name} stream error: ${e.stack ?? e}`) })
}

const checkErrors = rs => { for (const r of rs) if (r.error) throw new Error(`${r.name} failed: ${r.error.stack ?? r.error}`) }

const admin = new Admin(common)
const plain = new Producer({ ...common, serializers: stringSerializers, idempotent: true })
const producer = txProducer(topic + '-tx')
const zombieA = txProducer(topic + '-fenced', fresh)
const zombieB = txProducer(topic + '-fenced', fresh)
const defaults = txProducer(topic + '-fenced')
const readers = []
let failed = false
try {
  await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 })
  await admin.createTopics({ topics: [outTopic, fenceTopic], partitions: 1, replicas: 1 })
  const lastOffsets = async (name, isolationLevel) => {
    const r = await admin.listOffsets({ topics: [{ name, partitions: [{ partitionIndex: 0, timestamp: -1n }, { partitionIndex: 1, timestamp: -1n }].slice(0, name === topic ? 2 : 1) }], isolationLevel })
    return r[0].partitions.map(x => [x.partitionIndex, Number(x.offset)]).sort()
  }

  // 1. committed, aborted, committed, then the end records; 3 records per partition and
  // transaction, then its marker: transaction k starts at offset 4k.
  const plan = [['c1', true], ['a2', false], ['c3', true]]
  const expectedCommitted = [[], []]
  const expectedAll = [[], []]
  for (const [k, [tag, commit]] of plan.entries()) {
    const txn = await producer.beginTransaction()
    for (let i = 0; i < 3; i++) {
      for (const p of [0, 1]) {
        const value = `${tag}-p${p}-${i}`
        const r = await txn.send({ messages: [{ topic, key: 'k' + p, value, partition: p }] })
        assert.deepEqual(r.offsets.map(x => [x.partition, Number(x.offset)]), [[p, 4 * k + i]], `offset of ${value}`)
        expectedAll[p].push(value)
        if (commit) expectedCommitted[p].push(value)
      }
      if (k === 1 && i === 0) {
        // The last stable offset stops at the open transaction's first record (offset 4).
        assert.deepEqual(await lastOffsets(topic, FetchIsolationLevels.READ_COMMITTED), [[0, 4], [1, 4]], 'last stable offset during a transaction')
        assert.deepEqual(await lastOffsets(topic, FetchIsolationLevels.READ_UNCOMMITTED), [[0, 5], [1, 5]], 'high watermark during a transaction')
      }
    }
    await (commit ? txn.commit() : txn.abort())
    assert.equal(txn.completed, true)
  }
  const endTxn = await producer.beginTransaction()
  const endSent = await endTxn.send({ messages: [0, 1].map(p => ({ topic, key: 'k' + p, value: 'end-' + p, partition: p })) })
  assert.deepEqual(endSent.offsets.map(x => [x.partition, Number(x.offset)]).sort(), [[0, 12], [1, 12]], 'offsets of the end records')
  for (const p of [0, 1]) { expectedCommitted[p].push('end-' + p); expectedAll[p].push('end-' + p) }
  await endTxn.commit()
  assert.deepEqual(await lastOffsets(topic, FetchIsolationLevels.READ_COMMITTED), [[0, 14], [1, 14]], 'last stable offset after the end transaction: 10 records and 4 markers')
  log(`phase 1 ok: 4 transactions (3 committed, 1 aborted) written, producer id ${producer.producerId} epoch ${producer.producerEpoch}`)

  // 2. read_committed and read_uncommitted from the beginning until both end records.
  const rc = reader('read-committed', FetchIsolationLevels.READ_COMMITTED, [topic, outTopic, fenceTopic])
  const ru = reader('read-uncommitted', FetchIsolationLevels.READ_UNCOMMITTED, [topic, outTopic, fenceTopic])
  // The member whose consumed messages go into transactions (phase 3): no autocommit.
  const member = reader('member', FetchIsolationLevels.READ_COMMITTED, [topic], { autocommit: false })
  readers.push(rc, ru, member)
  await bounded('readers joining', Promise.all(readers.map(startReader)), PHASE_MS)
  await waitFor('the readers to see end-0 and end-1', () => {
    checkErrors(readers)
    return readers.every(r => r.has(topic, 'end-0') && r.has(topic, 'end-1'))
  })
  for (const p of [0, 1]) {
    assert.deepEqual(rc.values(topic, p), expectedCommitted[p], `read_committed partition ${p}`)
    assert.deepEqual(member.values(topic, p), expectedCommitted[p], `read_committed (member) partition ${p}`)
    assert.deepEqual(ru.values(topic, p), expectedAll[p], `read_uncommitted partition ${p}`)
    const offsets = rc.got.filter(x => x.topic === topic && x.partition === p).map(x => x.offset)
    assert.deepEqual(offsets, [0, 1, 2, 8, 9, 10, 12], `read_committed offsets of partition ${p}`)
  }
  log(`phase 2 ok: read_committed got ${rc.values(topic).length} records (exactly the committed ones, in order), read_uncommitted ${ru.values(topic).length}`)

  // 3. The member's consumed offsets in transactions.
  const group = member.consumer.groupId
  // Partitions named: with topics null (all partitions) Kafka applies require_stable too, but
  // gregor does not yet (it answers the last committed offset with no error).
  const committedOffsets = async (requireStable = false) => {
    const r = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }] }], requireStable })
    const t = r[0].topics.find(x => x.name === topic)
    return (t?.partitions ?? []).map(x => [x.partitionIndex, Number(x.committedOffset)]).sort()
  }
  const initial = await committedOffsets()
  assert.ok(initial.every(([, o]) => o === -1), `no committed offsets yet: ${JSON.stringify(initial)}`)
  const putOffset = async (txn, value, p) => {
    await txn.addConsumer(member.consumer)
    await txn.addOffset(member.find(topic, value))
  }
  let txn = await producer.beginTransaction()
  await txn.send({ messages: [{ topic: outTopic, value: 'out-1' }] })
  await putOffset(txn, 'c1-p0-2') // offset 2: the group goes on at 3
  await putOffset(txn, 'c3-p1-0') // offset 8: the group goes on at 9
  await txn.commit()
  await waitFor('committed offsets 3/9 after the commit', async () => JSON.stringify(await committedOffsets()) === '[[0,3],[1,9]]', 10000)
  txn = await producer.beginTransaction()
  await txn.send({ messages: [{ topic: outTopic, value: 'out-2' }] })
  await putOffset(txn, 'end-0')
  await expectError('OffsetFetch require_stable with the offsets of an open transaction', committedOffsets(true), 'UNSTABLE_OFFSET_COMMIT')
  assert.deepEqual(await committedOffsets(), [[0, 3], [1, 9]], 'offsets of an open transaction must not be visible')
  await txn.abort()
  assert.deepEqual(await committedOffsets(), [[0, 3], [1, 9]], 'an aborted transaction must not move the committed offsets')
  txn = await producer.beginTransaction()
  // AddPartitionsToTxn is refused (CONCURRENT_TRANSACTIONS, retried) until the abort has completed.
  await txn.send({ messages: [{ topic: outTopic, value: 'out-3' }] })
  assert.deepEqual(await committedOffsets(true), [[0, 3], [1, 9]], 'the completed abort must not have moved the committed offsets')
  await putOffset(txn, 'end-0')
  await putOffset(txn, 'end-1')
  await txn.commit()
  // EndTxn answers once the decision is durable; the markers (which make the offsets committed)
  // follow, so until then require_stable may still say UNSTABLE_OFFSET_COMMIT.
  await waitFor('committed offsets 13/13 after the commit', async () => {
    try {
      return JSON.stringify(await committedOffsets(true)) === '[[0,13],[1,13]]'
    } catch (e) {
      if (errorIds(e).includes('UNSTABLE_OFFSET_COMMIT')) return false
      throw e
    }
  }, 10000)
  await waitFor('the readers to see out-3', () => { checkErrors(readers); return rc.has(outTopic, 'out-3') && ru.has(outTopic, 'out-3') })
  assert.deepEqual(rc.values(outTopic), ['out-1', 'out-3'], 'read_committed of the output topic')
  assert.deepEqual(ru.values(outTopic), ['out-1', 'out-2', 'out-3'], 'read_uncommitted of the output topic')
  log('phase 3 ok: committed offsets 3/9, the aborted end-0 never showed (unstable while open), then 13/13')

  // 4. Zombie fencing.
  const txnA = await zombieA.beginTransaction()
  await txnA.send({ messages: [{ topic: fenceTopic, value: 'zombie-1' }] })
  // A non-transactional record behind A's open transaction: read_uncommitted sees it at once,
  // read_committed not before the transaction ends (the last stable offset stays at zombie-1).
  await plain.send({ messages: [{ topic: fenceTopic, value: 'plain-1' }] })
  assert.deepEqual(await lastOffsets(fenceTopic, FetchIsolationLevels.READ_COMMITTED), [[0, 0]], 'last stable offset behind A')
  await waitFor('read_uncommitted to see plain-1', () => { checkErrors(readers); return ru.has(fenceTopic, 'plain-1') })
  const fetchesBefore = rc.fetches()
  await waitFor('read_committed to fetch 3 more times', () => { checkErrors(readers); return rc.fetches() >= fetchesBefore + 3 })
  assert.deepEqual(rc.values(fenceTopic), [], 'read_committed must see nothing behind an open transaction')
  // platformatic's default InitProducerId (producer id/epoch 0/0, not this id's): refused.
  await expectError('an InitProducerId claiming producer id 0 epoch 0', defaults.beginTransaction(), 'PRODUCER_FENCED')
  const txnB = await zombieB.beginTransaction() // InitProducerId -1/-1: A's transaction is aborted, A fenced
  assert.equal(zombieB.producerId, zombieA.producerId)
  assert.equal(zombieB.producerEpoch, zombieA.producerEpoch + 2, 'B: A\'s epoch, +1 by the fence, +1 by its own init')
  log(`B initialised with the same transactional id: producer id ${zombieB.producerId}, epoch ${zombieA.producerEpoch} -> ${zombieB.producerEpoch}`)
  await expectError("the zombie's produce", txnA.send({ messages: [{ topic: fenceTopic, value: 'zombie-2' }] }), 'INVALID_PRODUCER_EPOCH')
  await txnB.send({ messages: [{ topic: fenceTopic, value: 'b-1' }] })
  await txnB.commit()
  await expectError("the zombie's commit", txnA.commit(), 'PRODUCER_FENCED')
  await waitFor('the readers to see b-1', () => { checkErrors(readers); return rc.has(fenceTopic, 'b-1') && ru.has(fenceTopic, 'b-1') })
  assert.deepEqual(rc.values(fenceTopic), ['plain-1', 'b-1'], 'read_committed of the fenced topic')
  assert.deepEqual(ru.values(fenceTopic), ['zombie-1', 'plain-1', 'b-1'], 'read_uncommitted of the fenced topic')
  log('phase 4 ok: B fenced A; A\'s produce and commit failed; only plain-1 and b-1 are committed')

  for (const r of readers) {
    const keys = r.got.map(x => `${x.topic}/${x.partition}/${x.offset}`)
    assert.equal(new Set(keys).size, keys.length, `${r.name} read a record twice`)
  }
  console.log('platformatic-txn ok')
} catch (e) {
  failed = true
  console.error('platformatic-txn FAILED:', e.stack ?? e)
  for (const e2 of e.errors ?? []) console.error('  caused by:', e2.stack ?? e2)
  for (const r of readers) console.error(`${r.name} got ${JSON.stringify(r.got.map(x => `${x.topic.slice(topic.length) || 'main'}/${x.partition}@${x.offset}=${x.value}`))}`)
} finally {
  for (const r of readers) {
    if (r.stream) await bounded(r.name + ' stream close', r.stream.close(), 5000).catch(() => {})
    await bounded(r.name + ' close', r.consumer.close(true), 5000).catch(() => {})
  }
  for (const [name, p] of [['producer', producer], ['A', zombieA], ['B', zombieB], ['defaults', defaults], ['plain', plain], ['admin', admin]]) {
    await bounded(name + ' close', p.close(), 5000).catch(() => {})
  }
  console.log('platformatic sent: ' + [...sent].map(([k, v]) => `${k} v${[...v].sort((a, b) => a - b).join('/')}`).join(', '))
}
process.exit(failed ? 1 : 0)

// kafkajs 2.2.4 transactions against gregor (its own protocol code; against gregor it sends
// FindCoordinator v2 (key_type 1), InitProducerId v1, AddPartitionsToTxn v1, AddOffsetsToTxn v1,
// TxnOffsetCommit v1, EndTxn v1, Produce v7 with transactional batches, Fetch v11 read_committed
// and read_uncommitted; the versions seen are printed at the end).
//  1. A transactional producer commits, aborts, commits, aborts, commits batches interleaved over
//     the 2 partitions of a topic, then a committed "end-<p>" per partition; every record and
//     marker lands at the expected offset.
//  2. A read_committed consumer (kafkajs's default) reads both partitions from the beginning until
//     both end records: exactly the committed values, in order; a read_uncommitted one sees all.
//  3. sendOffsets in a committed transaction moves the group's committed offsets (admin
//     fetchOffsets); in an aborted one they do not move; pending ones stay invisible until commit.
//  4. Zombie fencing: while producer A has an open transaction (its record holds the last stable
//     offset: a later plain record stays invisible to read_committed), B inits with the same
//     transactional id, which aborts A's transaction; A's produce and A's commit then fail with
//     INVALID_PRODUCER_EPOCH (EndTxn v1 gets it instead of PRODUCER_FENCED, which kafkajs 2.2.4 does
//     not know); B's transaction commits.
import pkg from 'kafkajs'
import assert from 'node:assert/strict'
const { Kafka, logLevel } = pkg

const broker = process.argv[2]
const topic = 'kafkajs-txn-' + Date.now()
const outTopic = topic + '-out'
const fenceTopic = topic + '-fence'
const offsetsGroup = topic + '-offsets'
const PHASE_MS = 30000
const t0 = Date.now()
const log = msg => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`)

// kafkajs logs every request at debug level as "Request Name(key: K, version: V)": those are
// collected (which version of each API kafkajs really sent) and error responses counted; other
// errors are printed.
const sent = new Map()
const errorResponses = new Map()
const logCreator = () => ({ level, log: entry }) => {
  const req = /^Request (\w+)\(key: (\d+), version: (\d+)\)/.exec(entry.message)
  if (req) {
    const k = `${req[1]}(${req[2]})`
    if (!sent.has(k)) sent.set(k, new Set())
    sent.get(k).add(Number(req[3]))
    return
  }
  if (level > logLevel.ERROR) return
  const resp = /^Response (\w+\(key: \d+, version: \d+\))/.exec(entry.message)
  if (resp) {
    const k = `${resp[1]}: ${entry.error}`
    errorResponses.set(k, (errorResponses.get(k) ?? 0) + 1)
    return
  }
  console.error(`[kafkajs] ${entry.message}${entry.error ? ': ' + entry.error : ''}`)
}
const kafka = new Kafka({ clientId: 'gregor-interop', brokers: [broker], logLevel: logLevel.DEBUG, logCreator })

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

// The protocol error types along an error's cause chain (kafkajs wraps them in retriers).
function errorTypes (e) {
  const out = []
  for (let x = e, n = 0; x && n < 10; x = x.cause ?? x.originalError, n++) out.push(`${x.name}${x.type ? ':' + x.type : ''}`)
  return out
}

async function expectRejects (what, promise, type) {
  let error = null
  try { await bounded(what, promise) } catch (e) { error = e }
  assert.ok(error, `${what} should have failed with ${type}`)
  const types = errorTypes(error)
  assert.ok(types.some(t => t.endsWith(':' + type)), `${what} failed, but not with ${type}: ${types.join(' <- ')} ${error.stack}`)
  log(`${what} failed as expected: ${types.join(' <- ')} (${error.message})`)
  return error
}

const txProducer = transactionalId => kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 })

function reader (name, readUncommitted) {
  const consumer = kafka.consumer({ groupId: `${topic}-${name}`, readUncommitted, maxWaitTimeInMs: 200 })
  const r = { name, consumer, got: [], fetches: 0, crash: null }
  consumer.on(consumer.events.FETCH, () => { r.fetches++ })
  consumer.on(consumer.events.CRASH, e => { r.crash = e.payload.error; log(`${name} crashed: ${e.payload.error}`) })
  r.values = (t, p) => r.got.filter(x => x.topic === t && (p === undefined || x.partition === p)).map(x => x.value)
  r.has = (t, v) => r.got.some(x => x.topic === t && x.value === v)
  return r
}

async function startReader (r) {
  await r.consumer.connect()
  await r.consumer.subscribe({ topics: [topic, outTopic, fenceTopic], fromBeginning: true })
  await r.consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      r.got.push({ topic: t, partition, offset: Number(message.offset), value: message.value.toString() })
    }
  })
}

const checkCrash = rs => { for (const r of rs) if (r.crash) throw new Error(`${r.name} crashed: ${r.crash.stack ?? r.crash}`) }

const admin = kafka.admin()
const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
const producer = txProducer(topic + '-tx')
const zombieA = txProducer(topic + '-fenced')
const zombieB = txProducer(topic + '-fenced')
const readers = []
let failed = false
try {
  await admin.connect()
  assert.equal(await admin.createTopics({
    topics: [{ topic, numPartitions: 2 }, { topic: outTopic, numPartitions: 1 }, { topic: fenceTopic, numPartitions: 1 }],
    waitForLeaders: true
  }), true)

  // 1. committed, aborted, committed, aborted, committed transactions, then the end records.
  await producer.connect()
  const plan = [['c1', true], ['a2', false], ['c3', true], ['a4', false], ['c5', true]]
  const expectedCommitted = [[], []]
  const expectedAll = [[], []]
  for (const [k, [tag, commit]] of plan.entries()) {
    const txn = await producer.transaction()
    for (let i = 0; i < 3; i++) {
      for (const p of [0, 1]) {
        const value = `${tag}-p${p}-${i}`
        const r = await txn.send({ topic, acks: -1, messages: [{ key: 'k' + p, value, partition: p }] })
        // 3 records per partition and transaction, then its marker: transaction k starts at 4k.
        assert.deepEqual(r.map(x => [x.partition, x.errorCode, x.baseOffset]), [[p, 0, String(4 * k + i)]], `offset of ${value}`)
        expectedAll[p].push(value)
        if (commit) expectedCommitted[p].push(value)
      }
    }
    await (commit ? txn.commit() : txn.abort())
    assert.equal(txn.isActive(), false)
  }
  const endTxn = await producer.transaction()
  for (const p of [0, 1]) {
    const r = await endTxn.send({ topic, acks: -1, messages: [{ key: 'k' + p, value: 'end-' + p, partition: p }] })
    assert.deepEqual(r.map(x => [x.partition, x.errorCode, x.baseOffset]), [[p, 0, '20']], `offset of end-${p}`)
    expectedCommitted[p].push('end-' + p)
    expectedAll[p].push('end-' + p)
  }
  await endTxn.commit()
  const ends = await admin.fetchTopicOffsets(topic)
  assert.deepEqual(ends.map(x => [x.partition, x.high]).sort(), [[0, '22'], [1, '22']], 'log end per partition: 16 records and 6 markers')
  log(`phase 1 ok: 5 transactions (3 committed, 2 aborted) and the end records written; log end ${JSON.stringify(ends)}`)

  // 2. read_committed and read_uncommitted from the beginning until both end records.
  const rc = reader('read-committed', false)
  const ru = reader('read-uncommitted', true)
  readers.push(rc, ru)
  await Promise.all([startReader(rc), startReader(ru)])
  await waitFor('both readers to see end-0 and end-1', () => {
    checkCrash(readers)
    return [rc, ru].every(r => r.has(topic, 'end-0') && r.has(topic, 'end-1'))
  })
  for (const p of [0, 1]) {
    assert.deepEqual(rc.values(topic, p), expectedCommitted[p], `read_committed partition ${p}`)
    assert.deepEqual(ru.values(topic, p), expectedAll[p], `read_uncommitted partition ${p}`)
    const committedOffsets = rc.got.filter(x => x.topic === topic && x.partition === p).map(x => x.offset)
    assert.deepEqual(committedOffsets, [0, 1, 2, 8, 9, 10, 16, 17, 18, 20], `read_committed offsets of partition ${p}`)
  }
  log(`phase 2 ok: read_committed got ${rc.values(topic).length} records (exactly the committed ones, in order), read_uncommitted ${ru.values(topic).length}`)

  // 3. Offsets in transactions (the consume-transform-produce pattern; kafkajs sends
  // AddOffsetsToTxn to the transaction coordinator, TxnOffsetCommit to the group coordinator).
  const committedOffsets = async () => {
    const r = await admin.fetchOffsets({ groupId: offsetsGroup, topics: [topic] })
    return r[0].partitions.map(x => [x.partition, x.offset]).sort()
  }
  const offsetsOf = (a, b) => [{ topic, partitions: [{ partition: 0, offset: a }, { partition: 1, offset: b }] }]
  assert.deepEqual(await committedOffsets(), [[0, '-1'], [1, '-1']], 'no committed offsets yet')
  let txn = await producer.transaction()
  await txn.send({ topic: outTopic, acks: -1, messages: [{ value: 'out-1' }] })
  await txn.sendOffsets({ consumerGroupId: offsetsGroup, topics: offsetsOf('10', '21') })
  await txn.commit()
  await waitFor('committed offsets 10/21 after the commit', async () => JSON.stringify(await committedOffsets()) === JSON.stringify([[0, '10'], [1, '21']]), 10000)
  txn = await producer.transaction()
  await txn.send({ topic: outTopic, acks: -1, messages: [{ value: 'out-2' }] })
  await txn.sendOffsets({ consumerGroupId: offsetsGroup, topics: offsetsOf('3', '4') })
  await txn.abort()
  assert.deepEqual(await committedOffsets(), [[0, '10'], [1, '21']], 'an aborted transaction must not move the committed offsets')
  txn = await producer.transaction()
  // AddPartitionsToTxn is refused (CONCURRENT_TRANSACTIONS, retried) until the abort has completed,
  // so once this send returned the abort markers are written everywhere.
  await txn.send({ topic: outTopic, acks: -1, messages: [{ value: 'out-3' }] })
  assert.deepEqual(await committedOffsets(), [[0, '10'], [1, '21']], 'the completed abort must not have moved the committed offsets')
  await txn.sendOffsets({ consumerGroupId: offsetsGroup, topics: offsetsOf('22', '22') })
  assert.deepEqual(await committedOffsets(), [[0, '10'], [1, '21']], 'offsets of an open transaction must not be visible')
  await txn.commit()
  await waitFor('committed offsets 22/22 after the commit', async () => JSON.stringify(await committedOffsets()) === JSON.stringify([[0, '22'], [1, '22']]), 10000)
  await waitFor('both readers to see out-3', () => { checkCrash(readers); return rc.has(outTopic, 'out-3') && ru.has(outTopic, 'out-3') })
  assert.deepEqual(rc.values(outTopic), ['out-1', 'out-3'], 'read_committed of the output topic')
  assert.deepEqual(ru.values(outTopic), ['out-1', 'out-2', 'out-3'], 'read_uncommitted of the output topic')
  log('phase 3 ok: sendOffsets committed 10/21, the aborted 3/4 never showed, the open 22/22 only after its commit')

  // 4. Zombie fencing.
  await zombieA.connect()
  await plain.connect()
  const txnA = await zombieA.transaction()
  await txnA.send({ topic: fenceTopic, acks: -1, messages: [{ value: 'zombie-1' }] })
  // A non-transactional record behind A's open transaction: read_uncommitted sees it at once,
  // read_committed not before the transaction ends (the last stable offset stays at zombie-1).
  await plain.send({ topic: fenceTopic, acks: -1, messages: [{ value: 'plain-1' }] })
  await waitFor('read_uncommitted to see plain-1', () => { checkCrash(readers); return ru.has(fenceTopic, 'plain-1') })
  const fetchesBefore = rc.fetches
  await waitFor('read_committed to fetch 3 more times', () => { checkCrash(readers); return rc.fetches >= fetchesBefore + 3 })
  assert.deepEqual(rc.values(fenceTopic), [], 'read_committed must see nothing behind an open transaction')
  await zombieB.connect()
  const txnB = await zombieB.transaction() // InitProducerId: A's transaction is aborted, A fenced
  log('B initialised with the same transactional id')
  await expectRejects("the zombie's produce", txnA.send({ topic: fenceTopic, acks: -1, messages: [{ value: 'zombie-2' }] }), 'INVALID_PRODUCER_EPOCH')
  await txnB.send({ topic: fenceTopic, acks: -1, messages: [{ value: 'b-1' }] })
  await txnB.commit()
  const fenced = await expectRejects("the zombie's commit", txnA.commit(), 'INVALID_PRODUCER_EPOCH')
  assert.equal(fenced.name, 'KafkaJSProtocolError')
  assert.equal(fenced.code, 47)
  await waitFor('both readers to see b-1', () => { checkCrash(readers); return rc.has(fenceTopic, 'b-1') && ru.has(fenceTopic, 'b-1') })
  assert.deepEqual(rc.values(fenceTopic), ['plain-1', 'b-1'], 'read_committed of the fenced topic')
  assert.deepEqual(ru.values(fenceTopic), ['zombie-1', 'plain-1', 'b-1'], 'read_uncommitted of the fenced topic')
  log('phase 4 ok: B fenced A; A\'s produce and commit failed; only plain-1 and b-1 are committed')

  // Nothing read twice.
  for (const r of readers) {
    const keys = r.got.map(x => `${x.topic}/${x.partition}/${x.offset}`)
    assert.equal(new Set(keys).size, keys.length, `${r.name} read a record twice`)
  }
  console.log('kafkajs-txn ok')
} catch (e) {
  failed = true
  console.error('kafkajs-txn FAILED:', e.stack ?? e)
  for (const r of readers) console.error(`${r.name} got ${JSON.stringify(r.got.map(x => `${x.topic.slice(topic.length) || 'main'}/${x.partition}@${x.offset}=${x.value}`))}`)
} finally {
  for (const r of readers) await bounded(r.name + ' disconnect', r.consumer.disconnect(), 5000).catch(() => {})
  for (const [name, p] of [['producer', producer], ['A', zombieA], ['B', zombieB], ['plain', plain]]) {
    await bounded(name + ' disconnect', p.disconnect(), 5000).catch(() => {})
  }
  await bounded('admin disconnect', admin.disconnect(), 5000).catch(() => {})
  console.log('kafkajs sent: ' + [...sent].map(([k, v]) => `${k} v${[...v].sort((a, b) => a - b).join('/')}`).join(', '))
  if (errorResponses.size) console.log('error responses kafkajs got: ' + [...errorResponses].map(([k, n]) => `${k} x${n}`).join('; '))
}
process.exit(failed ? 1 : 0)

// kafkajs 2.2.4 consumer group against gregor's group coordinator (its own protocol code:
// FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetFetch v4, OffsetCommit v5,
// LeaveGroup v3). Two consumers in one group split a 3-partition topic, each record is seen exactly
// once, the offsets kafkajs auto-commits after each batch are read back, and a third consumer in the
// same group after both left starts at the committed offsets.
import pkg from 'kafkajs'
import assert from 'node:assert/strict'
const { Kafka, logLevel } = pkg

const broker = process.argv[2]
const topic = 'kafkajs-group-' + Date.now()
const groupId = topic + '-g'
const PHASE_MS = 40000
const kafka = new Kafka({ clientId: 'gregor-interop', brokers: [broker], logLevel: logLevel.ERROR })
const t0 = Date.now()
const log = msg => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`)

async function waitFor (what, cond, ms = PHASE_MS) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

// Bounds a client call that could hang (disconnect, leave) so the script always finishes.
function bounded (what, promise, ms = 20000) {
  let timer
  return Promise.race([promise, new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })]).finally(() => clearTimeout(timer))
}

function member (name) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 })
  const m = { name, consumer, assignment: null, got: [], crash: null }
  consumer.on(consumer.events.GROUP_JOIN, e => {
    m.assignment = (e.payload.memberAssignment[topic] ?? []).slice().sort()
    log(`${name} joined: member ${e.payload.memberId} leader=${e.payload.isLeader} partitions ${JSON.stringify(m.assignment)}`)
  })
  consumer.on(consumer.events.CRASH, e => { m.crash = e.payload.error; log(`${name} crashed: ${e.payload.error}`) })
  return m
}

async function start (m) {
  await m.consumer.connect()
  await m.consumer.subscribe({ topic, fromBeginning: true })
  await m.consumer.run({
    eachMessage: async ({ partition, message }) => {
      m.got.push({ partition, offset: Number(message.offset), value: message.value.toString() })
    }
  })
}

const checkCrash = ms => { for (const m of ms) if (m.crash) throw new Error(`${m.name} crashed: ${m.crash.stack ?? m.crash}`) }

const producer = kafka.producer({ allowAutoTopicCreation: true })
const admin = kafka.admin()
const all = []
let failed = false
try {
  await producer.connect()
  await admin.connect()

  // Phase 1+2: both members assigned (kafkajs would redeliver records read before a rebalance that
  // it had not committed yet, so the records are produced once the group is stable).
  const a = member('A')
  const b = member('B')
  all.push(a, b)
  await Promise.all([start(a), start(b)])
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.equal(md.topics[0].partitions.length, 3, 'topic auto-created by the consumers should have 3 partitions')
  await waitFor('both members assigned disjoint partitions covering 0..2', () => {
    checkCrash(all)
    if (!a.assignment?.length || !b.assignment?.length) return false
    const union = new Set([...a.assignment, ...b.assignment])
    return union.size === 3 && a.assignment.length + b.assignment.length === 3
  })
  log(`group stable: A ${JSON.stringify(a.assignment)} B ${JSON.stringify(b.assignment)}`)

  const r = await producer.send({
    topic, acks: -1,
    messages: Array.from({ length: 30 }, (_, i) => ({ key: 'k' + i, value: 'r-' + i, partition: i % 3 }))
  })
  assert.deepEqual(r.map(x => [x.partition, x.errorCode, x.baseOffset]).sort(), [[0, 0, '0'], [1, 0, '0'], [2, 0, '0']])

  const seen = () => new Set([...a.got, ...b.got].map(x => x.value))
  await waitFor('all 30 records', () => { checkCrash(all); return seen().size >= 30 })
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

  // Phase 3: kafkajs committed after each batch; disconnecting stops the runner and leaves the group.
  await bounded('A disconnect', a.consumer.disconnect())
  await bounded('B disconnect', b.consumer.disconnect())
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
  const byPartition = committed[0].partitions.map(x => [x.partition, x.offset]).sort()
  assert.deepEqual(byPartition, [[0, '10'], [1, '10'], [2, '10']], 'committed offsets (OffsetFetch via admin)')
  log(`phase 3 ok: committed ${JSON.stringify(byPartition)}`)

  // Phase 4: new records, a new member in the same group starts at the committed offsets.
  const s = await producer.send({
    topic, acks: -1,
    messages: Array.from({ length: 5 }, (_, i) => ({ key: 'k' + i, value: 's-' + i, partition: i % 3 }))
  })
  assert.equal(s.length, 3)
  const c = member('C')
  all.push(c)
  await start(c)
  await waitFor('the 5 new records', () => {
    checkCrash(all)
    return c.got.some(x => x.value.startsWith('r-')) || c.got.length >= 5
  })
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.deepEqual(c.assignment, [0, 1, 2])
  assert.deepEqual(c.got.map(x => x.value).sort(), ['s-0', 's-1', 's-2', 's-3', 's-4'],
    'new member should get exactly s-0..s-4 (committed offsets honoured); got ' + JSON.stringify(c.got))
  assert.deepEqual(c.got.map(x => [x.partition, x.offset]).sort(), [[0, 10], [0, 11], [1, 10], [1, 11], [2, 10]])
  await bounded('C disconnect', c.consumer.disconnect())
  log('phase 4 ok: new member read exactly s-0..s-4 from offset 10')
  console.log('kafkajs-group ok')
} catch (e) {
  failed = true
  console.error('kafkajs-group FAILED:', e.stack ?? e)
  for (const m of all) console.error(`${m.name}: assignment ${JSON.stringify(m.assignment)} got ${JSON.stringify(m.got)}`)
} finally {
  for (const m of all) await bounded(m.name + ' disconnect', m.consumer.disconnect(), 5000).catch(() => {})
  await bounded('producer disconnect', producer.disconnect(), 5000).catch(() => {})
  await bounded('admin disconnect', admin.disconnect(), 5000).catch(() => {})
}
process.exit(failed ? 1 : 0)

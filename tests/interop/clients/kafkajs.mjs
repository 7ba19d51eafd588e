// kafkajs 2.2.4 (its own protocol code, old versions: Produce v7, Fetch v11, ListOffsets v2) against
// gregor: idempotent acks=all produce, offsets and offsets by timestamp, and a gzip-compressed
// produce (kafkajs's own gzip framing), which gregor decompresses and validates record by record.
import pkg from 'kafkajs'
import assert from 'node:assert/strict'
const { Kafka, logLevel, CompressionTypes } = pkg

const broker = process.argv[2]
const topic = 'kafkajs-' + Date.now()
const kafka = new Kafka({ clientId: 'gregor-interop', brokers: [broker], logLevel: logLevel.ERROR })
const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: true })
await producer.connect()
const before = Date.now() - 1000
const r = await producer.send({ topic, acks: -1, messages: [{ key: 'a', value: 'A' }, { key: 'b', value: 'B' }, { key: 'c', value: 'C' }] })
assert.equal(r[0].errorCode, 0)
assert.equal(r[0].baseOffset, '0')
const gz = await producer.send({
  topic: topic + '-gzip', acks: -1, compression: CompressionTypes.GZIP,
  messages: Array.from({ length: 20 }, (_, i) => ({ key: 'k' + i, value: ('compressed value ' + i + ' ').repeat(8) }))
})
assert.equal(gz[0].errorCode, 0)
assert.equal(gz[0].baseOffset, '0')
await producer.disconnect()

const admin = kafka.admin()
await admin.connect()
const offsets = await admin.fetchTopicOffsets(topic)
assert.equal(offsets[0].high, '3')
assert.equal(offsets[0].low, '0')
const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, before)
assert.equal(byTime[0].offset, '0')
const gzOffsets = await admin.fetchTopicOffsets(topic + '-gzip')
assert.equal(gzOffsets[0].high, '20')
await admin.disconnect()
console.log('kafkajs ok', JSON.stringify(offsets))

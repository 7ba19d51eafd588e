// @platformatic/kafka (implements only recent versions: Metadata v12, Produce v11, ListOffsets v9+...)
// against gregor: metadata with topic ids, an idempotent acks=all produce, offsets read back.
import { Producer, stringSerializers } from '@platformatic/kafka'
import assert from 'node:assert/strict'

const broker = process.argv[2]
const topic = 'platformatic-' + Date.now()
const producer = new Producer({ clientId: 'gregor-interop', bootstrapBrokers: [broker], serializers: stringSerializers,
                                autocreateTopics: true, acks: -1, timeout: 10000, retries: 2 })
try {
  const md = await producer.metadata({ topics: [topic] })
  assert.equal(md.topics.get(topic).partitionsCount ?? md.topics.get(topic).partitions.length, 1)
  const sent = []
  for (let i = 0; i < 3; i++) {
    const r = await producer.send({ messages: [{ topic, key: 'k' + i, value: 'v' + i, partition: 0 }] })
    sent.push(Number(r.offsets[0].offset))
  }
  assert.deepEqual(sent, [0, 1, 2])
  console.log('platformatic ok', JSON.stringify(sent))
} finally {
  await producer.close()
}

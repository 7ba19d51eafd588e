// kafkajs 2.2.4 admin client (CreateTopics v3, DeleteTopics v1, CreatePartitions v1, DescribeConfigs
// v2, AlterConfigs v1, DeleteRecords v1 against gregor's ranges) against gregor: create a topic with
// partitions and a config, list it, describe the override, alter it, grow it, delete records,
// delete it; and the errors kafkajs surfaces (existing topic, shrinking partitions).
import pkg from 'kafkajs'
import assert from 'node:assert/strict'
const { Kafka, logLevel, ConfigResourceTypes, ConfigSource } = pkg

const broker = process.argv[2]
const topic = 'kafkajs-admin-' + Date.now()
const kafka = new Kafka({ clientId: 'gregor-interop-admin', brokers: [broker], logLevel: logLevel.NOTHING,
                          connectionTimeout: 5000, requestTimeout: 15000, retry: { retries: 3 } })

let step = 'start'
// Every kafkajs error type in an error and what it wraps (KafkaJSAggregateError, retry wrappers).
const errorTypes = (e, seen = new Set()) => {
  if (!e || typeof e !== 'object' || seen.has(e)) return []
  seen.add(e)
  return [e.type, ...(e.errors ?? []).flatMap(x => errorTypes(x, seen)),
          ...(e.partitions ?? []).flatMap(p => errorTypes(p.error, seen)),
          ...errorTypes(e.cause, seen), ...errorTypes(e.originalError, seen), ...errorTypes(e.retriableError, seen)]
    .filter(Boolean)
}
const expectError = async (promise, type) => {
  let err
  try { await promise } catch (e) { err = e }
  assert.ok(err, `${step}: expected a ${type} error, the call succeeded`)
  assert.ok(errorTypes(err).includes(type), `${step}: expected ${type}, got ${err.name}: ${err.message} ` +
            `(types ${JSON.stringify(errorTypes(err))})`)
}
const configsOf = async (name, configNames) => {
  const r = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name, configNames }],
                                          includeSynonyms: false })
  assert.equal(r.resources.length, 1, `${step}: one resource described`)
  const res = r.resources[0]
  assert.equal(res.errorCode, 0, `${step}: describe error ${res.errorCode} ${res.errorMessage}`)
  assert.equal(res.resourceName, name)
  return new Map(res.configEntries.map(c => [c.configName, c]))
}
const partitionCount = async name => {
  const md = await admin.fetchTopicMetadata({ topics: [name] })
  const t = md.topics.find(t => t.name === name)
  assert.ok(t, `${step}: ${name} missing from metadata`)
  return t.partitions.length
}
// Bounded wait for a condition that may take a metadata round to show.
const eventually = async (what, f, ms = 10000) => {
  const until = Date.now() + ms
  let last
  while (Date.now() < until) {
    last = await f()
    if (last === true) return
    await new Promise(r => setTimeout(r, 200))
  }
  assert.fail(`${step}: ${what} (last: ${JSON.stringify(last)})`)
}

const admin = kafka.admin()
try {
  await admin.connect()

  step = 'createTopics'
  const created = await admin.createTopics({
    timeout: 10000,
    topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '123456' }] }]
  })
  assert.equal(created, true, `${step}: createTopics returned ${created}`)

  step = 'listTopics'
  assert.ok((await admin.listTopics()).includes(topic), `${step}: ${topic} not listed`)
  step = 'metadata after create'
  assert.equal(await partitionCount(topic), 3)

  step = 'createTopics existing'
  // kafkajs reports TOPIC_ALREADY_EXISTS (and nothing else) as `false`.
  const again = await admin.createTopics({ timeout: 10000, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })
  assert.equal(again, false, `${step}: expected false (TOPIC_ALREADY_EXISTS), got ${again}`)
  step = 'createTopics invalid name'
  await expectError(admin.createTopics({ timeout: 10000, topics: [{ topic: 'bad/name', numPartitions: 1, replicationFactor: 1 }] }),
                    'INVALID_TOPIC_EXCEPTION')

  step = 'createTopics validateOnly'
  const validated = await admin.createTopics({ validateOnly: true, waitForLeaders: false, timeout: 10000,
                                               topics: [{ topic: topic + '-validated', numPartitions: 2, replicationFactor: 1 }] })
  assert.equal(validated, true, `${step}: createTopics returned ${validated}`)
  assert.ok(!(await admin.listTopics()).includes(topic + '-validated'), `${step}: validateOnly created the topic`)

  step = 'describeConfigs'
  let cfg = await configsOf(topic, []) // kafkajs sends [] as null: all configs
  const rm = cfg.get('retention.ms')
  assert.ok(rm, `${step}: retention.ms missing`)
  assert.equal(rm.configValue, '123456', `${step}: retention.ms`)
  assert.equal(rm.configSource, ConfigSource.TOPIC_CONFIG, `${step}: retention.ms source`)
  assert.equal(rm.isDefault, false, `${step}: retention.ms isDefault`)
  const cp = cfg.get('cleanup.policy')
  assert.ok(cp, `${step}: cleanup.policy missing`)
  assert.equal(cp.configValue, 'delete')
  assert.equal(cp.configSource, ConfigSource.DEFAULT_CONFIG, `${step}: cleanup.policy source`)
  cfg = await configsOf(topic, ['retention.ms'])
  assert.deepEqual([...cfg.keys()], ['retention.ms'], `${step}: only the key asked for`)

  step = 'alterConfigs'
  const altered = await admin.alterConfigs({ validateOnly: false, resources: [{
    type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '999' }] }] })
  assert.equal(altered.resources[0].errorCode, 0)
  cfg = await configsOf(topic, ['retention.ms'])
  assert.equal(cfg.get('retention.ms')?.configValue, '999', `${step}: retention.ms after alter`)
  assert.equal(cfg.get('retention.ms')?.configSource, ConfigSource.TOPIC_CONFIG)
  step = 'alterConfigs unknown key'
  await expectError(admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
                                                       configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
                    'INVALID_CONFIG')

  step = 'createPartitions'
  await admin.createPartitions({ timeout: 10000, topicPartitions: [{ topic, count: 5 }] })
  await eventually('5 partitions in metadata', async () => { const n = await partitionCount(topic); return n === 5 || n })
  step = 'createPartitions shrink'
  await expectError(admin.createPartitions({ timeout: 10000, topicPartitions: [{ topic, count: 2 }] }), 'INVALID_PARTITIONS')

  step = 'produce'
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const sent = await producer.send({ topic, acks: -1,
    messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k' + i, value: 'v' + i, partition: 0 })) })
  assert.equal(sent[0].baseOffset, '0')
  await producer.disconnect()

  step = 'deleteTopicRecords'
  let offsets = await admin.fetchTopicOffsets(topic)
  assert.equal(offsets.length, 5, `${step}: partitions in fetchTopicOffsets`)
  let p0 = offsets.find(p => p.partition === 0)
  assert.ok(p0.low === '0' && p0.high === '10', `${step}: watermarks before ${JSON.stringify(p0)}`)
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] })
  offsets = await admin.fetchTopicOffsets(topic)
  p0 = offsets.find(p => p.partition === 0)
  assert.equal(p0.low, '4', `${step}: low watermark ${JSON.stringify(p0)}`)
  assert.equal(p0.high, '10', `${step}: high watermark ${JSON.stringify(p0)}`)
  step = 'deleteTopicRecords beyond the high watermark'
  await expectError(admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '11' }] }), 'OFFSET_OUT_OF_RANGE')

  step = 'deleteTopics'
  await admin.deleteTopics({ topics: [topic], timeout: 10000 })
  await eventually(`${topic} gone from listTopics`, async () => !(await admin.listTopics()).includes(topic))
  step = 'describeConfigs deleted'
  await expectError(configsOf(topic, []), 'UNKNOWN_TOPIC_OR_PARTITION')

  console.log('kafkajs-admin ok')
} catch (e) {
  console.error(`kafkajs-admin FAILED at step '${step}': ${e.stack ?? e}`)
  if (e.errors) console.error('  wrapped:', JSON.stringify(errorTypes(e)))
  process.exitCode = 1
} finally {
  await admin.disconnect()
}

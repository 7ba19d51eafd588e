// @platformatic/kafka admin client (only recent versions: CreateTopics v7, DeleteTopics v6,
// CreatePartitions v3, DescribeConfigs v4, AlterConfigs v2, IncrementalAlterConfigs v1,
// DeleteRecords v2, ListOffsets v9+) against gregor: create a topic with partitions and a config,
// list it, describe the override, its source, synonyms, type and documentation, alter it (whole-set
// and incremental), grow it, delete records, delete it; the errors it surfaces (existing topic,
// shrinking partitions); and DescribeCluster v0/v1 through its protocol functions (its Admin has
// no describeCluster).
import { Admin, Producer, Connection, stringSerializers, ConfigResourceTypes, ConfigSources, ConfigTypes,
         IncrementalAlterConfigOperationTypes, describeClusterV0, describeClusterV1 } from '@platformatic/kafka'
import assert from 'node:assert/strict'

const broker = process.argv[2]
const topic = 'platformatic-admin-' + Date.now()
const common = { clientId: 'gregor-interop-admin', bootstrapBrokers: [broker], timeout: 10000, retries: 2, retryDelay: 250 }
const admin = new Admin(common)

let step = 'start'
// Every Kafka error id (apiId, e.g. TOPIC_ALREADY_EXISTS) in an error and the errors it wraps.
const errorIds = (e, seen = new Set()) => {
  if (!e || typeof e !== 'object' || seen.has(e)) return []
  seen.add(e)
  return [e.apiId, ...(e.errors ?? []).flatMap(x => errorIds(x, seen)), ...errorIds(e.cause, seen)].filter(Boolean)
}
const describeError = e => `${e?.name}: ${e?.message} (ids ${JSON.stringify(errorIds(e))})`
const expectError = async (promise, id) => {
  let err
  try { await promise } catch (e) { err = e }
  assert.ok(err, `${step}: expected a ${id} error, the call succeeded`)
  assert.ok(errorIds(err).includes(id), `${step}: expected ${id}, got ${describeError(err)}`)
}
const configsOf = async (name, configurationKeys, extra = {}) => {
  const r = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: name,
                                                        configurationKeys }], ...extra })
  assert.equal(r.length, 1, `${step}: one resource described`)
  assert.equal(r[0].resourceName, name)
  return new Map(r[0].configs.map(c => [c.name, c]))
}
const expectConfig = (configs, name, value, source) => {
  const c = configs.get(name)
  assert.ok(c, `${step}: ${name} missing from DescribeConfigs`)
  if (value !== undefined) assert.equal(c.value, value, `${step}: ${name} value`)
  assert.equal(c.configSource, source, `${step}: ${name} source (value ${c.value})`)
}
const partitionCount = async name => {
  const md = await admin.metadata({ topics: [name], forceUpdate: true })
  const t = md.topics.get(name)
  assert.ok(t, `${step}: ${name} missing from metadata`)
  return t.partitionsCount ?? t.partitions.length
}
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
const alter = configs => admin.alterConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs }] })
const incremental = configs =>
  admin.incrementalAlterConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs }] })

try {
  step = 'createTopics'
  const created = await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1,
                                             configs: [{ name: 'retention.ms', value: '123456' }] })
  assert.equal(created.length, 1)
  assert.equal(created[0].name, topic)
  assert.equal(created[0].partitions, 3, `${step}: NumPartitions in the v7 response`)
  assert.equal(created[0].replicas, 1, `${step}: ReplicationFactor in the v7 response`)
  assert.notEqual(created[0].id, '00000000-0000-0000-0000-000000000000', `${step}: TopicId in the v7 response`)
  assert.equal(created[0].configuration['retention.ms'], '123456', `${step}: Configs in the v7 response`)

  step = 'listTopics'
  assert.ok((await admin.listTopics()).includes(topic), `${step}: ${topic} not listed`)
  step = 'metadata after create'
  assert.equal(await partitionCount(topic), 3)

  step = 'createTopics existing'
  await expectError(admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }), 'TOPIC_ALREADY_EXISTS')

  step = 'describeConfigs'
  let cfg = await configsOf(topic, null)
  expectConfig(cfg, 'retention.ms', '123456', ConfigSources.TOPIC_CONFIG)
  expectConfig(cfg, 'cleanup.policy', 'delete', ConfigSources.DEFAULT_CONFIG)
  assert.equal(cfg.get('retention.ms').readOnly, false)
  cfg = await configsOf(topic, ['retention.ms'])
  assert.deepEqual([...cfg.keys()], ['retention.ms'], `${step}: only the key asked for`)
  const plain = cfg.get('retention.ms')
  assert.deepEqual(plain.synonyms, [], `${step}: synonyms without includeSynonyms`)
  assert.equal(plain.documentation, null, `${step}: documentation without includeDocumentation`)
  assert.equal(plain.configType, ConfigTypes.LONG, `${step}: retention.ms ConfigType`)
  step = 'describeConfigs with synonyms and documentation'
  cfg = await configsOf(topic, ['retention.ms', 'cleanup.policy'], { includeSynonyms: true, includeDocumentation: true })
  const full = cfg.get('retention.ms')
  assert.ok(full.synonyms.length >= 1, `${step}: no synonyms`)
  assert.deepEqual(full.synonyms[0], { name: 'retention.ms', value: '123456', source: ConfigSources.TOPIC_CONFIG },
                   `${step}: first synonym is the topic's own value`)
  assert.ok(full.synonyms.slice(1).every(x => x.name.startsWith('log.') && x.source !== ConfigSources.TOPIC_CONFIG),
            `${step}: broker-level synonyms ${JSON.stringify(full.synonyms)}`)
  assert.ok(typeof full.documentation === 'string' && full.documentation.length > 0, `${step}: documentation`)
  assert.equal(cfg.get('cleanup.policy')?.configType, ConfigTypes.LIST, `${step}: cleanup.policy ConfigType`)

  step = 'alterConfigs'
  await alter([{ name: 'retention.ms', value: '999' }])
  cfg = await configsOf(topic, null)
  expectConfig(cfg, 'retention.ms', '999', ConfigSources.TOPIC_CONFIG)

  step = 'incrementalAlterConfigs set'
  await incremental([{ name: 'segment.bytes', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1048576' }])
  cfg = await configsOf(topic, null)
  expectConfig(cfg, 'segment.bytes', '1048576', ConfigSources.TOPIC_CONFIG)
  expectConfig(cfg, 'retention.ms', '999', ConfigSources.TOPIC_CONFIG) // untouched
  step = 'incrementalAlterConfigs delete'
  await incremental([{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.DELETE }])
  cfg = await configsOf(topic, null)
  assert.notEqual(cfg.get('retention.ms')?.configSource, ConfigSources.TOPIC_CONFIG, `${step}: retention.ms still a topic config`)
  expectConfig(cfg, 'segment.bytes', '1048576', ConfigSources.TOPIC_CONFIG)
  step = 'alterConfigs replaces the whole set'
  await alter([{ name: 'retention.ms', value: '5000' }])
  cfg = await configsOf(topic, null)
  expectConfig(cfg, 'retention.ms', '5000', ConfigSources.TOPIC_CONFIG)
  assert.notEqual(cfg.get('segment.bytes')?.configSource, ConfigSources.TOPIC_CONFIG, `${step}: segment.bytes kept`)
  step = 'alterConfigs unknown key'
  await expectError(alter([{ name: 'no.such.config', value: '1' }]), 'INVALID_CONFIG')

  step = 'createPartitions'
  await admin.createPartitions({ topics: [{ name: topic, count: 5 }] })
  await eventually('5 partitions in metadata', async () => { const n = await partitionCount(topic); return n === 5 || n })
  step = 'createPartitions shrink'
  await expectError(admin.createPartitions({ topics: [{ name: topic, count: 2 }] }), 'INVALID_PARTITIONS')

  step = 'produce'
  const producer = new Producer({ ...common, serializers: stringSerializers, autocreateTopics: false, acks: -1 })
  try {
    for (let i = 0; i < 10; i++) {
      const r = await producer.send({ messages: [{ topic, key: 'k' + i, value: 'v' + i, partition: 0 }] })
      assert.equal(Number(r.offsets[0].offset), i)
    }
  } finally {
    await producer.close()
  }

  step = 'deleteRecords'
  const deleted = await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 4n }] }] })
  assert.equal(deleted[0].partitions[0].lowWatermark, 4n, `${step}: ${JSON.stringify(deleted, (k, v) => typeof v === 'bigint' ? String(v) : v)}`)
  step = 'listOffsets earliest'
  const earliest = await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }] })
  assert.equal(earliest[0].partitions[0].offset, 4n, `${step}: earliest offset`)
  step = 'deleteRecords beyond the high watermark'
  await expectError(admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 11n }] }] }),
                    'OFFSET_OUT_OF_RANGE')

  step = 'deleteTopics'
  await admin.deleteTopics({ topics: [topic] })
  await eventually(`${topic} gone from listTopics`, async () => !(await admin.listTopics()).includes(topic))
  step = 'describeConfigs deleted'
  await expectError(configsOf(topic, null), 'UNKNOWN_TOPIC_OR_PARTITION')

  step = 'DescribeCluster'
  const md = await admin.metadata({ topics: [], forceUpdate: true })
  const [host, port] = [broker.slice(0, broker.lastIndexOf(':')), Number(broker.slice(broker.lastIndexOf(':') + 1))]
  const conn = new Connection('gregor-interop-admin')
  try {
    await conn.connect(host, port)
    for (const [v, call] of [[0, () => describeClusterV0.api.async(conn, false, 1)],
                             [1, () => describeClusterV1.api.async(conn, false, 1)]]) {
      step = `DescribeCluster v${v}`
      const c = await call()
      assert.equal(c.errorCode, 0)
      assert.equal(c.clusterId, md.id, `${step}: ClusterId as in Metadata`)
      assert.equal(c.brokers.length, 1, `${step}: brokers ${JSON.stringify(c.brokers)}`)
      assert.deepEqual([c.brokers[0].host, c.brokers[0].port], [host, port], `${step}: broker endpoint`)
      assert.equal(c.controllerId, c.brokers[0].brokerId, `${step}: ControllerId`)
      assert.equal(c.clusterAuthorizedOperations, -2147483648, `${step}: ClusterAuthorizedOperations not requested`)
      if (v === 1) assert.equal(c.endpointType, 1, `${step}: EndpointType`)
    }
    step = 'DescribeCluster v1 controllers endpoint'
    await expectError(describeClusterV1.api.async(conn, false, 2), 'MISMATCHED_ENDPOINT_TYPE')
    step = 'DescribeCluster v1 unknown endpoint type'
    await expectError(describeClusterV1.api.async(conn, false, 3), 'UNSUPPORTED_ENDPOINT_TYPE')
  } finally {
    await conn.close()
  }

  console.log('platformatic-admin ok')
} catch (e) {
  console.error(`platformatic-admin FAILED at step '${step}': ${describeError(e)}\n${e?.stack ?? ''}`)
  process.exitCode = 1
} finally {
  await admin.close()
}

// Sends calls with the real @segment/analytics-node, as send_node.mjs does, and records every
// attempt the SDK made: when it sent it and when the answer came (ms on one monotonic clock),
// the status, the Retry-After and the messageIds of its batch. Reads {settings, calls} as JSON
// on stdin; prints one JSON line: {attempts, delivered, errors}.
import { performance } from 'node:perf_hooks'
import { Analytics } from '@segment/analytics-node'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { settings, calls, flushTimeoutMs } = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const analytics = new Analytics(settings)
// Each attempt's body is its own (sentAt changes with every attempt): it pairs the request
// with its response, also when batches are in flight at once.
const sent = new Map()
const attempts = []
const errors = []
let delivered = 0
const messageIds = (body) => JSON.parse(body).batch.map((event) => event.messageId)
analytics.on('track', () => delivered++)
analytics.on('http_request', (request) => sent.set(request.body, performance.now()))
analytics.on('http_response', (response) => {
  attempts.push({
    messageIds: messageIds(response.body),
    sentAt: sent.get(response.body),
    answeredAt: performance.now(),
    status: response.status,
    retryAfter: response.headers['retry-after'] ?? null,
  })
})
analytics.on('error', (error) => errors.push(`${error.code}: ${error.reason}`))

for (const call of calls) analytics.track(call)
await analytics.closeAndFlush({ timeout: flushTimeoutMs })

process.stdout.write(JSON.stringify({ attempts, delivered, errors }) + '\n')

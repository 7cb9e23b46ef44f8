// Sends calls with the real @segment/analytics-node, as a Node service would, then closes and
// flushes. Reads {settings, calls} as JSON on stdin: settings go to `new Analytics(...)`
// unchanged, each call is {userId, event, properties, messageId} for analytics.track.
// Prints one JSON line: the status of every HTTP response, how many calls were delivered (a
// flush that times out leaves some undelivered) and every delivery error.
import { Analytics } from '@segment/analytics-node'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { settings, calls, flushTimeoutMs } = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const analytics = new Analytics(settings)
const statuses = []
const errors = []
let delivered = 0
analytics.on('track', () => delivered++)
analytics.on('http_response', (response) => statuses.push(response.status))
analytics.on('error', (error) => errors.push(`${error.code}: ${error.reason}`))

for (const call of calls) analytics.track(call)
await analytics.closeAndFlush({ timeout: flushTimeoutMs })

process.stdout.write(JSON.stringify({ statuses, delivered, errors }) + '\n')

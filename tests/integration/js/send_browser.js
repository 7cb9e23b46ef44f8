// What a shop page does with the real @segment/analytics-next (its UMD build, AnalyticsNext):
// load it with the collector as the API host and settings given inline (so nothing is fetched
// from Segment's CDN), identify the shopper, track each call and wait for its delivery.
// Returns the messageId of each call, in order.
window.sendToCollector = async ({ writeKey, apiHost, userId, calls }) => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    {
      writeKey,
      // What Segment's CDN would return for a source with only the Segment.io destination;
      // no remote metrics (they would go to apiHost + "/m").
      cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey } }, metrics: { sampleRate: 0 } },
    },
    {
      integrations: { 'Segment.io': { apiHost, protocol: 'http' } },
      // Nothing left in localStorage for a later page to resend.
      disableClientPersistence: true,
    }
  )
  await analytics.identify(userId)
  const messageIds = []
  for (const call of calls) {
    const context = await analytics.track(call.event, call.properties)
    messageIds.push(context.event.messageId)
  }
  return messageIds
}
